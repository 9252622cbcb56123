"""The job result as the API answers it: the seed's fields plus the contract's measurements.

One pydantic model, so the OpenAPI document describes exactly what `job_data` sends, with
the time fields defined once (coderun_operator.time_fields).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from coderun_operator import time_fields as t
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Data = TypeVar("Data")


class CaseResultOut(BaseModel):
    """One test case's result (judge mode, docs/api.md)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    index: int = Field(description="The case's place in testCases, from 0.")
    status: str = Field(description="success, failed or skipped.")
    sandbox_error_type: str | None = Field(
        description="Null, a seed error type, or WrongAnswer (the output did not match)."
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


class JobResult(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    job_id: str = Field(description="Unique identifier of the job (24 hex characters).")
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

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class JobPage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    items: list[JobResult] = Field(description="The jobs, newest first.")
    page: int
    page_size: int
    total: int = Field(description="Jobs matching the filters, on all pages.")


class Envelope(BaseModel, Generic[Data]):
    """The seed's response envelope, for the OpenAPI document (envelope.py sends it)."""

    code: int = Field(description="The HTTP status, repeated.")
    success: bool
    message: str
    data: Data | None
