"""Scrape-health rules and the `pricehawk extract` contract (run in-process)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pricehawk.cli import extract as cli
from pricehawk.extraction import extract
from pricehawk.extraction.health import PageSignals, classify, health_for_status
from pricehawk.settings import load_settings

PAGES = Path(__file__).parent / "pages"


def signals(title: str = "", text: str = "", markers: str = "", password: bool = False,
            scripts: int = 0, url: str = "https://x.example.com/p") -> PageSignals:  # fmt: skip
    return PageSignals(title, text, markers, password, scripts, url)


LONG = "Product description. " * 100


@pytest.mark.parametrize(
    ("sig", "has_data", "want"),
    [
        (signals("Just a moment...", "Checking your browser"), False, "captcha"),
        (signals("Shop", LONG, markers="/cdn-cgi/challenge-platform/x"), True, "captcha"),
        (signals("Access Denied", "You don't have permission to access"), False, "blocked"),
        (signals("Shop", "Sorry, you have been blocked"), False, "blocked"),
        (signals("Shop", LONG, markers="g-recaptcha"), True, "ok"),
        (signals("Shop", "short", markers="g-recaptcha"), False, "captcha"),
        (signals("Sign in", "Email Password", password=True), False, "login_wall"),
        (signals("Shop", LONG, password=True), True, "ok"),
        (signals("Before you continue", "Accept all"), False, "consent"),
        (signals("Shop", LONG + " accept all cookies"), False, "ok"),
        (signals("Page not found", "Sorry"), False, "error_page"),
        (signals("App", "", markers='<div id="root"></div>', scripts=2), False, "empty_shell"),
        (signals("Forbidden Planet Poster", LONG), True, "ok"),
        (signals("Blog", LONG), False, "ok"),
    ],
)
def test_classify(sig: PageSignals, has_data: bool, want: str) -> None:
    assert classify(sig, has_product_data=has_data) == want


@pytest.mark.parametrize(
    ("status", "want"),
    [(None, "ok"), (200, "ok"), (301, "ok"), (401, "login_wall"), (403, "blocked"),
     (429, "blocked"), (404, "error_page"), (410, "error_page"), (503, "error_page")],
)  # fmt: skip
def test_health_for_status(status: int | None, want: str) -> None:
    assert health_for_status(status) == want


def test_error_status_never_yields_a_price() -> None:
    html = (PAGES / "jsonld_basic.html").read_bytes()
    r = extract(html, "https://shop.example.com/products/trail-runner-2", status=404)
    assert r.price is None and r.health == "error_page"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["extract", *argv])
    code = args.func(args, load_settings({}))
    out, err = capsys.readouterr()
    return code, out, err


KEYS = ["title", "price", "list_price", "currency", "availability", "sku", "gtin", "mpn",
        "brand", "image", "url", "method", "ambiguous", "health"]  # fmt: skip


def test_cli_prints_the_contract_and_exits_0_with_a_price(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(
        capsys, str(PAGES / "visible_clp.html"), "--url", "https://www.tienda.cl/p/1"
    )
    data = json.loads(out)
    assert code == 0
    assert list(data) == KEYS
    assert data["price"] == "24990" and data["currency"] == "CLP" and data["method"] == "visible"
    assert data["url"] == "https://www.tienda.cl/p/1"


def test_cli_exits_1_without_a_price_and_still_prints(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(PAGES / "health_cloudflare_challenge.html"))
    data = json.loads(out)
    assert code == 1 and data["price"] is None and data["health"] == "captcha"


def test_cli_details_add_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(PAGES / "jsonld_offers_ambiguous.html"), "--details")
    data = json.loads(out)
    assert code == 1 and data["ambiguous"] is True and len(data["candidates"]) == 3


def test_cli_selectors_from_a_retailer_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yml = tmp_path / "r.yaml"
    yml.write_text(
        "name: x\nextraction:\n  price: 'css:#precioFinal::text'\n"
        "  currency: CLP\n  locale: es_CL\n"
    )
    code, out, _ = _run(capsys, str(PAGES / "selectors_only.html"), "--selectors", str(yml))
    assert code == 0 and json.loads(out)["price"] == "399990"


@pytest.mark.parametrize(
    "argv",
    [
        ["/no/such/file.html"],
        ["ftp://example.com/x"],
        ["x.html", "--currency", "dollars"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "" and "pricehawk extract:" in err


def test_cli_bad_selectors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yml = tmp_path / "bad.yaml"
    yml.write_text("extraction:\n  prize: '.p'\n")
    code, _, err = _run(capsys, str(PAGES / "jsonld_basic.html"), "--selectors", str(yml))
    assert code == 2 and "prize" in err


@pytest.mark.parametrize(
    "marker",
    [
        "/cdn-cgi/challenge-platform/scripts/jsd/main.js",
        "/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3",
        "https://js.datadome.co/tags.js",
    ],
)
def test_bot_protection_scripts_on_normal_pages_are_not_challenges(marker: str) -> None:
    assert classify(signals("Shop", LONG, markers=marker), has_product_data=True) == "ok"
