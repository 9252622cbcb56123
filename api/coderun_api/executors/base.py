"""The executor interface: how an accepted job gets run and finalized.

Contract for every executor:
- `submit(job_id)` is called after the job row is committed with status `queued`. It must
  not block on the run. It may be called again for a job it already has (recovery); that
  must be harmless.
- When the job starts, call `jobs.mark_running(job_id)`; it returns None if the job is no
  longer queued (someone else took or finished it), in which case do not run it.
- When the job ends, call `jobs.finalize(job_id, result)` with a final RunResult. That call
  is idempotent and is the only place credits are charged. For a fault of the executor
  itself, `jobs.fail_internal(job_id, message)`.
- `lease_owner`: a non-None id marks each new job as this kind of executor's (the local
  one: its workers claim queued jobs from the database in fair order, each under a lease,
  `coderun_api.job_queue`); the executor must then keep the leases of the jobs it runs
  alive (`jobs.renew_leases(owner)`) and recover expired ones (`jobs.claim_expired(owner)`).
  Executors whose jobs survive an API restart by themselves (Kubernetes: the CodeRun
  object) return None and reconcile on `start()`.
"""

from __future__ import annotations

import abc


class Executor(abc.ABC):
    lease_owner: str | None = None

    @abc.abstractmethod
    def start(self) -> None:
        """Begin accepting work; recover jobs left unfinished by an earlier process."""

    @abc.abstractmethod
    def submit(self, job_id: str) -> None:
        """Hand over a committed, queued job. Returns at once."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop taking work. Unfinished jobs stay in the database and are recovered later."""

    def queue_depth(self) -> int:
        """Jobs accepted by this executor and not yet running (for /metrics)."""
        return 0

    def ping(self) -> None:  # noqa: B027  (optional hook)
        """Raise if the executor cannot take work (used by /readyz)."""
