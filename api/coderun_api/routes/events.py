"""`GET /api/v1/runner/{jobId}/events`: the job's state changes as Server-Sent Events.

The events are derived from the job's row, not stored: 1 `status` queued, 2 `status`
running (once it started), 3 `result` with the whole result envelope (once final). So a
stream that connects late, or resumes with Last-Event-ID after a dropped connection, gets
exactly the events after that id, in order, from whichever replica it reaches. Changes
wake the stream through the job notifier (Redis pub/sub across replicas); it also looks
again at every keep-alive, so a lost notification delays an event, never drops it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from coderun_sandbox.contract import Status
from fastapi import APIRouter, Header, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from coderun_api import metrics
from coderun_api.deps import CurrentPrincipal, StateDep
from coderun_api.envelope import ApiError, refusal
from coderun_api.models import Job
from coderun_api.notify import stamp_now
from coderun_api.results import result_envelope
from coderun_api.state import AppState

router = APIRouter(prefix="/api/v1/runner", tags=["runner"])

QUEUED_ID, RUNNING_ID, RESULT_ID = 1, 2, 3
KEEPALIVE_SECONDS = 15.0

Event = tuple[int, str, dict[str, Any]]


def job_events(job: Job) -> list[Event]:
    """Every event the job's state implies so far, in order."""
    events: list[Event] = [(QUEUED_ID, "status", {"jobId": job.id, "status": "queued"})]
    final = Status(job.status).is_final
    # attempts counts the starts (mark_running): a job failed before it ever started (an
    # internal error at hand-over) goes from queued straight to its result.
    if job.status == Status.RUNNING.value or (final and job.attempts > 0):
        events.append((RUNNING_ID, "status", {"jobId": job.id, "status": "running"}))
    if final:
        events.append((RESULT_ID, "result", result_envelope(job).model_dump(by_alias=True)))
    return events


def format_event(event_id: int, name: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {name}\ndata: {payload}\n\n"


def _last_event_id(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 0
    try:
        return max(0, int(value.strip()))
    except ValueError:
        raise ApiError(
            400, "Last-Event-ID must be the id of an event this stream sent (1, 2 or 3)"
        ) from None


# The job's events so far, each as its id and the text sent; made once per read.
Rendered = list[tuple[int, str]]


def _read(state: AppState, job_id: str, account_id: int) -> Rendered | None:
    job = state.jobs.get_for_account(job_id, account_id)
    if job is None:
        return None
    return [
        (event_id, format_event(event_id, name, data)) for event_id, name, data in job_events(job)
    ]


class SharedReads:
    """One database read of a job for all the streams that a change woke at once (a
    thousand viewers of one job cost one query, not a thousand). A stream joins a read only
    if the read began after the change it was woken for (stamps: coderun_api.notify); an
    older read may predate that change."""

    def __init__(self) -> None:
        # Keyed by the app's state too: tests run several apps (replicas) in one process.
        self._reads: dict[tuple[int, str, int], tuple[int, asyncio.Future[Rendered | None]]] = {}

    async def get(
        self, state: AppState, job_id: str, account_id: int, since: int
    ) -> Rendered | None:
        key = (id(state), job_id, account_id)
        found = self._reads.get(key)
        if found is None or found[0] <= since:
            started = stamp_now()
            read = asyncio.ensure_future(run_in_threadpool(_read, state, job_id, account_id))
            found = (started, read)
            self._reads[key] = found

            def forget(
                _done: object, entry: tuple[int, asyncio.Future[Rendered | None]] = found
            ) -> None:
                if self._reads.get(key) is entry:
                    del self._reads[key]

            read.add_done_callback(forget)
        return await asyncio.shield(found[1])


SHARED_READS = SharedReads()


async def _stream(state: AppState, job_id: str, account_id: int, last: int) -> AsyncIterator[str]:
    changed = state.notifier.register_changes(job_id)
    metrics.EVENT_STREAMS.inc()
    try:
        # A dropped connection is retried by EventSource after this many milliseconds.
        yield "retry: 1000\n\n"
        since = stamp_now()  # the first read: one that starts now
        while True:
            changed.clear()  # before the read: a change during it sets it again
            rendered = await SHARED_READS.get(state, job_id, account_id, since)
            if rendered is None:
                return
            for event_id, text in rendered:
                if event_id > last:
                    yield text
                    last = event_id
            if last >= RESULT_ID:
                return
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
                since = changed.stamp
            except TimeoutError:
                yield ": keep-alive\n\n"
                since = stamp_now()
    finally:
        metrics.EVENT_STREAMS.dec()
        state.notifier.unregister_changes(job_id, changed)


@router.get(
    "/{jobId}/events",
    summary="Stream a job's state changes (Server-Sent Events)",
    description=(
        "`text/event-stream` of `status` events (data `{jobId, status}` for queued, then "
        "running) and one `result` event whose data is the same envelope as "
        "`GET .../result`, after which the stream ends. Event ids are 1, 2, 3; reconnect "
        "with `Last-Event-ID` to get only the later ones. Authenticated like the result "
        "route: X-API-KEY, or the dashboard session cookie (EventSource sends cookies)."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The event stream",
            "content": {
                "text/event-stream": {
                    "example": (
                        'id: 1\nevent: status\ndata: {"jobId":"694736e4b1f2f3fedab4d30f",'
                        '"status":"queued"}\n\n'
                    )
                }
            },
        },
        400: refusal(400, "Last-Event-ID must be the id of an event this stream sent"),
        401: refusal(401, "missing X-API-KEY header"),
        404: refusal(404, "job not found"),
    },
)
async def events(
    jobId: Annotated[str, Path(description="The jobId that submit returned.")],
    principal: CurrentPrincipal,
    state: StateDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    last = _last_event_id(last_event_id)
    job = await run_in_threadpool(state.jobs.get_for_account, jobId, principal.account_id)
    if job is None:
        raise ApiError(404, f"job {jobId} not found")
    return StreamingResponse(
        _stream(state, jobId, principal.account_id, last),
        media_type="text/event-stream",
        # no-cache and no proxy buffering: each event must reach the client when sent.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
