"""Account creation and API key rotation, shared by the routes and the admin CLI."""

from __future__ import annotations

from coderun_sandbox.contract import utc_now
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coderun_api.models import Account, ApiKey
from coderun_api.security import display_prefix, hash_password, new_api_key, sha256_hex


class EmailTaken(Exception):
    pass


def create_account(
    engine: Engine,
    email: str,
    *,
    password: str | None,
    credits: int,
    early: bool = False,
) -> Account:
    with Session(engine, expire_on_commit=False) as session:
        if session.exec(select(Account).where(col(Account.email) == email)).first() is not None:
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
