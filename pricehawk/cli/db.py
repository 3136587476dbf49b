"""`pricehawk db upgrade | downgrade | status | verify`."""

from __future__ import annotations

import argparse
from typing import Any

from pricehawk import db
from pricehawk.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="database migrations (and, later, backups)")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dbsub.add_parser("upgrade", help="apply pending migrations").set_defaults(func=run_upgrade)
    down = dbsub.add_parser("downgrade", help="roll back migrations")
    down.add_argument("--steps", type=int, default=1, help="how many (0: all); default 1")
    down.set_defaults(func=run_downgrade)
    dbsub.add_parser("status", help="list migrations and whether each is applied").set_defaults(
        func=run_status
    )
    dbsub.add_parser(
        "verify", help="list pending migrations and dry-run them in a rolled-back transaction"
    ).set_defaults(func=run_verify)
    from pricehawk.cli.ops import register_db_commands  # backup and restore live with ops

    register_db_commands(dbsub)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    applied = db.upgrade(db.database_url(settings))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def run_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    rolled = db.downgrade(db.database_url(settings), args.steps)
    print("rolled back: " + (", ".join(rolled) if rolled else "nothing"))
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    for state in db.migration_status(db.database_url(settings)):
        print(f"{'applied' if state.applied else 'pending'}  {state.id}")
    return 0


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        pending = db.verify(db.database_url(settings))
    except Exception as exc:  # noqa: BLE001 - report which migration fails and why
        print(f"verify FAILED: {exc}")
        return 1
    print("pending (dry run OK): " + (", ".join(pending) if pending else "none"))
    return 0
