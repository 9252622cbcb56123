"""The job lifecycle, shared by every executor: accept, mark running, finalize, recover.

`JobStore.finalize` is the one place a job becomes final and the one place a credit is
charged: a conditional UPDATE (WHERE status is not final) and the credit decrement commit
together, so any number of concurrent finalizers (workers, watchers, recovery after a
restart) charge a success exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from coderun_sandbox.contract import (
    ErrorType,
    RunRequest,
    RunResult,
    Status,
    utc_now,
)
from coderun_sandbox.judge import credits_for, judge_result
from sqlalchemy import ColumnElement, Engine, func, select, update
from sqlmodel import Session, col

from coderun_api import metrics
from coderun_api.judging import (
    JudgeSpec,
    cases_json,
    fingerprint_parts,
    job_columns,
    judge_options,
)
from coderun_api.logs import job_log
from coderun_api.models import Account, Job
from coderun_api.notify import JobNotifier
from coderun_api.results import execution_time_ms
from coderun_api.stats import JobRow

log = logging.getLogger(__name__)

NOT_FINAL = (Status.QUEUED.value, Status.RUNNING.value)


def new_job_id() -> str:
    """24 hex characters, like the ids in docs/api.md; also a valid Kubernetes object name."""
    return secrets.token_hex(12)


def request_fingerprint(request: RunRequest, spec: JudgeSpec | None = None) -> str:
    body = json.dumps(fingerprint_parts(request, spec), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


class NoCredits(Exception):
    """The account cannot pay for another run: `needed` credits (one per test case) are
    more than the balance less what runs queued or running have reserved (`available`)."""

    def __init__(self, needed: int = 1, available: int = 0) -> None:
        super().__init__(f"needs {needed} credits, {available} available")
        self.needed = needed
        self.available = available


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


@dataclass(frozen=True)
class HistoryFilter:
    """Which of an account's jobs a history page or its aggregates cover (None: any)."""

    start: datetime | None = None  # queuedAt from
    end: datetime | None = None  # queuedAt to
    language: str | None = None
    status: str | None = None
    error_type: str | None = None

    def conditions(self, account_id: int) -> list[ColumnElement[bool]]:
        conditions = [col(Job.account_id) == account_id]
        if self.start is not None:
            conditions.append(col(Job.queued_at) >= self.start)
        if self.end is not None:
            conditions.append(col(Job.queued_at) <= self.end)
        for column, value in (
            (Job.language, self.language),
            (Job.status, self.status),
            (Job.error_type, self.error_type),
        ):
            if value:
                conditions.append(col(column) == value)
        return conditions


@dataclass(frozen=True)
class Accepted:
    job: Job
    created: bool  # False: an Idempotency-Key replay of an earlier submission


@dataclass(frozen=True)
class Reported:
    """A state change as a CodeRun reports it (the Kubernetes executor): the object's uid,
    which must be the CodeRun bound to the job (bind_coderun), and its startedAt."""

    coderun_uid: str
    started_at: datetime | None = None


def _bound_to(reported: Reported | None) -> list[ColumnElement[bool]]:
    """The condition that the job is bound to the reporting CodeRun (none when not asked)."""
    return [] if reported is None else [col(Job.coderun_uid) == reported.coderun_uid]


