"""`coderun account create EMAIL [--credits N] [--early]`: prints the new account's API key."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="account_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create an account and print its API key")
    create.add_argument("email")
    create.add_argument("--credits", type=int, default=None, help="starting credits")
    create.add_argument("--early", action="store_true", help="flag as an early user")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read a dashboard password from stdin (else the account signs in by key only)",
    )
    key = sub.add_parser("new-key", help="revoke the account's key and print a new one")
    key.add_argument("email")


def main(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from coderun_api import db
    from coderun_api.accounts import (
        MIN_PASSWORD,
        EmailTaken,
        InvalidEmail,
        account_by_email,
        create_account,
        normalize_email,
        rotate_api_key,
    )
    from coderun_api.config import get_settings

    settings = get_settings()
    if settings.is_sqlite or settings.auto_migrate:
        db.upgrade(settings)
    engine = db.make_engine(settings)
    try:
        email = normalize_email(args.email)
    except InvalidEmail as error:
        print(f"coderun: {error}", file=sys.stderr)
        return 2
    if args.account_command == "new-key":
        with Session(engine) as session:
            account = account_by_email(session, email)
        if account is None or account.id is None:
            print(f"coderun: no account {email}", file=sys.stderr)
            return 1
        print(rotate_api_key(engine, account.id))
        return 0
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < MIN_PASSWORD:
            print(f"coderun: password must be at least {MIN_PASSWORD} characters", file=sys.stderr)
            return 2
    if args.credits is not None and args.credits < 0:
        print("coderun: --credits must be 0 or more", file=sys.stderr)
        return 2
    default = settings.early_credits if args.early else settings.free_credits
    credits = args.credits if args.credits is not None else default
    try:
        account = create_account(
            engine, email, password=password, credits=credits, early=args.early
        )
    except EmailTaken:
        print(f"coderun: an account {email} already exists", file=sys.stderr)
        return 1
    assert account.id is not None
    key = rotate_api_key(engine, account.id)
    print(f"created {email} with {credits} credits; API key (shown once):", file=sys.stderr)
    print(key)
    return 0
