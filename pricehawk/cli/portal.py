"""`pricehawk portal [--port N]`: the subscriber portal, served by waitress (a production
WSGI server, not Flask's development server)."""

from __future__ import annotations

import argparse
import logging
import threading
from typing import Any

from pricehawk.settings import Settings

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 300.0


def register(sub: Any) -> None:
    p = sub.add_parser("portal", help="serve the subscriber portal (waitress)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8, help="request threads")
    p.add_argument(
        "--trusted-proxy",
        default="",
        help="address of the reverse proxy whose X-Forwarded-* headers to trust",
    )
    p.set_defaults(func=run)


def _sweeper(app: Any, stop: threading.Event) -> None:
    """Expired sessions out, lapsed grace periods down to Free, every few minutes."""
    from pricehawk.accounts import service as accounts
    from pricehawk.billing import service as billing

    while not stop.wait(SWEEP_EVERY_S):
        try:
            pool = app.extensions["pricehawk"].pool
            accounts.sweep(pool)
            downgraded = billing.expire_grace(pool)
            if downgraded:
                log.info("grace period ended: %d user(s) moved to Free", len(downgraded))
        except Exception:
            log.exception("portal sweep failed; retrying later")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import waitress  # type: ignore[import-untyped]

    from portal import create_app

    if not settings.secret_key:
        log.warning("PRICEHAWK_SECRET_KEY is unset: sessions end when the portal restarts")
    app = create_app(settings)
    stop = threading.Event()
    threading.Thread(target=_sweeper, args=(app, stop), daemon=True, name="portal-sweep").start()
    options: dict[str, Any] = {"host": args.host, "port": args.port, "threads": args.threads}
    if args.trusted_proxy:
        options.update(
            trusted_proxy=args.trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
            clear_untrusted_proxy_headers=True,
        )
    print(f"portal on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    try:
        waitress.serve(app, ident="pricehawk", **options)
    finally:
        stop.set()
        app.extensions["pricehawk"].close()
    return 0
