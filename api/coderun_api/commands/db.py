"""`coderun db upgrade` / `coderun db downgrade REVISION`: apply Alembic migrations to
CODERUN_DATABASE_URL, or step them back (before a rollback to a release that predates them)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = sub.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default head)")
    downgrade = sub.add_parser(
        "downgrade", help="step the schema back to REVISION (before rolling back a release)"
    )
    downgrade.add_argument("revision", help="target, e.g. 0002")


def main(args: argparse.Namespace) -> int:
    from coderun_api import db
    from coderun_api.config import get_settings

    settings = get_settings()
    if args.db_command == "downgrade":
        db.downgrade(settings, args.revision)
    else:
        db.upgrade(settings, args.revision)
    print(f"database at {args.revision}: {_safe(settings.effective_database_url)}", file=sys.stderr)
    return 0


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
