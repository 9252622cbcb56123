"""Database tables (SQLModel). Schema changes go through Alembic (coderun_api/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coderun_sandbox.contract import utc_now
from sqlalchemy import BigInteger, Column, DateTime, Dialect, Index, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        return _as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return _as_utc(value)


def _as_utc(value: datetime | None) -> datetime | None:
    """A naive value is UTC already (SQLite's text); an aware one is converted."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _utc_column(nullable: bool = True, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


# --- accounts -----------------------------------------------------------------------------


class AccountBase(SQLModel):
    email: str = Field(max_length=320)


class Account(AccountBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    credits: int = 0
    credits_used: int = 0
    early: bool = False
    created_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    # Fair share (coderun_operator.fair_share): the place in virtual time the account's next
    # run may take on the local executor; written only under the fair_clock lock.
    fair_next_start: int = Field(default=0, sa_type=BigInteger)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    # sha256 of the full key; the key itself is shown once and never stored.
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column())


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))


# --- jobs ---------------------------------------------------------------------------------


class JobBase(SQLModel):
    language: str = Field(max_length=32)
    code: str = Field(sa_type=Text)
    input: str = Field(default="", sa_type=Text)


class Job(JobBase, table=True):
    __table_args__ = (
        Index("ix_job_account_queued", "account_id", "queued_at"),
        Index("ix_job_status_lease", "status", "lease_until"),
        UniqueConstraint("account_id", "idempotency_key", name="uq_job_account_idempotency"),
    )

    id: str = Field(primary_key=True, max_length=32)
    account_id: int = Field(foreign_key="account.id")
    status: str = Field(default="queued", max_length=16)
    stdout: str = Field(default="", sa_type=Text)
    stderr: str = Field(default="", sa_type=Text)
    exit_code: int | None = None
    error_type: str | None = Field(default=None, max_length=32)
    error_message: str = Field(default="", sa_type=Text)
    execution_time_ms: int | None = None
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    compile_time_ms: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    queued_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # True once the success was charged; set in the same UPDATE that made the job final.
    charged: bool = False
    attempts: int = 0
    # Local executor lease: which process holds the job and until when (NULL: not leased,
    # e.g. jobs owned by the Kubernetes executor, whose CodeRun objects survive restarts).
    owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc_column())
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    # Kubernetes executor: metadata.uid of the CodeRun the API created for this job, recorded
    # from the create response. Only that object may mark the job running or final: a label
    # (or a re-created object of the same name) is anyone's with patch or create rights.
    coderun_uid: str | None = Field(default=None, max_length=64)
    # How many runs this job counts as, toward its account's cap on running runs and in the
    # fair order between accounts. 1 today; a submission with many test cases (judge mode)
    # will count one per test case.
    weight: int = Field(default=1, ge=1)
    # Judge mode (docs/api.md, "Test cases"): the cases as JSON, expected outputs included.
    # They stay on this side: no sandbox, pod or CodeRun ever holds an expected output.
    test_cases: str | None = Field(default=None, sa_type=Text)
    compare_mode: str | None = Field(default=None, max_length=16)
    tolerance_absolute: float | None = None
    tolerance_relative: float | None = None
    stop_on_first_failure: bool = False
    command_line_arguments: str | None = Field(default=None, sa_type=Text)  # JSON list
    compiler_options: str | None = Field(default=None, sa_type=Text)  # JSON list
    case_results: str | None = Field(default=None, sa_type=Text)  # JSON list, when final
    test_cases_passed: int | None = None
    test_cases_total: int | None = None
    # Credits this job cost when it became final: 1 for a success without cases, one per
    # successful case with them.
    credits_charged: int = 0


class FairClock(SQLModel, table=True):
    """One row: the fair-share clock of the local executor, the place in virtual time of the
    last run started. Every claim of a queued job locks this row first, so claims by all
    workers of all replicas are serialized: the per-account cap and the order hold exactly."""

    __tablename__ = "fair_clock"

    id: int = Field(default=1, primary_key=True)
    virtual_time: int = Field(default=0, sa_type=BigInteger)


# --- webhooks (coderun_api.webhooks) --------------------------------------------------------


class WebhookSecret(SQLModel, table=True):
    """One account's signing secret. Stored as is: the sender needs it to sign (an HMAC
    key cannot be kept hashed); it is shown to its owner only once, at rotation."""

    __tablename__ = "webhook_secret"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    secret: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    # The secret before the last rotation, still signing until previous_valid_until.
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_valid_until: datetime | None = Field(default=None, sa_column=_utc_column())


class WebhookDelivery(SQLModel, table=True):
    """The POST of one job's final result to its callbackUrl, made at submit time; the
    sender claims it (lease_owner, lease_until) once the job is final, until a 2xx."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "state", "next_attempt_at"),)

    # The webhook-id header: the same on every attempt, so receivers deduplicate by it.
    id: str = Field(primary_key=True, max_length=40)
    job_id: str = Field(foreign_key="job.id", unique=True, max_length=32)
    account_id: int = Field(foreign_key="account.id", index=True)
    url: str = Field(sa_type=Text)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    # NULL while pending: due as soon as the job is final.
    next_attempt_at: datetime | None = Field(default=None, sa_column=_utc_column())
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc_column())
    created_at: datetime = Field(default_factory=utc_now, sa_column=_utc_column(nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=_utc_column())


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_delivery.id", index=True, max_length=40)
    attempt: int
    attempted_at: datetime = Field(sa_column=_utc_column(nullable=False))
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0
