"""The local executor: a fixed set of worker threads calling the sandbox runner in-process.

Workers do not run what this process accepted: each claims the next job from the database's
queue (coderun_api.job_queue), in fair order between accounts and within each account's cap
on running runs, so every replica sharing the database follows one schedule.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading

from coderun_sandbox.contract import RunRequest, RunResult, Status
from coderun_sandbox.judge import JudgeOptions, judge_case

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.job_queue import JobQueue
from coderun_api.jobs import JobStore
from coderun_api.judging import judge_options, request_of
from coderun_api.logs import job_log
from coderun_api.models import Job

log = logging.getLogger(__name__)


def _execute(request: RunRequest, options: JudgeOptions | None = None) -> RunResult:
    # Imported on first use: the runner needs root and cgroups, the API module does not.
    from coderun_sandbox.runner import execute

    if options is None:
        return execute(request)
    # Each case is judged here, in this (trusted) process, once the case's sandbox has
    # ended: the expected outputs never enter a sandbox. JobStore.finalize judges again
    # from the job row, which gives the same verdicts.
    return execute(request, on_case=lambda case: judge_case(case, options))


class LocalExecutor(Executor):
    finalize_attempts = 5
    finalize_first_delay_seconds = 0.5
    # How often an idle worker looks at the shared queue for work nobody told it about: jobs
    # accepted by another replica, or an account's next job once its running one finished
    # there.
    idle_poll_seconds = 0.5

    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self.owner = f"local:{socket.gethostname()}:{secrets.token_hex(4)}"
        self.lease_owner = self.owner
        self.queue = JobQueue(
            jobs.engine, settings.job_lease_seconds, settings.max_running_per_account
        )
        self._workers: list[threading.Thread] = []
        # Bumped by every submit: a worker that found nothing waits only if nothing was
        # submitted since it looked, so a job accepted meanwhile is never left to the poll.
        self._submitted = 0
        self._wake = threading.Condition()
        self._last_depth = 0
        # Jobs this process is running right now; only their leases are renewed, so a job
        # whose worker failed (e.g. the database was down at finalize) lapses and is
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
        for number in range(self.settings.local_workers):
            # Daemons: an interpreter that exits without stop() (no lifespan shutdown) must
            # not hang on idle workers; a run cut short that way is recovered by its lease.
            worker = threading.Thread(
                target=self._work, name=f"coderun-worker-{number}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def submit(self, job_id: str) -> None:
        # The job is committed as queued: it waits in the database for its turn among the
        # accounts (coderun_api.job_queue); here a worker is only told to look.
        self._wake_workers()

    def stop(self) -> None:
        self._stop.set()
        self._wake_workers(every=True)
        if self._maintenance is not None:
            self._maintenance.join(timeout=5)
        # Runs in progress end first; queued jobs stay queued in the database for the next
        # process (or another replica).
        for worker in self._workers:
            worker.join()
        try:
            released = self.jobs.release_leases(self.owner)
        except Exception:
            log.exception("could not release job leases; they expire on their own")
            return
        if released:
            log.info("left %d unfinished jobs for the next process", released)

    def queue_depth(self) -> int:
        try:
            self._last_depth = self.queue.depth()
        except Exception:  # /metrics keeps answering while the database is away
            log.warning("could not count queued jobs", exc_info=True)
        return self._last_depth

    def _wake_workers(self, every: bool = False) -> None:
        with self._wake:
            self._submitted += 1
            if every:
                self._wake.notify_all()
            else:
                self._wake.notify()

    def _work(self) -> None:
        failures = 0
        while not self._stop.is_set():
            with self._wake:
                seen = self._submitted
            try:
                job = self.queue.claim(self.owner)
                failures = 0
            except Exception as error:
                # The database is away: back off (up to 4 s) rather than log every poll.
                failures += 1
                if failures == 1:
                    log.warning("claiming a queued job failed: %s; retrying", error)
                self._stop.wait(min(4.0, self.idle_poll_seconds * 2**failures))
                continue
            if job is None:
                with self._wake:
                    if self._submitted == seen and not self._stop.is_set():
                        self._wake.wait(self.idle_poll_seconds)
                continue
            with self._lock:
                self._held.add(job.id)
            try:
                self._run_held(job)
            except Exception:
                log.exception(
                    "job failed in the executor; its lease will lapse", extra=job_log(job.id)
                )
            finally:
                with self._lock:
                    self._held.discard(job.id)

    def _run_held(self, job: Job) -> None:
        request = request_of(job)
        options = judge_options(job)
        try:
            result = _execute(request) if options is None else _execute(request, options)
        except Exception as error:  # the runner promises not to raise; be honest if it does
            log.exception("runner raised", extra=job_log(job.id))
            self.jobs.fail_internal(job.id, f"the runner failed: {type(error).__name__}")
            return
        self._finalize_with_retries(job.id, result)

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
        recovered = self.jobs.claim_expired(self.owner, max_attempts=self.settings.max_attempts)
        for job in recovered:
            if job.status == Status.RUNNING.value:  # out of attempts: kept from the queue
                self.jobs.fail_internal(
                    job.id,
                    f"the server lost this job while running it ({job.attempts} attempts, "
                    "e.g. it restarted); it was not charged, please submit it again",
                )
        if recovered:
            self._wake_workers(every=True)

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
