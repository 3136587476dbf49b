"""PriceHawk operator console: `pricehawk console` (or `streamlit run ops_console/app.py`).

An `st.App` around the console's script (`main.py`: sign-in and the pages, run per browser
session). `streamlit run` finds `app` below and serves it with uvicorn; the lifespan hook
runs once when the process boots — before, and whether or not, anyone opens the console — and
starts the metrics server (/metrics with pricehawk_console_*, /healthz, /readyz) on
PRICEHAWK_CONSOLE_METRICS_PORT, so Prometheus can scrape an idle console.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st

SCRIPT = Path(__file__).resolve().parent / "main.py"


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Process start: the metrics server; process end: stop it."""
    # Imported here: the data layer's cached resources need the runtime st.App has started.
    from ops_console import data

    server = data.start_metrics()
    try:
        yield
    finally:
        if server is not None:
            server.close()


app = st.App(str(SCRIPT), lifespan=lifespan)