class JobStore:
    def __init__(self, engine: Engine, notifier: JobNotifier, lease_seconds: float) -> None:
        self.engine = engine
        self.notifier = notifier
        self.lease = timedelta(seconds=lease_seconds)

    # -- accepting -----------------------------------------------------------------------

    def accept(
        self,
        account_id: int,
        request: RunRequest,
        *,
        idempotency_key: str | None = None,
        owner: str | None = None,
        judge: JudgeSpec | None = None,
    ) -> Accepted:
        """Store a new queued job, or return the earlier one for a replayed Idempotency-Key.

        Raises NoCredits when the balance does not cover this run on top of the runs
        already queued or running (each of which may still succeed and cost a credit). A
        run reserves its weight: one credit, or one per test case (`judge`), since each
        case that succeeds costs one; finalize charges what was earned and the rest of
        the reservation ends with the job.
        """
        fingerprint = request_fingerprint(request, judge)
        columns = job_columns(request, judge)
        needed = int(columns["weight"])
        with Session(self.engine, expire_on_commit=False) as session:
            # The first statement takes the account's write lock (a row lock on PostgreSQL,
            # the database write lock on SQLite), so concurrent submissions by one account
            # see each other's in-flight jobs.
            session.execute(
                update(Account).where(col(Account.id) == account_id).values(credits=Account.credits)
            )
            if idempotency_key is not None:
                earlier = (
                    session.execute(
                        select(Job).where(
                            col(Job.account_id) == account_id,
                            col(Job.idempotency_key) == idempotency_key,
                        )
                    )
                    .scalars()
                    .first()
                )
                if earlier is not None:
                    session.expunge(earlier)
                    session.rollback()
                    job = earlier
                    if job.request_hash != fingerprint:
                        raise IdempotencyConflict
                    return Accepted(job, created=False)
            credits = session.execute(
                select(col(Account.credits)).where(col(Account.id) == account_id)
            ).scalar_one()
            reserved = session.execute(
                select(func.coalesce(func.sum(col(Job.weight)), 0)).where(
                    col(Job.account_id) == account_id, col(Job.status).in_(NOT_FINAL)
                )
            ).scalar_one()
            if credits - reserved < needed:
                session.rollback()
                raise NoCredits(needed, max(0, credits - reserved))
            now = utc_now()
            job = Job(
                id=new_job_id(),
                account_id=account_id,
                language=request.language,
                code=request.code,
                input=request.input,
                status=Status.QUEUED.value,
                queued_at=now,
                # The owner marks a local executor's job (the Kubernetes reconcile skips
                # those). A queued job needs no lease: it waits in the shared queue, which
                # any live worker claims from (coderun_api.job_queue), and is leased then.
                owner=owner,
                lease_until=None,
                idempotency_key=idempotency_key,
                request_hash=fingerprint,
                **columns,
            )
            session.add(job)
            session.commit()
        metrics.SUBMISSIONS.labels(language=request.language).inc()
        log.info("job queued", extra=job_log(job.id, accountId=account_id, language=job.language))
        return Accepted(job, created=True)

    # -- the executor seam ---------------------------------------------------------------

    def bind_coderun(self, job_id: str, coderun_uid: str) -> bool:
        """Record the uid of the CodeRun the API just created for an unfinished job."""
        with Session(self.engine) as session:
            bound = session.execute(
                update(Job)
                .where(col(Job.id) == job_id, col(Job.status).in_(NOT_FINAL))
                .values(coderun_uid=coderun_uid)
            )
            session.commit()
            return bool(bound.rowcount == 1)  # type: ignore[attr-defined]

    def mark_running(self, job_id: str, reported: Reported | None = None) -> Job | None:
        """queued -> running. Returns the job, or None if it is no longer queued.

        When `reported` by a CodeRun, only if that is the CodeRun bound to the job.
        """
        started_at = reported.started_at if reported else None
        with Session(self.engine, expire_on_commit=False) as session:
            if started_at is not None:
                # A start reported by someone else (Kubernetes records container starts to
                # the second) never precedes the queueing: queueTimeMs is never negative.
                queued_at = session.execute(
                    select(col(Job.queued_at)).where(col(Job.id) == job_id)
                ).scalar_one_or_none()
                if queued_at is not None:
                    started_at = max(started_at, queued_at)
            result = session.execute(
                update(Job)
                .where(
                    col(Job.id) == job_id,
                    col(Job.status) == Status.QUEUED.value,
                    *_bound_to(reported),
                )
                .values(
                    status=Status.RUNNING.value,
                    started_at=started_at or utc_now(),
                    attempts=Job.attempts + 1,
                )
            )
            session.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            job = session.get(Job, job_id)
        log.info("job running", extra=job_log(job_id, attempt=job.attempts if job else None))
        self.notifier.publish_status(job_id)  # event streams (routes/events.py)
        return job

    def finalize(self, job_id: str, result: RunResult, reported: Reported | None = None) -> bool:
        """Make the job final with `result` and charge a success; idempotent.

        Returns True for the call that made the job final, False if it already was (or
        does not exist, or it is `reported` by a CodeRun that is not the one bound to the job).
        Safe to call from any thread or process, any number of times.
        """
        if not result.status.is_final:
            raise ValueError(f"finalize needs a final result, not {result.status}")
        now = utc_now()
        with Session(self.engine, expire_on_commit=False) as session:
            job = session.get(Job, job_id)
            if job is None or job.status not in NOT_FINAL:
                return False
            if reported is not None and job.coderun_uid != reported.coderun_uid:
                return False
            # Judge mode: the verdicts against the expected outputs, which only this side
            # holds (whatever the runner's result said of them is recomputed).
            options = judge_options(job)
            if options is not None:
                result = judge_result(result, options)
            charge = credits_for(result)
            # When the job left the queue (mark_running), not when the runner's run phase
            # began: compilation is part of the job's time, not of its queue time. An
            # executor that learns it more precisely at the end reports it (the Kubernetes
            # one: the runner's clock, where mark_running had whole seconds).
            reported_start = reported.started_at if reported else None
            started_at = reported_start or job.started_at or result.started_at or now
            values: dict[str, Any] = {
                "status": result.status.value,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "exit_code": result.exit_code,
                "error_type": result.error_type.value if result.error_type else None,
                "error_message": result.error_message,
                "execution_time_ms": result.execution_time_ms,
                "cpu_time_ms": result.cpu_time_ms,
                "memory_kb": result.memory_kb,
                "compile_time_ms": result.compile_time_ms,
                "stdout_truncated": result.stdout_truncated,
                "stderr_truncated": result.stderr_truncated,
                "started_at": max(started_at, job.queued_at),
                "finished_at": max(result.finished_at or now, job.queued_at),
                "charged": charge > 0,
                "credits_charged": charge,
                "lease_until": None,
            }
            if options is not None:
                cases = result.test_cases or ()
                values |= {
                    "case_results": cases_json(cases),
                    "test_cases_passed": sum(1 for case in cases if case.passed is True),
                }
            made_final = session.execute(
                update(Job)
                .where(
                    col(Job.id) == job_id,
                    col(Job.status).in_(NOT_FINAL),
                    *_bound_to(reported),
                )
                .values(**values)
            )
            if made_final.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                return False
            if charge:
                session.execute(
                    update(Account)
                    .where(col(Account.id) == job.account_id)
                    .values(
                        credits=Account.credits - charge,
                        credits_used=Account.credits_used + charge,
                    )
                )
            session.commit()
            language = job.language
        if charge:
            metrics.CREDITS_CHARGED.inc(charge)
        metrics.VERDICTS.labels(
            language=language,
            status=result.status.value,
            error_type=result.error_type.value if result.error_type else "",
        ).inc()
        log.info(
            "job finished",
            extra=job_log(
                job_id,
                status=result.status.value,
                errorType=result.error_type.value if result.error_type else None,
                executionTimeMs=result.execution_time_ms,
                charged=charge,
            ),
        )
        self.notifier.publish(job_id)
        return True

    def fail_internal(self, job_id: str, message: str) -> bool:
        return self.finalize(job_id, RunResult.failure(ErrorType.INTERNAL_ERROR, message))

    # -- leases (local executor) ---------------------------------------------------------

    def renew_leases(self, owner: str, job_ids: Sequence[str]) -> int:
        """Extend the leases of the jobs `owner` still holds (the others lapse)."""
        if not job_ids:
            return 0
        with Session(self.engine) as session:
            result = session.execute(
                update(Job)
                .where(
                    col(Job.owner) == owner,
                    col(Job.id).in_(job_ids),
                    col(Job.status).in_(NOT_FINAL),
                )
                .values(lease_until=utc_now() + self.lease)
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    def release_leases(self, owner: str) -> int:
        """On a clean stop: let any live process take this owner's unfinished jobs now."""
        with Session(self.engine) as session:
            result = session.execute(
                update(Job)
                .where(col(Job.owner) == owner, col(Job.status).in_(NOT_FINAL))
                .values(lease_until=utc_now())
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    def claim_expired(self, owner: str, *, max_attempts: int, limit: int = 100) -> list[Job]:
        """Take over running jobs whose executor stopped renewing their lease (it died).

        A job with attempts left goes back to the queue (status queued, its queued_at
        kept, so it goes ahead of its account's later jobs), where any worker of any
        replica claims it in fair order (coderun_api.job_queue). One that already had
        `max_attempts` starts stays running under `owner`'s lease, so no worker can start
        it again, and the caller fails it with InternalError. Queued jobs are never taken
        over: they belong to no process until claimed.
        """
        now = utc_now()
        claimed: list[Job] = []
        with Session(self.engine, expire_on_commit=False) as session:
            candidates: Sequence[str] = (
                session.execute(
                    select(col(Job.id))
                    .where(
                        col(Job.status) == Status.RUNNING.value,
                        col(Job.lease_until).is_not(None),
                        col(Job.lease_until) < now,
                    )
                    .order_by(col(Job.queued_at))
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            for job_id in candidates:
                lapsed = [
                    col(Job.id) == job_id,
                    col(Job.status) == Status.RUNNING.value,
                    col(Job.lease_until) < now,
                ]
                out_of_attempts = session.execute(
                    update(Job)
                    .where(*lapsed, col(Job.attempts) >= max_attempts)
                    .values(owner=owner, lease_until=now + self.lease)
                )
                taken = out_of_attempts.rowcount == 1  # type: ignore[attr-defined]
                if not taken:
                    requeued = session.execute(
                        update(Job)
                        .where(*lapsed)
                        .values(
                            owner=owner,
                            lease_until=None,
                            status=Status.QUEUED.value,
                            started_at=None,
                        )
                    )
                    taken = requeued.rowcount == 1  # type: ignore[attr-defined]
                session.commit()
                if taken:
                    job = session.get(Job, job_id)
                    if job is not None:
                        session.refresh(job)
                        claimed.append(job)
        for job in claimed:
            log.warning(
                "job recovered from a stopped executor",
                extra=job_log(job.id, attempts=job.attempts),
            )
        return claimed

    # -- reading -------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Job, job_id)

    def get_many_for_account(self, job_ids: Sequence[str], account_id: int) -> dict[str, Job]:
        """The account's own jobs among `job_ids`, by id (others' and unknown ids absent)."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(Job).where(col(Job.id).in_(list(job_ids)), col(Job.account_id) == account_id)
            ).scalars()
            return {job.id: job for job in rows}

    def get_for_account(self, job_id: str, account_id: int) -> Job | None:
        with Session(self.engine, expire_on_commit=False) as session:
            job = session.get(Job, job_id)
            if job is None or job.account_id != account_id:
                return None
            return job

    def history(
        self, account_id: int, which: HistoryFilter, *, page: int, page_size: int
    ) -> tuple[int, list[Job]]:
        """One page of the account's jobs, newest first, and how many match in all."""
        conditions = which.conditions(account_id)
        with Session(self.engine, expire_on_commit=False) as session:
            total = session.execute(
                select(func.count()).select_from(Job).where(*conditions)
            ).scalar_one()
            rows = (
                session.execute(
                    select(Job)
                    .where(*conditions)
                    .order_by(col(Job.queued_at).desc(), col(Job.id).desc())
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
                .scalars()
                .all()
            )
        return int(total), list(rows)

    def stats_rows(self, account_id: int, which: HistoryFilter) -> list[JobRow]:
        """What the dashboard's aggregates need of each matching job (coderun_api.stats)."""
        with Session(self.engine) as session:
            found = session.execute(
                select(
                    col(Job.queued_at),
                    col(Job.status),
                    col(Job.started_at),
                    col(Job.finished_at),
                    col(Job.charged),
                ).where(*which.conditions(account_id))
            ).all()
        # The same executionTimeMs as each job's result and history row (not the run time).
        return [JobRow(r[0], r[1], execution_time_ms(r[2], r[3]), bool(r[4])) for r in found]

    def unfinished_without_owner(self, queued_before: datetime) -> list[Job]:
        """Jobs not final that no local executor holds (the Kubernetes executor's: their
        CodeRun runs them), queued before `queued_before`."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(Job).where(
                    col(Job.status).in_(NOT_FINAL),
                    col(Job.owner).is_(None),
                    col(Job.queued_at) < queued_before,
                )
            ).scalars()
            return list(rows)
