"""Batch submissions (judge mode, docs/api.md "Batch"): up to 20 submissions in one request,
and many results fetched at once.

Each item is a submit body and is handled exactly as POST /api/v1/runner/submit handles one
(runner.accept_submission): validated on its own, counted against the rate limit and the
credits on its own, so one bad item does not reject the others. An Idempotency-Key on the
batch gives item i the key "<key>#<i>", so a retried batch answers the same jobIds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from coderun_api.deps import CurrentPrincipal, StateDep, submit_rate_limit
from coderun_api.envelope import ApiError, Envelope, describe_validation_error, ok, refusal
from coderun_api.results import JOB_ID, CamelModel, JobResult
from coderun_api.routes.runner import (
    MAX_IDEMPOTENCY_KEY,
    SUBMITTED_STATUS,
    SubmitRequest,
    accept_submission,
    check_idempotency_key,
    idempotency_key_header,
)

router = APIRouter(prefix="/api/v1/runner/submissions", tags=["runner"])

MAX_BATCH = 20
# Room for "#19" after the caller's key in the column.
MAX_BATCH_KEY = MAX_IDEMPOTENCY_KEY - 5
ERROR_TYPES = {
    400: "BadRequest",
    402: "PaymentRequired",
    409: "Conflict",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


class BatchRequest(BaseModel):
    submissions: list[dict[str, Any]] = Field(
        description=f"1 to {MAX_BATCH} submit bodies (see POST /api/v1/runner/submit).",
    )


class ItemError(BaseModel):
    """Why one item of a batch was refused, or why its result is missing."""

    type: str = Field(
        description="BadRequest, PaymentRequired, Conflict, TooManyRequests, "
        "ServiceUnavailable; NotFound for an unknown jobId."
    )
    code: int = Field(description="The HTTP status the single route would have answered.")
    message: str = Field(description="What to fix, as the single route would say it.")


class BatchAccepted(CamelModel):
    index: int = Field(description="The item's place in `submissions`, from 0.")
    job_id: str = Field(description=JOB_ID)
    status: str = Field(description=SUBMITTED_STATUS)


class BatchRefused(CamelModel):
    index: int = Field(description="The item's place in `submissions`, from 0.")
    error: ItemError


class BatchSubmitted(BaseModel):
    submissions: list[BatchAccepted | BatchRefused] = Field(
        description="One answer per item, in order: its jobId, or its error."
    )


class ResultMissing(CamelModel):
    job_id: str
    error: ItemError


class BatchResults(BaseModel):
    submissions: list[JobResult | ResultMissing] = Field(
        description="Each job's result, in the order asked; an unknown jobId's error in its place."
    )


def _refused(index: int, code: int, message: str) -> BatchRefused:
    return BatchRefused(
        index=index,
        error=ItemError(type=ERROR_TYPES.get(code, "Error"), code=code, message=message),
    )


@router.post(
    "/batch",
    summary="Submit up to 20 programs at once",
    description=(
        "Answers, in order, a jobId or an error for each item; one bad item does not "
        "reject the others. Rate limits and credits count each item. With an "
        "`Idempotency-Key`, a retried batch returns the same jobIds."
    ),
    responses={400: refusal(400, "submissions has 21 items; send 1 to 20")},
)
def submit_batch(
    response: Response,
    body: BatchRequest,
    principal: CurrentPrincipal,
    state: StateDep,
    idempotency_key: Annotated[str | None, idempotency_key_header("batch", MAX_BATCH_KEY)] = None,
) -> Envelope[BatchSubmitted]:
    check_idempotency_key(idempotency_key, MAX_BATCH_KEY)
    if not 1 <= len(body.submissions) <= MAX_BATCH:
        raise ApiError(
            400,
            f"submissions has {len(body.submissions)} items; send 1 to {MAX_BATCH}",
        )
    answers: list[BatchAccepted | BatchRefused] = []
    replayed = 0
    for index, raw in enumerate(body.submissions):
        key = None if idempotency_key is None else f"{idempotency_key}#{index}"
        try:
            # Counted first, as the single route's dependency is: every item counts.
            submit_rate_limit(principal, state)
            try:
                item = SubmitRequest.model_validate(raw)
            except ValidationError as invalid:
                message = describe_validation_error(RequestValidationError(invalid.errors()))
                raise ApiError(400, message) from None
            accepted = accept_submission(item, principal, state, key)
        except ApiError as error:
            answers.append(_refused(index, error.code, error.message))
            continue
        replayed += 0 if accepted.created else 1
        answers.append(
            BatchAccepted(index=index, job_id=accepted.job.id, status=accepted.job.status)
        )
    if replayed and replayed == len(answers):
        response.headers["Idempotent-Replayed"] = "true"
    return ok(BatchSubmitted(submissions=answers), "batch submitted")


@router.get(
    "/batch",
    summary="Get many results at once",
    description=(
        f"`jobIds`: up to {MAX_BATCH * 5} comma-separated jobIds. Answers each job's result "
        "data in the order asked; an unknown (or another account's) jobId gets "
        '`{"jobId": ..., "error": {...}}` in its place.'
    ),
    responses={400: refusal(400, "jobIds is empty; send ?jobIds=a,b,c")},
)
async def get_batch(
    principal: CurrentPrincipal,
    state: StateDep,
    job_ids: Annotated[str, Query(alias="jobIds", description="Comma-separated jobIds.")],
) -> Envelope[BatchResults]:
    ids = [part.strip() for part in job_ids.split(",") if part.strip()]
    if not ids:
        raise ApiError(400, "jobIds is empty; send ?jobIds=a,b,c")
    if len(ids) > MAX_BATCH * 5:
        raise ApiError(400, f"jobIds has {len(ids)} ids; at most {MAX_BATCH * 5} at once")
    found = await run_in_threadpool(state.jobs.get_many_for_account, ids, principal.account_id)
    items: list[JobResult | ResultMissing] = []
    for job_id in ids:
        job = found.get(job_id)
        if job is None:
            missing = ItemError(type="NotFound", code=404, message=f"job {job_id} not found")
            items.append(ResultMissing(job_id=job_id, error=missing))
        else:
            items.append(JobResult.of(job))
    return ok(BatchResults(submissions=items), "job results fetched successfully")
