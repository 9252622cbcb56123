"""The seed's runner API: submit code, fetch (or wait for) its result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from coderun_sandbox.contract import InvalidRequest, Status
from coderun_sandbox.languages import supported
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, StrictStr

from coderun_api.deps import CurrentPrincipal, StateDep, submit_rate_limit
from coderun_api.envelope import ApiError, openapi_example, respond
from coderun_api.jobs import Accepted, IdempotencyConflict, NoCredits, job_data
from coderun_api.judging import JudgeFields, request_and_spec
from coderun_api.logs import job_log
from coderun_api.models import Job
from coderun_api.results import Envelope, JobResult
from coderun_api.webhooks.callbacks import check_callback, record_callback

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/runner", tags=["runner"])


class SubmitRequest(JudgeFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "print('Hello, World!')", "language": "python", "input": ""}]
        }
    )

    code: StrictStr
    language: StrictStr
    input: StrictStr = ""
    callback_url: StrictStr | None = Field(
        default=None,
        alias="callbackUrl",
        description="POST the final result here, signed (docs/webhooks.md). Needs a webhook "
        "secret; must reach a public address.",
    )


SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: openapi_example(
        200,
        "job submitted successfully",
        {"jobId": "694736e4b1f2f3fedab4d30f", "status": "queued"},
        description="Queued. Poll the result with the jobId.",
    ),
    400: openapi_example(
        400, "unsupported language 'ruby'; supported: python, javascript, cpp, java"
    ),
    401: openapi_example(
        401, "missing X-API-KEY header: send your API key in the X-API-KEY header"
    ),
    402: openapi_example(402, "no credits left: each successful run costs 1 credit"),
    409: openapi_example(409, "Idempotency-Key was already used with a different request body"),
    413: openapi_example(413, "request body is larger than 262144 bytes"),
    429: openapi_example(429, "too many submissions: the limit is 60/minute per API key"),
    503: openapi_example(503, "rate limiting is unavailable (Redis); retry shortly"),
}

RESULT_EXAMPLE = {
    "jobId": "695bd82641bcbdea08ee3fbc",
    "status": "success",
    "language": "cpp",
    "stdout": "Hello Neuron",
    "stderr": "",
    "executionTimeMs": 802,
    "queueTimeMs": 132,
    "totalTimeMs": 934,
    "exitCode": 0,
    "sandboxErrorType": None,
    "sandboxErrorMessage": "",
    "queuedAt": "2026-01-05T15:26:30.796Z",
    "startedAt": "2026-01-05T15:26:30.928Z",
    "finishedAt": "2026-01-05T15:26:31.730Z",
    "runTimeMs": 152,
    "cpuTimeMs": 4,
    "memoryKb": 3500,
    "compileTimeMs": 610,
    "stdoutTruncated": False,
    "stderrTruncated": False,
}


@router.post(
    "/submit",
    summary="Submit code to run",
    description=(
        "Queues the program and returns its `jobId` at once. Send an `Idempotency-Key` "
        "header to make retries safe: a repeated key with the same body returns the same job. "
        "Costs nothing now; a run that ends with status `success` costs 1 credit."
    ),
    responses=SUBMIT_RESPONSES,
    dependencies=[Depends(submit_rate_limit)],
)
def submit(
    request_: Request,
    body: SubmitRequest,
    principal: CurrentPrincipal,
    state: StateDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A unique string (e.g. a UUID) per submission, at most 255 chars.",
            # Declared for generated clients; checked below with a message that says so.
            json_schema_extra={"minLength": 1, "maxLength": 255},
        ),
    ] = None,
) -> JSONResponse:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise ApiError(400, "Idempotency-Key must be 1 to 255 characters")
    accepted = accept_submission(body, principal, state, idempotency_key)
    request_.state.job_id = accepted.job.id  # for the access log line
    headers = {} if accepted.created else {"Idempotent-Replayed": "true"}
    return respond(
        {"jobId": accepted.job.id, "status": accepted.job.status},
        "job submitted successfully",
        headers=headers,
    )


def accept_submission(
    body: SubmitRequest,
    principal: CurrentPrincipal,
    state: StateDep,
    idempotency_key: str | None,
) -> Accepted:
    """Validate, store and hand over one submission (the single route and each item of a
    batch); raises ApiError with what to fix."""
    request, judge = request_and_spec(body.language, body.code, body.input, body)
    try:
        request.validate(supported())
    except InvalidRequest as invalid:
        raise ApiError(400, str(invalid)) from None
    if body.callback_url is not None:
        check_callback(state, principal.account_id, body.callback_url)
    try:
        accepted = state.jobs.accept(
            principal.account_id,
            request,
            idempotency_key=idempotency_key,
            owner=state.executor.lease_owner,
            judge=judge,
        )
    except NoCredits as short:
        if short.needed > 1:
            raise ApiError(
                402,
                f"not enough credits: this submission's {short.needed} test cases reserve "
                f"{short.needed} credits (one per case; only successful cases are charged), "
                f"and {short.available} are available (your balance less what runs still "
                "queued or running reserve)",
            ) from None
        raise ApiError(
            402,
            "no credits left: your balance is used up (or reserved by runs still queued or "
            "running); each successful run costs 1 credit",
        ) from None
    except IdempotencyConflict:
        raise ApiError(
            409,
            "Idempotency-Key was already used with a different request body; "
            "use a new key for a new submission",
        ) from None
    if body.callback_url is not None:
        # Before the hand-over, so the job cannot be final without its delivery row; also on
        # a replay, in case the first request died between the two writes.
        record_callback(state, accepted.job.id, principal.account_id, body.callback_url)
    if accepted.created:
        try:
            state.executor.submit(accepted.job.id)
        except Exception:
            # The job is committed: the executor's recovery (lease expiry, or the Kubernetes
            # reconciler) picks it up, so the client still gets its jobId.
            log.exception("handing the job to the executor failed", extra=job_log(accepted.job.id))
    return accepted


@router.get(
    "/{jobId}/result",
    summary="Get a job's result",
    description=(
        "Returns the job's current state. Poll until `status` is neither `queued` nor "
        "`running`, or pass `?wait=N` (seconds, at most 30) to have the server answer as "
        "soon as the job is final. Another account's jobId is a 404."
    ),
    responses={
        200: {
            **openapi_example(
                200, "job result fetched successfully", RESULT_EXAMPLE, description="The job"
            ),
            "model": Envelope[JobResult],
        },
        401: openapi_example(
            401, "missing X-API-KEY header: send your API key in the X-API-KEY header"
        ),
        404: openapi_example(404, "job not found"),
    },
)
async def result(
    jobId: Annotated[str, Path(description="The jobId that submit returned.")],
    principal: CurrentPrincipal,
    state: StateDep,
    wait: Annotated[
        float,
        Query(ge=0, description="Seconds to wait for a final status (capped at 30)."),
    ] = 0,
) -> JSONResponse:
    job_id = jobId
    account_id = principal.account_id
    timeout = min(wait, state.settings.max_wait_seconds)
    event = state.notifier.register(job_id) if timeout > 0 else None
    try:
        job: Job | None = await run_in_threadpool(state.jobs.get_for_account, job_id, account_id)
        if job is None:
            raise ApiError(404, f"job {job_id} not found")
        if event is not None and not Status(job.status).is_final:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
            job = await run_in_threadpool(state.jobs.get_for_account, job_id, account_id)
            assert job is not None
    finally:
        if event is not None:
            state.notifier.unregister(job_id, event)
    return respond(job_data(job), "job result fetched successfully")
