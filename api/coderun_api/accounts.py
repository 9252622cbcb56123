"""Accounts, their API keys and dashboard sessions in the database, shared by the routes
and the admin CLI."""

from __future__ import annotations

import re
from datetime import timedelta

from coderun_sandbox.contract import utc_now
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from coderun_api.models import Account, ApiKey, WebSession
from coderun_api.security import (
    digests_equal,
    display_prefix,
    hash_password,
    new_api_key,
    new_session_token,
    sha256_hex,
)


class EmailTaken(Exception):
    pass


class InvalidEmail(ValueError):
    pass


# The rules for an account's email and password: the sign-up route and `coderun account
# create` both check them here.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 320
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidEmail("`email` must be an email address such as ada@example.com")
    return email


def create_account(
    engine: Engine,
    email: str,
    *,
    password: str | None,
    credits: int,
    early: bool = False,
) -> Account:
    with Session(engine, expire_on_commit=False) as session:
        if account_by_email(session, email) is not None:
            raise EmailTaken(email)
        account = Account(
            email=email,
            password_hash=hash_password(password) if password is not None else None,
            credits=credits,
            early=early,
        )
        session.add(account)
        try:
            session.commit()
        except IntegrityError:
            raise EmailTaken(email) from None
        return account


def rotate_api_key(engine: Engine, account_id: int) -> str:
    """Revoke the account's key (if any) and issue a new one, in one transaction.

    Returns the full key: the only time it exists outside the client.
    """
    key = new_api_key()
    now = utc_now()
    with Session(engine) as session:
        # Lock the account first so two concurrent rotations cannot both leave a key active.
        session.execute(
            update(Account).where(col(Account.id) == account_id).values(credits=Account.credits)
        )
        session.execute(
            update(ApiKey)
            .where(col(ApiKey.account_id) == account_id, col(ApiKey.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        session.add(
            ApiKey(
                account_id=account_id,
                key_hash=sha256_hex(key),
                prefix=display_prefix(key),
                created_at=now,
            )
        )
        session.commit()
    return key


def active_key(session: Session, account_id: int) -> ApiKey | None:
    return session.exec(
        select(ApiKey).where(col(ApiKey.account_id) == account_id, col(ApiKey.revoked_at).is_(None))
    ).first()


def account_by_email(session: Session, email: str) -> Account | None:
    return session.exec(select(Account).where(col(Account.email) == email)).first()


def start_session(session: Session, account_id: int, ttl: timedelta) -> str:
    """A new dashboard session for the account; returns its token (the cookie's value),
    of which only the hash is stored. The account's expired sessions go at the same time."""
    session.exec(  # type: ignore[call-overload]
        delete(WebSession).where(
            col(WebSession.account_id) == account_id, col(WebSession.expires_at) <= utc_now()
        )
    )
    token = new_session_token()
    session.add(
        WebSession(account_id=account_id, token_hash=sha256_hex(token), expires_at=utc_now() + ttl)
    )
    session.commit()
    return token


def end_session(session: Session, session_id: int | None) -> None:
    session.exec(delete(WebSession).where(col(WebSession.id) == session_id))  # type: ignore[call-overload]
    session.commit()


def account_for_key(session: Session, key: str) -> Account | None:
    """The account whose active (not revoked) API key `key` is."""
    digest = sha256_hex(key)
    row = session.exec(
        select(ApiKey).where(col(ApiKey.key_hash) == digest, col(ApiKey.revoked_at).is_(None))
    ).first()
    # The lookup is by hash; comparing the digests again in constant time keeps the check
    # free of early-exit string comparison whatever the database does.
    if row is None or not digests_equal(row.key_hash, digest):
        return None
    return session.get(Account, row.account_id)


def signed_in(session: Session, token: str) -> tuple[WebSession, Account] | None:
    """The dashboard session whose cookie is `token`, and its account, unless expired."""
    row = session.exec(
        select(WebSession).where(col(WebSession.token_hash) == sha256_hex(token))
    ).first()
    if row is None or row.expires_at <= utc_now():
        return None
    account = session.get(Account, row.account_id)
    return None if account is None else (row, account)
