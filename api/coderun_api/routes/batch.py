"""Batch submissions (judge mode, docs/api.md "Batch"): up to 20 submissions in one request,
and many results fetched at once.

Each item is a submit body and is handled exactly as POST /api/v1/runner/submit handles one
(runner.accept_submission): validated on its own, counted against the rate limit and the
credits on its own, so one bad item does not reject the others. An Idempotency-Key on the
batch gives item i the key "<key>#<i>", so a retried batch answers the same jobIds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from coderun_api.deps import CurrentPrincipal, StateDep, submit_rate_limit
from coderun_api.envelope import ApiError, describe_validation_error, openapi_example, respond
from coderun_api.jobs import job_data
from coderun_api.routes.runner import SubmitRequest, accept_submission

router = APIRouter(prefix="/api/v1/runner/submissions", tags=["runner"])

MAX_BATCH = 20
# Room for "#19" after the caller's key in the 255-character column.
MAX_BATCH_KEY = 250
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


def _item_error(index: int, code: int, message: str) -> dict[str, Any]:
    return {
        "index": index,
        "error": {"type": ERROR_TYPES.get(code, "Error"), "code": code, "message": message},
    }


@router.post(
    "/batch",
    summary="Submit up to 20 programs at once",
    description=(
        "Answers, in order, a jobId or an error for each item; one bad item does not "
        "reject the others. Rate limits and credits count each item. With an "
        "`Idempotency-Key`, a retried batch returns the same jobIds."
    ),
    responses={
        200: openapi_example(
            200,
            "batch submitted",
            {
                "submissions": [
                    {"index": 0, "jobId": "694736e4b1f2f3fedab4d30f", "status": "queued"},
                    {
                        "index": 1,
                        "error": {
                            "type": "BadRequest",
                            "code": 400,
                            "message": "unsupported language 'ruby'; supported: python, "
                            "javascript, cpp, java",
                        },
                    },
                ]
            },
        ),
        400: openapi_example(400, "submissions has 21 items; at most 20 are allowed"),
    },
)
def submit_batch(
    request_: Request,
    body: BatchRequest,
    principal: CurrentPrincipal,
    state: StateDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=f"A unique string per batch, at most {MAX_BATCH_KEY} chars.",
            json_schema_extra={"minLength": 1, "maxLength": MAX_BATCH_KEY},
        ),
    ] = None,
) -> JSONResponse:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_BATCH_KEY:
        raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_BATCH_KEY} characters")
    if not 1 <= len(body.submissions) <= MAX_BATCH:
        raise ApiError(
            400,
            f"submissions has {len(body.submissions)} items; send 1 to {MAX_BATCH}",
        )
    answers: list[dict[str, Any]] = []
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
            answers.append(_item_error(index, error.code, error.message))
            continue
        replayed += 0 if accepted.created else 1
        answers.append({"index": index, "jobId": accepted.job.id, "status": accepted.job.status})
    headers = {"Idempotent-Replayed": "true"} if replayed and replayed == len(answers) else {}
    return respond({"submissions": answers}, "batch submitted", headers=headers)


@router.get(
    "/batch",
    summary="Get many results at once",
    description=(
        f"`jobIds`: up to {MAX_BATCH * 5} comma-separated jobIds. Answers each job's result "
        "data in the order asked; an unknown (or another account's) jobId gets "
        '`{"jobId": ..., "error": {...}}` in its place.'
    ),
    responses={
        400: openapi_example(400, "jobIds is empty; send ?jobIds=a,b,c"),
    },
)
async def get_batch(
    principal: CurrentPrincipal,
    state: StateDep,
    job_ids: Annotated[str, Query(alias="jobIds", description="Comma-separated jobIds.")],
) -> JSONResponse:
    ids = [part.strip() for part in job_ids.split(",") if part.strip()]
    if not ids:
        raise ApiError(400, "jobIds is empty; send ?jobIds=a,b,c")
    if len(ids) > MAX_BATCH * 5:
        raise ApiError(400, f"jobIds has {len(ids)} ids; at most {MAX_BATCH * 5} at once")
    found = await run_in_threadpool(state.jobs.get_many_for_account, ids, principal.account_id)
    items: list[dict[str, Any]] = []
    for job_id in ids:
        job = found.get(job_id)
        if job is None:
            items.append(
                {
                    "jobId": job_id,
                    "error": {
                        "type": "NotFound",
                        "code": 404,
                        "message": f"job {job_id} not found",
                    },
                }
            )
        else:
            items.append(job_data(job))
    return respond({"submissions": items}, "job results fetched successfully")
