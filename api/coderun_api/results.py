"""The job result as the API answers it: the v1 API's fields (docs/api.md) plus the
contract's measurements, and judge mode's per-case results.

`JobResult.of(job)` is the one way a job row becomes what the API sends: the result route,
lists of jobs, batches, the event stream's `result` event and webhook bodies. The time
fields' definitions live in coderun_operator.time_fields.
"""

from __future__ import annotations

from datetime import datetime

from coderun_operator import time_fields as t
from coderun_sandbox.contract import iso_utc, ms_between
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from coderun_api.envelope import Envelope, ok
from coderun_api.judging import case_results
from coderun_api.models import Job

# The message of a result envelope, wherever it is sent (GET .../result, the event
# stream's `result` event, webhook bodies).
RESULT_MESSAGE = "job result fetched successfully"
JOB_ID = "Unique identifier of the job (24 hex characters)."


class CamelModel(BaseModel):
    """A response object: Python names in code, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def iso_or_none(moment: datetime | None) -> str | None:
    """A timestamp as the API writes it (contract.iso_utc), or None."""
    return iso_utc(moment) if moment is not None else None


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def execution_time_ms(started_at: datetime | None, finished_at: datetime | None) -> int | None:
    """The v1 API's executionTimeMs, from the millisecond timestamps the client sees; the
    one definition that results, history and the dashboard's aggregates all use."""
    if started_at is None or finished_at is None:
        return None
    return ms_between(_to_ms(started_at), _to_ms(finished_at))


class CaseResultOut(CamelModel):
    """One test case's result (judge mode, docs/api.md)."""

    index: int = Field(description="The case's place in testCases, from 0.")
    status: str = Field(description="success, failed or skipped.")
    sandbox_error_type: str | None = Field(
        description="Null, an error type of the result, or WrongAnswer (the output did not match)."
    )
    sandbox_error_message: str = Field(description='What went wrong; "" on success.')
    stdout: str = Field(description="The case's stdout, up to its cap (docs/api.md).")
    stderr: str = Field(description="The case's stderr, up to its cap.")
    stdout_truncated: bool
    stderr_truncated: bool
    exit_code: int | None
    execution_time_ms: int | None = Field(description="The case's run time (wall), ms.")
    cpu_time_ms: int | None
    memory_kb: int | None = Field(description="The case's peak memory, KiB.")
    passed: bool | None = Field(
        description="Whether the output matched; null without an expected output or if skipped."
    )


class JobResult(CamelModel):
    """A job's state and, once final, its result (GET /api/v1/runner/{jobId}/result)."""

    job_id: str = Field(description=JOB_ID)
    status: str = Field(description="queued, running, success or failed.")
    language: str = Field(description="python, javascript, cpp or java.")
    stdout: str = Field(description="The program's standard output, up to 64 KiB.")
    stderr: str = Field(description="The program's standard error, up to 64 KiB.")
    execution_time_ms: int | None = Field(description=t.EXECUTION_TIME_MS)
    queue_time_ms: int | None = Field(description=t.QUEUE_TIME_MS)
    total_time_ms: int | None = Field(description=t.TOTAL_TIME_MS)
    exit_code: int | None = Field(
        description="The program's exit code (128+signal if killed); null if it never ran."
    )
    sandbox_error_type: str | None = Field(
        description="Null, or TLE, MLE, CompilationError, RuntimeError, SandboxError, "
        "InternalError; with test cases also WrongAnswer (the first failing case's)."
    )
    sandbox_error_message: str = Field(description='What went wrong, for a person; "" on success.')
    queued_at: str = Field(description="When the job was accepted (ISO-8601 UTC, milliseconds).")
    started_at: str | None = Field(
        description="When the job left the queue and a sandbox started on it."
    )
    finished_at: str | None = Field(description="When the job's result was final.")
    run_time_ms: int | None = Field(description=t.RUN_TIME_MS)
    cpu_time_ms: int | None = Field(description=t.CPU_TIME_MS)
    memory_kb: int | None = Field(description="Peak memory of the program's processes, KiB.")
    compile_time_ms: int | None = Field(description=t.COMPILE_TIME_MS)
    stdout_truncated: bool = Field(description="True if stdout was cut at 64 KiB.")
    stderr_truncated: bool = Field(description="True if stderr was cut at 64 KiB.")
    test_cases: list[CaseResultOut] | None = Field(
        default=None,
        description="Judge mode: one result per test case, in order, once the job is final "
        "(null for a run without cases, and in lists of jobs).",
    )
    test_cases_passed: int | None = Field(
        default=None, description="Judge mode: cases whose output matched (null until final)."
    )
    test_cases_total: int | None = Field(default=None, description="Judge mode: the cases.")

    @classmethod
    def of(cls, job: Job, *, with_cases: bool = True) -> JobResult:
        """The job's result; judge mode's per-case results unless `with_cases` is False
        (lists of jobs carry only the passed/total counts)."""
        # The v1 API's arithmetic holds exactly: executionTimeMs = finishedAt - startedAt
        # (compile included) and totalTimeMs = queueTimeMs + executionTimeMs; the program's
        # own run time is runTimeMs. All come from the millisecond timestamps the client
        # sees, so its own arithmetic agrees.
        queued = _to_ms(job.queued_at)
        started = _to_ms(job.started_at) if job.started_at else None
        queue_ms = ms_between(queued, started) if started else None
        execution_ms = execution_time_ms(job.started_at, job.finished_at)
        total_ms = None if queue_ms is None or execution_ms is None else queue_ms + execution_ms
        cases = case_results(job) if with_cases else None
        return cls(
            job_id=job.id,
            status=job.status,
            language=job.language,
            stdout=job.stdout,
            stderr=job.stderr,
            execution_time_ms=execution_ms,
            queue_time_ms=queue_ms,
            total_time_ms=total_ms,
            exit_code=job.exit_code,
            sandbox_error_type=job.error_type,
            sandbox_error_message=job.error_message,
            queued_at=iso_utc(job.queued_at),
            started_at=iso_or_none(job.started_at),
            finished_at=iso_or_none(job.finished_at),
            run_time_ms=job.execution_time_ms,
            cpu_time_ms=job.cpu_time_ms,
            memory_kb=job.memory_kb,
            compile_time_ms=job.compile_time_ms,
            stdout_truncated=job.stdout_truncated,
            stderr_truncated=job.stderr_truncated,
            test_cases=None if cases is None else [CaseResultOut.model_validate(c) for c in cases],
            test_cases_passed=job.test_cases_passed,
            test_cases_total=job.test_cases_total,
        )


def result_envelope(job: Job) -> Envelope[JobResult]:
    """The answer of GET .../result for a job, also the `result` event and a webhook body."""
    return ok(JobResult.of(job), RESULT_MESSAGE)


class JobPage(CamelModel):
    items: list[JobResult] = Field(description="The jobs, newest first.")
    page: int
    page_size: int
    total: int = Field(description="Jobs matching the filters, on all pages.")
