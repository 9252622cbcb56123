"""The runner API of docs/api.md: submit code, fetch (or wait for) its result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from coderun_sandbox.contract import InvalidRequest, Status
from coderun_sandbox.languages import languages
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field, StrictStr

from coderun_api.deps import CurrentPrincipal, StateDep, submit_rate_limit
from coderun_api.envelope import ApiError, Envelope, ok, refusal
from coderun_api.jobs import Accepted, IdempotencyConflict, NoCredits
from coderun_api.judging import JudgeFields, request_and_spec
from coderun_api.logs import job_log
from coderun_api.models import Job
from coderun_api.results import JOB_ID, CamelModel, JobResult, result_envelope
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


SUBMITTED_STATUS = "queued (or, for an Idempotency-Key replay, its status now)."


class Submitted(CamelModel):
    """An accepted submission: poll its result with the jobId."""

    job_id: str = Field(description=JOB_ID)
    status: str = Field(description=SUBMITTED_STATUS)


# The jobs table's idempotency_key column holds 255 characters.
MAX_IDEMPOTENCY_KEY = 255


def idempotency_key_header(per: str, longest: int) -> Any:
    """The Idempotency-Key header, its bounds declared for generated clients (the route
    checks them with `check_idempotency_key`, whose message says so)."""
    return Header(
        alias="Idempotency-Key",
        description=f"A unique string (e.g. a UUID) per {per}, at most {longest} chars.",
        json_schema_extra={"minLength": 1, "maxLength": longest},
    )


def check_idempotency_key(key: str | None, longest: int) -> None:
    if key is not None and not 1 <= len(key) <= longest:
        raise ApiError(400, f"Idempotency-Key must be 1 to {longest} characters")


NO_KEY = refusal(401, "missing X-API-KEY header: send your API key in the X-API-KEY header")
SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: refusal(400, "unsupported language 'ruby'; supported: python, javascript, cpp, java"),
    401: NO_KEY,
    402: refusal(402, "no credits left: each successful run costs 1 credit"),
    409: refusal(409, "Idempotency-Key was already used with a different request body"),
    413: refusal(413, "request body is larger than 262144 bytes"),
    429: refusal(429, "too many submissions: the limit is 60/minute per API key"),
    503: refusal(503, "rate limiting is unavailable (Redis); retry shortly"),
}


@router.post(
    "/submit",
    summary="Submit code to run",
    description=(
        "Queues the program and returns its `jobId` at once. Send an `Idempotency-Key` "
        "header to make retries safe: a repeated key with the same body returns the same job. "
        "Costs nothing now; a run that ends with status `success` costs 1 credit."
    ),
    response_description="Queued. Poll the result with the jobId.",
    responses=SUBMIT_RESPONSES,
    dependencies=[Depends(submit_rate_limit)],
)
def submit(
    request_: Request,
    response: Response,
    body: SubmitRequest,
    principal: CurrentPrincipal,
    state: StateDep,
    idempotency_key: Annotated[
        str | None, idempotency_key_header("submission", MAX_IDEMPOTENCY_KEY)
    ] = None,
) -> Envelope[Submitted]:
    check_idempotency_key(idempotency_key, MAX_IDEMPOTENCY_KEY)
    accepted = accept_submission(body, principal, state, idempotency_key)
    request_.state.job_id = accepted.job.id  # for the access log line
    if not accepted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return ok(
        Submitted(job_id=accepted.job.id, status=accepted.job.status),
        "job submitted successfully",
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
        request.validate(languages())
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
    response_description="The job",
    responses={401: NO_KEY, 404: refusal(404, "job not found")},
)
async def result(
    jobId: Annotated[str, Path(description="The jobId that submit returned.")],
    principal: CurrentPrincipal,
    state: StateDep,
    wait: Annotated[
        float,
        Query(ge=0, description="Seconds to wait for a final status (capped at 30)."),
    ] = 0,
) -> Envelope[JobResult]:
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
    return result_envelope(job)
