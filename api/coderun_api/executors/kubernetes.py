"""The Kubernetes executor (`CODERUN_EXECUTOR=kubernetes`): a job becomes a CodeRun object.

- `submit` creates the CodeRun named by the jobId (labels: language, a hash of the account,
  the jobId) and records the new object's metadata.uid with the job. The operator, not the
  API, owns the run from there.
- A CodeRun speaks for a job only if its name is the jobId and its uid is the one recorded:
  labels, and objects created or re-created by anyone else with RBAC on CodeRuns, can
  neither mark a job running nor finalize (and charge) it.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from coderun_operator import resources as r
from coderun_operator.api_server import describe_failure
from coderun_operator.status import result_of
from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    RunRequest,
    Status,
    parse_iso_utc,
    utc_now,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from coderun_api.config import Settings
from coderun_api.executors.base import Executor
from coderun_api.jobs import NOT_FINAL, JobStore, Reported
from coderun_api.judging import request_of
from coderun_api.logs import job_log
from coderun_api.models import Job

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
CREATED_BY = "coderun-api"
OURS = f"{r.LABEL_CREATED_BY}={CREATED_BY}"  # the label selector of the CodeRuns it creates


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
            # What the operator's admission shares slots by: in the spec, which is immutable,
            # not only in the label, which anyone who may patch the object can change.
            "account": r.account_label(job.account_id),
            **judge_spec(request_of(job)),
        },
    }


def judge_spec(request: RunRequest) -> dict[str, Any]:
    """Judge mode's fields of a CodeRun spec: the cases' inputs only. Expected outputs stay
    in the API's database; the API judges the cases when the CodeRun is final, so neither
    etcd, the operator nor the pod ever holds one (docs/security.md)."""
    fields: dict[str, Any] = {}
    if request.cases:
        fields["testCases"] = [{"input": text} for text in request.cases]
        fields["stopOnFirstFailure"] = request.stop_on_failure
    if request.arguments:
        fields["commandLineArguments"] = list(request.arguments)
    if request.compiler_options:
        fields["compilerOptions"] = list(request.compiler_options)
    return fields


@dataclass
class SeenCodeRun:
    """What the watch last showed of one CodeRun, keyed by its name (the jobId)."""

    uid: str
    running: bool = False
    final: bool = False
    # A final CodeRun whose result could not be applied because its job had no uid recorded
    # yet (the create response still on its way): the reconcile pass tries it again.
    unapplied: Mapping[str, Any] | None = None


class KubernetesExecutor(Executor):
    # CodeRun objects outlive API processes: no leases; `start` reconciles instead.
    lease_owner = None

    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings
        self.config = KubernetesSettings()
        self.namespace = self.config.effective_namespace
        # Where this executor's CodeRuns live: (group, version, namespace, plural).
        self._coderuns = (r.GROUP, r.VERSION, self.namespace, r.PLURAL)
        self._custom: Any = None
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._lock = threading.Lock()
        # Every CodeRun the watch shows, by name.
        self._seen: dict[str, SeenCodeRun] = {}
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
        job = self.jobs.get(job_id)
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
            return sum(1 for seen in self._seen.values() if not seen.running and not seen.final)

    def ping(self) -> None:
        if not self._synced.is_set():
            # /readyz shows this: the reason names the address and the setting to change.
            reason = self._last_error or (
                f"connecting to the Kubernetes API server at {self._server()}"
            )
            raise RuntimeError(f"not watching CodeRuns in {self.namespace}: {reason}")

    def _server(self) -> str:
        return str(self._custom.api_client.configuration.host) if self._custom else "(unset)"

    # -- creating CodeRuns ---------------------------------------------------------------

    def _create(self, job: Job) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            created = self._custom.create_namespaced_custom_object(
                *self._coderuns,
                coderun_manifest(job, self.namespace),
                _request_timeout=10,
            )
        except ApiException as error:
            # Already there: created by another replica, which records its uid. Never adopt
            # it here: an object someone else created under this name must not be trusted.
            if error.status != 409:
                raise
            return
        self.jobs.bind_coderun(job.id, str(created["metadata"]["uid"]))

    # -- following CodeRuns --------------------------------------------------------------

    def _watch_forever(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                listed = self._custom.list_namespaced_custom_object(
                    *self._coderuns,
                    label_selector=OURS,
                    # (connect, read): an address nobody answers on fails in seconds, so
                    # /readyz soon says why instead of "connecting".
                    _request_timeout=(5, 30),
                )
                names = set()
                for item in listed.get("items", []):
                    names.add(str(item["metadata"]["name"]))
                    self._observe(item)
                with self._lock:
                    self._seen = {k: v for k, v in self._seen.items() if k in names}
                self._synced.set()
                self._last_error = None
                version = str(listed["metadata"]["resourceVersion"])
                while not self._stop.is_set():
                    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                        self._custom.list_namespaced_custom_object,
                        *self._coderuns,
                        label_selector=OURS,
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
                self._last_error = describe_failure(
                    error, self._server(), f"list CodeRuns in namespace {self.namespace}"
                )
                if not isinstance(error, _Expired):
                    log.warning(
                        "watching CodeRuns failed; relisting", extra={"error": self._last_error}
                    )
                self._stop.wait(1.0)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._seen.pop(name, None)

    def _observe(self, coderun: Mapping[str, Any]) -> None:
        # The name is the jobId (coderun_manifest) and the uid says which object of that
        # name: both are fixed at creation. The job-id label is not read, since anyone who
        # may patch CodeRuns may set it.
        meta = coderun.get("metadata") or {}
        name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
        if r.is_final(coderun):
            with self._lock:
                self._seen[name] = SeenCodeRun(uid, final=True)
            result = result_of(coderun)
            if result is None or not result.status.is_final:
                log.error("final CodeRun without a result", extra=job_log(name))
                return
            if not self.jobs.finalize(name, result, Reported(uid, _started_at(coderun))):
                self._not_applied(name, uid, coderun)
            return
        running = r.is_running(coderun)
        with self._lock:
            before = self._seen.get(name)
            was_running = before is not None and before.uid == uid and before.running
            self._seen[name] = SeenCodeRun(uid, running=running)
        if running and not was_running:
            try:
                # A running CodeRun's startedAt: when its container started (whole seconds).
                self.jobs.mark_running(name, Reported(uid, _started_at(coderun)))
            except Exception:
                # Not recorded (the database is away): forget that we saw it running, so the
                # relisting that follows marks it again instead of leaving it `queued`.
                with self._lock:
                    if before is None:
                        self._seen.pop(name, None)
                    else:
                        self._seen[name] = before
                raise

    def _not_applied(self, name: str, uid: str, coderun: Mapping[str, Any]) -> None:
        """A final CodeRun that finalize refused: too early, or not the job's own."""
        job = self.jobs.get(name)
        if job is None or job.status not in NOT_FINAL:
            return  # already final (another replica), or no such job
        if job.coderun_uid is None:
            with self._lock:
                self._seen[name] = SeenCodeRun(uid, final=True, unapplied=coderun)
            return
        if job.coderun_uid != uid:
            log.warning(
                "a CodeRun the API did not create claims this job's result; ignored",
                extra=job_log(name, coderunUid=uid, boundUid=job.coderun_uid),
            )

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
        unfinished = self.jobs.unfinished_without_owner(queued_before=cutoff)
        with self._lock:
            seen = dict(self._seen)
        for job in unfinished:
            coderun = seen.get(job.id)
            if coderun is None:
                if job.status == Status.QUEUED.value:
                    log.info("creating a missing CodeRun", extra=job_log(job.id))
                    self._create(job)
                else:
                    self.jobs.fail_internal(
                        job.id,
                        "the run's CodeRun was removed before its result was recorded; "
                        "it was not charged, please submit it again",
                    )
            elif job.coderun_uid is not None and coderun.uid == job.coderun_uid:
                if coderun.unapplied is not None:  # its result came before its uid was saved
                    self._observe(coderun.unapplied)
            else:
                # The CodeRun of this name is not the one the API created (or the API never
                # learnt its uid): its result cannot be trusted, so the job ends free.
                log.warning(
                    "the CodeRun named for this job is not the one the API created",
                    extra=job_log(job.id, coderunUid=coderun.uid, boundUid=job.coderun_uid),
                )
                self.jobs.fail_internal(
                    job.id,
                    "the run's CodeRun was replaced by one the API did not create; "
                    "it was not charged, please submit it again",
                )


def _started_at(coderun: Mapping[str, Any]) -> datetime | None:
    """The CodeRun's startedAt. Once final, it is when the pod's first runner began, on its
    own millisecond clock: the job's startedAt, replacing the whole-second one mark_running
    had, so compilation is part of executionTimeMs and not of queueTimeMs, as on the local
    executor (coderun_operator.time_fields)."""
    started = (coderun.get("status") or {}).get("startedAt")
    return parse_iso_utc(str(started)) if started else None


class _Expired(Exception):
    """The watch ended with an ERROR event (usually 410 Gone): relist."""
