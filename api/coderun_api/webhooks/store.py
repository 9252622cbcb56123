"""Webhook secrets and deliveries in the database: the queries the routes and the sender use.

A delivery row is written at submit, before the job can be final, so no restart between the
job becoming final and its webhook being sent can lose it. The sender claims due rows with
a lease (lease_owner, lease_until): on PostgreSQL the candidates are read FOR UPDATE SKIP
LOCKED, so two replicas never wait on or take the same rows, and on both databases the
claim itself is a conditional UPDATE that only one claimer can win. A claimer that dies
leaves a lease that lapses, and another replica takes the row then: at least once, never
two attempts in flight at once (an attempt's time limit is well inside the lease).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta

from coderun_sandbox.contract import Status, utc_now
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from coderun_api.models import Job, WebhookAttempt, WebhookDelivery, WebhookSecret
from coderun_api.webhooks.signing import generate_secret

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FINAL = (Status.SUCCESS.value, Status.FAILED.value)


def new_delivery_id() -> str:
    return "msg_" + secrets.token_hex(16)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """The wait after the `attempt`-th failed attempt: doubling from `base` up to `cap`, then
    drawn from its upper half, so receivers that failed together are not retried together."""
    delay = min(cap, base * float(2 ** min(attempt - 1, 40)))
    return delay * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    job_id: str
    account_id: int
    url: str
    attempts: int  # attempts made before this one
    final_at: datetime  # when the job became final: the retry horizon counts from here


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(eq=False)
class WebhookStore:
    engine: Engine
    _: KW_ONLY
    grace: timedelta
    backoff_base: float
    backoff_max: float
    horizon: timedelta

    # -- secrets -------------------------------------------------------------------------

    def rotate_secret(self, account_id: int) -> WebhookSecret:
        """A new secret; the current one (if any) keeps signing for the grace period."""
        now = utc_now()
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.execute(
                select(WebhookSecret)
                .where(col(WebhookSecret.account_id) == account_id)
                # Two rotations at once must not both keep the same "previous" secret.
                .with_for_update()
            ).scalar_one_or_none()
            if row is None:
                row = WebhookSecret(account_id=account_id, secret=generate_secret(), created_at=now)
                session.add(row)
            else:
                row.previous_secret = row.secret
                row.previous_valid_until = now + self.grace if self.grace else None
                if row.previous_valid_until is None:
                    row.previous_secret = None
                row.secret = generate_secret()
                row.created_at = now
            session.commit()
            return row

    def secret_status(self, account_id: int) -> WebhookSecret | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(WebhookSecret, account_id)

    def signing_secrets(self, account_id: int) -> list[str]:
        row = self.secret_status(account_id)
        if row is None:
            return []
        valid = [row.secret]
        if (
            row.previous_secret
            and row.previous_valid_until is not None
            and row.previous_valid_until > utc_now()
        ):
            valid.append(row.previous_secret)
        return valid

    # -- deliveries ----------------------------------------------------------------------

    def ensure_delivery(self, job_id: str, account_id: int, url: str) -> str:
        """The job's delivery, made once (a replayed submission finds the first one)."""
        with Session(self.engine) as session:
            existing = session.execute(
                select(col(WebhookDelivery.id)).where(col(WebhookDelivery.job_id) == job_id)
            ).scalar_one_or_none()
            if existing is not None:
                return str(existing)
            delivery_id = new_delivery_id()
            session.add(
                WebhookDelivery(id=delivery_id, job_id=job_id, account_id=account_id, url=url)
            )
            try:
                session.commit()
            except IntegrityError:  # a concurrent replay of the same submission made it
                session.rollback()
                return str(
                    session.execute(
                        select(col(WebhookDelivery.id)).where(col(WebhookDelivery.job_id) == job_id)
                    ).scalar_one()
                )
            return delivery_id

    def claim_due(self, owner: str, limit: int, lease: timedelta) -> list[Claimed]:
        now = utc_now()
        due = [
            col(WebhookDelivery.state) == PENDING,
            or_(
                col(WebhookDelivery.next_attempt_at).is_(None),
                col(WebhookDelivery.next_attempt_at) <= now,
            ),
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
        ]
        claimed: list[Claimed] = []
        with Session(self.engine) as session:
            rows = session.execute(
                select(WebhookDelivery, col(Job.finished_at))
                .join(Job, col(Job.id) == col(WebhookDelivery.job_id))
                .where(*due, col(Job.status).in_(FINAL))
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.created_at))
                .limit(limit)
                # PostgreSQL: rows another replica is claiming right now are skipped, not
                # waited for. SQLite ignores this; its writes are serialized anyway.
                .with_for_update(of=WebhookDelivery, skip_locked=True)  # type: ignore[arg-type]
            ).all()
            for delivery, finished_at in rows:
                won = session.execute(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == delivery.id, *due)
                    .values(lease_owner=owner, lease_until=now + lease)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    # The fields read here are not among those the UPDATE sets.
                    claimed.append(
                        Claimed(
                            delivery.id,
                            delivery.job_id,
                            delivery.account_id,
                            delivery.url,
                            delivery.attempts,
                            finished_at or now,
                        )
                    )
            session.commit()
        return claimed

    def record_attempt(self, claimed: Claimed, owner: str, outcome: Outcome) -> str:
        """Log the attempt and decide what follows: delivered, a retry later, or failed
        once the next try would fall after the horizon. Returns the new state."""
        attempt = claimed.attempts + 1
        values: dict[str, object] = {"attempts": attempt, "lease_owner": None, "lease_until": None}
        if outcome.delivered:
            values.update(state=DELIVERED, next_attempt_at=None, delivered_at=utc_now())
        else:
            wait = backoff_seconds(attempt, self.backoff_base, self.backoff_max)
            next_at = utc_now() + timedelta(seconds=wait)
            if next_at > claimed.final_at + self.horizon:
                values.update(state=FAILED, next_attempt_at=None)
            else:
                values.update(state=PENDING, next_attempt_at=next_at)
        with Session(self.engine) as session:
            session.add(
                WebhookAttempt(
                    delivery_id=claimed.delivery_id,
                    attempt=attempt,
                    attempted_at=outcome.attempted_at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == claimed.delivery_id,
                    col(WebhookDelivery.lease_owner) == owner,
                )
                .values(**values)
            )
            session.commit()
        return str(values.get("state"))

    def release(self, owner: str) -> None:
        """On a clean stop: leases of attempts not made are given up at once."""
        with Session(self.engine) as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.lease_owner) == owner,
                    col(WebhookDelivery.state) == PENDING,
                )
                .values(lease_owner=None, lease_until=None)
            )
            session.commit()

    def deliveries_for_job(self, job_id: str) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
        # One statement (an outer join), so a delivery and its attempts are read from one
        # snapshot: an attempt recorded meanwhile shows with its delivery's new state.
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookAttempt)
                .outerjoin(
                    WebhookAttempt, col(WebhookAttempt.delivery_id) == col(WebhookDelivery.id)
                )
                .where(col(WebhookDelivery.job_id) == job_id)
                .order_by(col(WebhookDelivery.created_at), col(WebhookAttempt.attempt))
            ).all()
            result: dict[str, tuple[WebhookDelivery, list[WebhookAttempt]]] = {}
            for delivery, attempt in rows:
                entry = result.setdefault(delivery.id, (delivery, []))
                if attempt is not None:
                    entry[1].append(attempt)
            return list(result.values())
