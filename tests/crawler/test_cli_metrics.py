"""`pricehawk crawl`'s metrics server: which port, and a liveness the crawl really beats."""

from __future__ import annotations

import time

import pytest

from pricehawk import metrics
from pricehawk.cli.crawl import _plan, metrics_port_for
from pricehawk.settings import Settings


@pytest.mark.parametrize(
    ("requested", "configured", "distributed", "port"),
    [
        (None, 9400, True, 9400),  # a long-lived worker follows PRICEHAWK_METRICS_PORT
        (None, 9400, False, -1),  # one cycle (demo, DAG subprocesses): none unless asked
        (9500, 9400, False, 9500),
        (0, 9400, True, 0),
        (-1, 9400, True, -1),
    ],
)
def test_metrics_port_for(
    requested: int | None, configured: int, distributed: bool, port: int
) -> None:
    assert metrics_port_for(requested, configured, distributed) == port


def test_beat_reaches_the_liveness_through_scrapys_settings_copy(settings: Settings) -> None:
    live = metrics.Liveness(max_silence_s=60)
    live._last = time.monotonic() - 3600  # silent for an hour: /healthz would fail
    assert live()[0] is False
    scrapy_settings, _, _ = _plan(
        settings,
        retailers=[],
        cycle_key="c1",
        distributed=False,
        worker_id="",
        linger_s=0.0,
        extra=None,
        liveness=live,
    )
    # every Crawler deep-copies its settings; the run tracker calls the copy's beat
    scrapy_settings.copy().get("PRICEHAWK_BEAT")()
    assert live()[0] is True
