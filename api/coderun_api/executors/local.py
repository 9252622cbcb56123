"""The local executor: a bounded pool of worker threads calling the sandbox runner in-process."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from coderun_sandbox.contract import RunRequest, RunResult

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import JobStore
from coderun_api.logs import job_log

log = logging.getLogger(__name__)


def _execute(request: RunRequest) -> RunResult:
    # Imported on first use: the runner needs root and cgroups, the API module does not.
    from coderun_sandbox.runner import execute

    return execute(request)


class LocalExecutor(Executor):
    finalize_attempts = 5
    finalize_first_delay_seconds = 0.5

    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self.owner = f"local:{socket.gethostname()}:{secrets.token_hex(4)}"
        self.lease_owner = self.owner
        self._pool = ThreadPoolExecutor(
            max_workers=settings.local_workers, thread_name_prefix="coderun-worker"
        )
        self._waiting = 0
        # Jobs this process is responsible for right now; only their leases are renewed, so
        # a job whose worker failed (e.g. the database was down at finalize) lapses and is
        # recovered instead of staying `running` under a live owner.
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None

    def start(self) -> None:
        self._recover()
        self._maintenance = threading.Thread(
            target=self._maintain, name="coderun-leases", daemon=True
        )
        self._maintenance.start()

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._waiting += 1
            self._held.add(job_id)
        try:
            self._pool.submit(self._run, job_id)
        except BaseException:
            with self._lock:
                self._waiting -= 1
                self._held.discard(job_id)
            raise

    def stop(self) -> None:
        self._stop.set()
        if self._maintenance is not None:
            self._maintenance.join(timeout=5)
        # Jobs still waiting in the pool stay queued in the database; their leases are
        # released so the next process (or another replica) picks them up at once.
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            released = self.jobs.release_leases(self.owner)
        except Exception:
            log.exception("could not release job leases; they expire on their own")
            return
        if released:
            log.info("left %d unfinished jobs for the next process", released)

    def queue_depth(self) -> int:
        with self._lock:
            return self._waiting

    def _run(self, job_id: str) -> None:
        with self._lock:
            self._waiting -= 1
        try:
            if not self._stop.is_set():
                self._run_held(job_id)
        except Exception:
            log.exception("job failed in the executor; its lease will lapse", extra=job_log(job_id))
        finally:
            with self._lock:
                self._held.discard(job_id)

    def _run_held(self, job_id: str) -> None:
        job = self.jobs.mark_running(job_id)
        if job is None:
            return
        request = RunRequest(language=job.language, code=job.code, input=job.input)
        try:
            result = _execute(request)
        except Exception as error:  # the runner promises not to raise; be honest if it does
            log.exception("runner raised", extra=job_log(job_id))
            self.jobs.fail_internal(job_id, f"the runner failed: {type(error).__name__}")
            return
        self._finalize_with_retries(job_id, result)

    def _finalize_with_retries(self, job_id: str, result: RunResult) -> None:
        """A finished run is worth a few retries (the database may be briefly away)."""
        delay = self.finalize_first_delay_seconds
        for attempt in range(1, self.finalize_attempts + 1):
            try:
                self.jobs.finalize(job_id, result)
                return
            except Exception:
                if attempt == self.finalize_attempts:
                    raise
                log.warning("finalize failed, retrying", extra=job_log(job_id, attempt=attempt))
                self._stop.wait(delay)
                delay *= 2

    def _recover(self) -> None:
        for job in self.jobs.claim_expired(self.owner):
            if job.attempts >= self.settings.max_attempts:
                self.jobs.fail_internal(
                    job.id,
                    f"the server lost this job while running it ({job.attempts} attempts, "
                    "e.g. it restarted); it was not charged, please submit it again",
                )
            else:
                self.submit(job.id)

    def _maintain(self) -> None:
        interval = max(0.2, self.settings.job_lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    held = list(self._held)
                self.jobs.renew_leases(self.owner, held)
                self._recover()
            except Exception:
                log.exception("lease maintenance failed")
