"""The Kubernetes executor (`CODERUN_EXECUTOR=kubernetes`): a job becomes a CodeRun object.

- `submit` creates the CodeRun named by the jobId (labels: language, a hash of the account,
  the jobId). The operator, not the API, owns the run from there.
- A watcher thread lists the CodeRuns and then watches from the list's resourceVersion
  (relisting when the server says the version is too old), so nothing is missed across
  reconnects or restarts. A CodeRun that is Running marks its job running; a final one is
  handed to `JobStore.finalize`, whose conditional update charges a success exactly once
  however many API replicas watch the same CodeRun.
- A reconcile pass (at start and every few seconds) re-creates the CodeRun of any queued
  job whose creation failed, and fails a job whose CodeRun disappeared before its result
  was recorded. Results are always served from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from coderun_operator import resources as r
from coderun_operator.status import result_of
from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    Status,
    parse_iso_utc,
    utc_now,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlmodel import Session, col

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import NOT_FINAL, JobStore
from coderun_api.logs import job_log
from coderun_api.models import Job

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
CREATED_BY = "coderun-api"


class KubernetesSettings(BaseSettings):
    """`CODERUN_KUBERNETES_*` settings of this executor (docs/operator.md)."""

    model_config = SettingsConfigDict(env_prefix="CODERUN_KUBERNETES_", extra="ignore")

    # Where CodeRuns are created. Empty: the pod's own namespace, else "default".
    namespace: str = ""
    # How long a watch request stays open before it is renewed.
    watch_timeout_seconds: int = 120
    # How often unfinished jobs are checked against their CodeRuns.
    reconcile_seconds: float = 5.0
    # A queued job whose CodeRun is still missing after this long gets it created again.
    recreate_after_seconds: float = 3.0

    @property
    def effective_namespace(self) -> str:
        if self.namespace:
            return self.namespace
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
        except OSError:
            return "default"


def coderun_manifest(job: Job, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {
            "name": job.id,
            "namespace": namespace,
            "labels": {
                r.LABEL_LANGUAGE: job.language,
                r.LABEL_ACCOUNT: r.account_label(job.account_id),
                r.LABEL_JOB_ID: job.id,
                r.LABEL_CREATED_BY: CREATED_BY,
            },
        },
        "spec": {
            "language": job.language,
            "code": job.code,
            "input": job.input,
            "timeLimitMs": DEFAULT_TIME_LIMIT_MS,
            "memoryLimitMb": DEFAULT_MEMORY_LIMIT_MB,
        },
    }


class KubernetesExecutor(Executor):
    # CodeRun objects outlive API processes: no leases; `start` reconciles instead.
    lease_owner = None

    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self.config = KubernetesSettings()
        self.namespace = self.config.effective_namespace
        self._custom: Any = None
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._lock = threading.Lock()
        # CodeRuns (by jobId) seen by the watch and not final, with whether they run.
        self._open: dict[str, bool] = {}
        self._known: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._last_error: str | None = None

    # -- the Executor interface ----------------------------------------------------------

    def start(self) -> None:
        from coderun_operator.kube import load_client_config
        from kubernetes import client

        self._custom = client.CustomObjectsApi(client.ApiClient(load_client_config()))
        for target, name in (
            (self._watch_forever, "coderun-watch"),
            (self._reconcile_forever, "coderun-reconcile"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: str) -> None:
        job = self._load(job_id)
        if job is None:
            return
        try:
            self._create(job)
        except Exception as error:  # the reconcile pass creates it again
            log.warning(
                "creating the CodeRun failed; will retry",
                extra=job_log(job_id, error=str(error)),
            )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)

    def queue_depth(self) -> int:
        with self._lock:
            return sum(1 for running in self._open.values() if not running)

    def ping(self) -> None:
        if not self._synced.is_set():
            raise RuntimeError(
                f"not yet watching CodeRuns in {self.namespace}: {self._last_error or 'starting'}"
            )

    # -- creating CodeRuns ---------------------------------------------------------------

    def _load(self, job_id: str) -> Job | None:
        with Session(self.jobs.engine, expire_on_commit=False) as session:
            return session.get(Job, job_id)

    def _create(self, job: Job) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self._custom.create_namespaced_custom_object(
                r.GROUP,
                r.VERSION,
                self.namespace,
                r.PLURAL,
                coderun_manifest(job, self.namespace),
                _request_timeout=10,
            )
        except ApiException as error:
            if error.status != 409:  # already there: submitted twice, or by another replica
                raise

    # -- following CodeRuns --------------------------------------------------------------

    def _watch_forever(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                listed = self._custom.list_namespaced_custom_object(
                    r.GROUP,
                    r.VERSION,
                    self.namespace,
                    r.PLURAL,
                    label_selector=f"{r.LABEL_CREATED_BY}={CREATED_BY}",
                    _request_timeout=30,
                )
                names = set()
                for item in listed.get("items", []):
                    names.add(str(item["metadata"]["name"]))
                    self._observe(item)
                with self._lock:
                    self._known = names
                    self._open = {k: v for k, v in self._open.items() if k in names}
                self._synced.set()
                self._last_error = None
                version = str(listed["metadata"]["resourceVersion"])
                while not self._stop.is_set():
                    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                        self._custom.list_namespaced_custom_object,
                        r.GROUP,
                        r.VERSION,
                        self.namespace,
                        r.PLURAL,
                        label_selector=f"{r.LABEL_CREATED_BY}={CREATED_BY}",
                        resource_version=version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=self.config.watch_timeout_seconds,
                        _request_timeout=self.config.watch_timeout_seconds + 10,
                    )
                    for event in stream:
                        if self._stop.is_set():
                            return
                        kind = event.get("type")
                        obj: Mapping[str, Any] = event.get("object") or {}
                        if kind == "ERROR":
                            raise _Expired(str(obj.get("message", "watch error")))
                        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                        if kind == "BOOKMARK":
                            continue
                        if kind == "DELETED":
                            self._forget(str(obj["metadata"]["name"]))
                            continue
                        self._observe(obj)
            except Exception as error:
                # 410 Gone (too old a resourceVersion), a dropped connection, a restarted API
                # server: list again and go on from there.
                self._last_error = f"{type(error).__name__}: {error}"
                if not isinstance(error, _Expired):
                    log.warning(
                        "watching CodeRuns failed; relisting", extra={"error": self._last_error}
                    )
                self._stop.wait(1.0)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._known.discard(job_id)
            self._open.pop(job_id, None)

    def _observe(self, coderun: Mapping[str, Any]) -> None:
        meta = coderun.get("metadata") or {}
        job_id = str((meta.get("labels") or {}).get(r.LABEL_JOB_ID) or meta.get("name"))
        with self._lock:
            self._known.add(job_id)
        if r.is_final(coderun):
            with self._lock:
                self._open.pop(job_id, None)
            result = result_of(coderun)
            if result is None or not result.status.is_final:
                log.error("final CodeRun without a result", extra=job_log(job_id))
                return
            self.jobs.finalize(job_id, result)
            return
        running = r.is_running(coderun)
        with self._lock:
            was_running = self._open.get(job_id, False)
            self._open[job_id] = running
        if running and not was_running:
            started = (coderun.get("status") or {}).get("startedAt")
            self.jobs.mark_running(job_id, parse_iso_utc(str(started)) if started else None)

    # -- reconciling the database with the cluster ---------------------------------------

    def _reconcile_forever(self) -> None:
        while not self._stop.is_set():
            if self._synced.wait(timeout=1.0):
                try:
                    self._reconcile()
                except Exception:
                    log.exception("reconciling jobs with CodeRuns failed")
                self._stop.wait(self.config.reconcile_seconds)

    def _reconcile(self) -> None:
        cutoff = utc_now() - timedelta(seconds=self.config.recreate_after_seconds)
        with Session(self.jobs.engine, expire_on_commit=False) as session:
            unfinished = (
                session.execute(
                    select(Job).where(
                        col(Job.status).in_(NOT_FINAL),
                        col(Job.owner).is_(None),
                        col(Job.queued_at) < cutoff,
                    )
                )
                .scalars()
                .all()
            )
        with self._lock:
            known = set(self._known)
        for job in unfinished:
            if job.id in known:
                continue
            if job.status == Status.QUEUED.value:
                log.info("creating a missing CodeRun", extra=job_log(job.id))
                self._create(job)
            else:
                self.jobs.fail_internal(
                    job.id,
                    "the run's CodeRun was removed before its result was recorded; "
                    "it was not charged, please submit it again",
                )


class _Expired(Exception):
    """The watch ended with an ERROR event (usually 410 Gone): relist."""
