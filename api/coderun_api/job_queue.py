"""The local executor's queue: the queued jobs in the database, claimed in fair order.

Every worker of every API replica claims its next job here, so one account's cap on running
runs and the order between accounts hold across replicas. A claim is one transaction that
first locks the single `fair_clock` row (a row lock on PostgreSQL, the database write lock
on SQLite), then reads what is queued and running, picks by `coderun_operator.fair_share`
(the rule the operator's admission follows too), and marks the job running under the
claimer's lease. Claims are a few milliseconds against runs of tens of milliseconds to
seconds, so serializing them costs no throughput that matters.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from coderun_operator.fair_share import Bucket, advance, next_bucket
from coderun_sandbox.contract import Status, utc_now
from sqlalchemy import ColumnElement, Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from coderun_api.logs import job_log
from coderun_api.models import Account, FairClock, Job

log = logging.getLogger(__name__)

CLOCK_ID = 1


def _local(status: Status) -> list[ColumnElement[bool]]:
    # Local jobs carry an owner from the moment they are accepted; Kubernetes jobs never do
    # (their CodeRuns are admitted by the operator, by the same rule).
    return [col(Job.status) == status.value, col(Job.owner).is_not(None)]


class JobQueue:
    def __init__(self, engine: Engine, lease_seconds: float, max_running_per_account: int) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self.cap = max_running_per_account

    def depth(self) -> int:
        """Queued local jobs, of every replica."""
        with Session(self.engine) as session:
            return int(
                session.execute(
                    select(func.count()).select_from(Job).where(*_local(Status.QUEUED))
                ).scalar_one()
            )

    def claim(self, owner: str) -> Job | None:
        """The next job to run, marked running under `owner`'s lease; None if there is none
        that may start now (nothing queued, or every account with queued jobs at its cap)."""
        with Session(self.engine) as session:
            # Most idle polls find nothing: look first without the lock, which on SQLite is
            # the database's write lock.
            anything = session.execute(
                select(col(Job.id)).where(*_local(Status.QUEUED)).limit(1)
            ).first()
        if anything is None:
            return None
        with Session(self.engine, expire_on_commit=False) as session:
            clock = self._lock_clock(session)
            job = self._claim_locked(session, owner, clock)
            session.commit()
        if job is not None:
            log.info("job running", extra=job_log(job.id, attempt=job.attempts))
        return job

    def _lock_clock(self, session: Session) -> int:
        """Lock the fair_clock row for this transaction and read it."""
        locked = session.execute(
            update(FairClock)
            .where(col(FairClock.id) == CLOCK_ID)
            .values(virtual_time=FairClock.virtual_time)
        )
        if locked.rowcount != 1:  # type: ignore[attr-defined]
            # Migration 0003 makes the row; a database made otherwise gets it on first use.
            try:
                with session.begin_nested():
                    session.add(FairClock(id=CLOCK_ID, virtual_time=0))
            except IntegrityError:
                pass  # another claimer made it
            return self._lock_clock(session)
        return int(
            session.execute(
                select(col(FairClock.virtual_time)).where(col(FairClock.id) == CLOCK_ID)
            ).scalar_one()
        )

    def _claim_locked(self, session: Session, owner: str, clock: int) -> Job | None:
        # Each account's oldest queued job: the one that would start for it.
        ranked = (
            select(
                col(Job.id),
                col(Job.account_id),
                col(Job.weight),
                col(Job.queued_at),
                func.row_number()
                .over(partition_by=col(Job.account_id), order_by=(col(Job.queued_at), col(Job.id)))
                .label("place"),
            )
            .where(*_local(Status.QUEUED))
            .subquery()
        )
        heads = session.execute(select(ranked).where(ranked.c.place == 1)).all()
        if not heads:
            return None
        accounts = [head.account_id for head in heads]
        running = dict(
            session.execute(
                select(col(Job.account_id), func.sum(col(Job.weight)))
                .where(*_local(Status.RUNNING), col(Job.account_id).in_(accounts))
                .group_by(col(Job.account_id))
            ).all()
        )
        next_start = dict(
            session.execute(
                select(col(Account.id), col(Account.fair_next_start)).where(
                    col(Account.id).in_(accounts)
                )
            ).all()
        )
        buckets = {
            str(head.account_id): (
                head,
                Bucket(
                    key=str(head.account_id),
                    running=int(running.get(head.account_id) or 0),
                    head_weight=int(head.weight),
                    oldest=(head.queued_at.isoformat(timespec="microseconds"), str(head.id)),
                    next_start=int(next_start.get(head.account_id) or 0),
                ),
            )
            for head in heads
        }
        chosen = next_bucket((bucket for _, bucket in buckets.values()), clock, self.cap)
        if chosen is None:
            return None
        head, bucket = buckets[chosen.key]
        new_clock, account_next = advance(bucket, clock)
        now = utc_now()
        claimed = session.execute(
            update(Job)
            .where(col(Job.id) == head.id, col(Job.status) == Status.QUEUED.value)
            .values(
                status=Status.RUNNING.value,
                owner=owner,
                lease_until=now + self.lease,
                started_at=max(now, head.queued_at),
                attempts=Job.attempts + 1,
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            # Every queued -> running change of a local job goes through this lock, so
            # only a job made final meanwhile (e.g. failed by recovery) gets here.
            return None
        session.execute(
            update(FairClock).where(col(FairClock.id) == CLOCK_ID).values(virtual_time=new_clock)
        )
        session.execute(
            update(Account)
            .where(col(Account.id) == head.account_id)
            .values(fair_next_start=account_next)
        )
        return session.get(Job, head.id)
