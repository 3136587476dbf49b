"""`pricehawk console` (the Streamlit operator console) and `pricehawk operator create|list`."""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pricehawk.settings import Settings

APP = Path(__file__).resolve().parent.parent.parent / "ops_console" / "app.py"


def register(sub: Any) -> None:
    p = sub.add_parser("console", help="run the operator console (Streamlit)")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.set_defaults(func=run)

    op = sub.add_parser("operator", help="manage operator accounts of the console")
    op_sub = op.add_subparsers(dest="operator_command", metavar="ACTION", required=True)
    create = op_sub.add_parser("create", help="create an operator account")
    create.add_argument("username")
    create.add_argument("--role", choices=("viewer", "operator", "admin"), default="operator")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else it is prompted for, twice)",
    )
    create.set_defaults(func=run_create)
    listing = op_sub.add_parser("list", help="list operator accounts")
    listing.set_defaults(func=run_list)


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line for the console."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(args.port),
        "--server.address", args.address,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # The console's own sign-in guards it; XSRF protection stays on (Streamlit's default).
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then run Streamlit in a child process until it stops."""
    from pricehawk import db

    url = db.database_url(settings)
    db.upgrade(url)
    # The child reads its settings from the environment like every entry point; pass the
    # resolved database URL so that it reuses the embedded server this process started.
    env = {**os.environ, "DATABASE_URL": url}
    print(f"operator console on http://{args.address}:{args.port}", flush=True)
    try:
        return subprocess.run(streamlit_command(args), env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("pricehawk operator create: the passwords differ")
    return first


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create an operator account."""
    from pricehawk import db
    from pricehawk.operators import OperatorError, create_operator

    password = _read_password(args)
    url = db.database_url(settings)
    db.upgrade(url)
    try:
        with db.connect(url) as conn, conn.transaction():
            op = create_operator(conn, args.username, password, args.role, actor="cli")
    except OperatorError as exc:
        print(f"pricehawk operator create: {exc}", file=sys.stderr)
        return 1
    print(f"operator {op.username} created ({op.role})")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """List operator accounts."""
    from pricehawk import db
    from pricehawk.operators import list_operators

    with db.connect(db.database_url(settings)) as conn:
        for o in list_operators(conn):
            state = "disabled" if o["disabled_at"] else "active"
            last = o["last_login_at"].isoformat(timespec="seconds") if o["last_login_at"] else "-"
            print(f"{o['username']}\t{o['role']}\t{state}\tlast sign-in {last}")
    return 0
