"""The webhook sender: claims due deliveries and POSTs each job's final result, signed.

One per API process, in a thread of its own running an asyncio loop, so a few slow
receivers cost tasks, not threads. A finalization anywhere wakes it at once (the job
notifier's final listener, across replicas through Redis); otherwise it looks for due
retries every `webhook_poll_seconds`. Which process sends a delivery is decided by the
lease in the database (store.py), never by who learned of the job first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta

from coderun_sandbox.contract import utc_now

from coderun_api import metrics
from coderun_api.config import Settings
from coderun_api.jobs import JobStore
from coderun_api.logs import job_log
from coderun_api.notify import JobNotifier
from coderun_api.results import result_envelope
from coderun_api.webhooks.signing import webhook_headers
from coderun_api.webhooks.ssrf import (
    Allowlist,
    CallbackRefused,
    Resolver,
    check_url,
    post_to_target,
    system_resolver,
)
from coderun_api.webhooks.store import Claimed, Outcome, WebhookStore

log = logging.getLogger(__name__)

USER_AGENT = "CodeRun-Webhooks/1"


def result_body(job_store: JobStore, job_id: str) -> bytes:
    job = job_store.get(job_id)
    if job is None:
        raise LookupError(job_id)
    # The same envelope, serialized the same way, as GET .../result answers; the signature
    # covers these bytes.
    return result_envelope(job).model_dump_json(by_alias=True).encode()


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        store: WebhookStore,
        jobs: JobStore,
        notifier: JobNotifier,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.notifier = notifier
        self.resolver = resolver
        self.allowlist = Allowlist.parse(settings.webhook_allowlist_entries)
        self.owner = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
        # Well beyond one attempt's time limit: a lease never lapses under a live attempt.
        self.lease = timedelta(seconds=settings.webhook_timeout_seconds * 3 + 30)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.notifier.add_final_listener(lambda _job_id: self.wake())
        self._thread = threading.Thread(target=self._main, name="coderun-webhooks", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_seconds + 5)
            self._thread = None
        try:
            self.store.release(self.owner)
        except Exception:  # the database may be gone at shutdown; the leases lapse anyway
            log.warning("could not release webhook leases at shutdown")

    def wake(self) -> None:
        """From any thread: look for due deliveries now."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ready.set()
        in_flight: set[asyncio.Task[None]] = set()
        while not self._stopping.is_set():
            self._wake.clear()
            free = self.settings.webhook_concurrency - len(in_flight)
            if free > 0:
                try:
                    claimed = await asyncio.to_thread(
                        self.store.claim_due, self.owner, free, self.lease
                    )
                except Exception as error:  # e.g. the database is down: try again later
                    log.warning("could not claim webhook deliveries: %s", error)
                    claimed = []
                for item in claimed:
                    task = asyncio.create_task(self._deliver(item))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    # A finished task frees a slot: look again at once.
                    task.add_done_callback(lambda _task: self._wake_now())
                if len(claimed) == free:
                    continue  # perhaps more are due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_seconds)
        if in_flight:
            await asyncio.wait(in_flight, timeout=self.settings.webhook_timeout_seconds + 2)

    def _wake_now(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- one attempt ---------------------------------------------------------------------

    async def _deliver(self, claimed: Claimed) -> None:
        started = time.monotonic()
        attempted_at = utc_now()
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = await asyncio.wait_for(
                self._attempt(claimed), self.settings.webhook_timeout_seconds
            )
        except TimeoutError:
            error = f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except CallbackRefused as refused:
            error = str(refused)
        except Exception as failure:  # connection refused, reset, TLS, ...
            error = f"{type(failure).__name__}: {failure}".strip().rstrip(":")
        if status_code is not None and not 200 <= status_code < 300:
            error = (
                f"HTTP {status_code} (redirects are not followed)"
                if 300 <= status_code < 400
                else f"HTTP {status_code}"
            )
        outcome = Outcome(
            status_code=status_code,
            error=error,
            duration_ms=round((time.monotonic() - started) * 1000),
            attempted_at=attempted_at,
        )
        try:
            state = await asyncio.to_thread(self.store.record_attempt, claimed, self.owner, outcome)
        except Exception as failure:  # the lease lapses and the delivery is tried again
            log.warning("could not record a webhook attempt: %s", failure)
            return
        metrics.WEBHOOK_ATTEMPTS.labels(outcome="retry" if state == "pending" else state).inc()
        if state == "delivered":
            metrics.WEBHOOK_LATENCY.observe(
                max(0.0, (utc_now() - claimed.final_at).total_seconds())
            )
        log.info(
            "webhook attempt",
            extra=job_log(
                claimed.job_id,
                deliveryId=claimed.delivery_id,
                attempt=claimed.attempts + 1,
                statusCode=status_code,
                error=error,
                state=state,
            ),
        )

    async def _attempt(self, claimed: Claimed) -> int:
        # Checked again now: the name may resolve elsewhere than at submit. The connection
        # goes to the address checked here (ssrf.py).
        target = await asyncio.to_thread(check_url, claimed.url, self.allowlist, self.resolver)
        body = await asyncio.to_thread(result_body, self.jobs, claimed.job_id)
        signing = await asyncio.to_thread(self.store.signing_secrets, claimed.account_id)
        if not signing:
            raise CallbackRefused("the account has no webhook secret")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **webhook_headers(signing, claimed.delivery_id, int(time.time()), body),
        }
        response = await post_to_target(
            target,
            headers,
            body,
            timeout=self.settings.webhook_timeout_seconds,
            max_response_bytes=self.settings.webhook_max_response_bytes,
        )
        return response.status_code
