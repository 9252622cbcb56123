"""The operator's decisions and the API calls that carry them out.

Level-based: every step can run again at any time (after a restart, a missed event, an API
error) and ends in the same place. Deterministic Job names make "create" safe to repeat;
a final status is written once, guarded by the object's resourceVersion; a run that is
already final is never touched again.

Inputs are kopf's CodeRun index and the watch events of CodeRuns and sandbox pods; a
sweep every few seconds re-checks what events alone cannot (grace periods, queued runs,
retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from coderun_sandbox.contract import (
    COMPILED,
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    READY_KEY,
    RECEIVED_KEY,
    ErrorType,
    InvalidRequest,
    RunRequest,
    RunResult,
    parse_iso_utc,
    utc_now,
)
from coderun_sandbox.languages import languages
from kubernetes.client.exceptions import ApiException

from coderun_operator import metrics, pod_verdict, status
from coderun_operator import resources as r
from coderun_operator.admission import Admission, RunRef
from coderun_operator.claim import claim_patch, claimed_by, claimed_deadline, job_handover
from coderun_operator.delivery import Delivery, UndeliverableError, has_mark, was_incomplete
from coderun_operator.job_builder import (
    build_job,
    has_default_limits,
    request_for_pod,
    request_of,
    validate,
)
from coderun_operator.kube import Kube
from coderun_operator.pool_controller import PoolController
from coderun_operator.primed import PrimedPod
from coderun_operator.run_state import RunState
from coderun_operator.settings import OperatorSettings

log = logging.getLogger("coderun_operator")

# kopf.Index[str, RunRef]: lifecycle ("queued", "active", "final") -> the CodeRuns in it.
IndexView = Mapping[str, Iterable[RunRef]]
# kopf.Index of claimed pool pods: CodeRun uid -> the pod(s) claimed for it (handlers.py).
ClaimsView = Mapping[str, Iterable[Mapping[str, Any]]]
# A claim's guarded patch is retried this often on a stale resourceVersion (the kubelet
# updated the pod meanwhile) before the run takes another pod or goes cold.
CLAIM_ATTEMPTS = 3
RETENTION_SWEEP_EVERY = 15  # sweeps
MAX_DELETES_PER_SWEEP = 200
# A request cut short on its way (the operator died while writing it; every attach failed)
# is delivered again on a new pod this many times before the run ends SandboxError.
MAX_REDELIVERIES = 2


def run_ref(body: Mapping[str, Any]) -> RunRef:
    meta = body.get("metadata") or {}
    st = body.get("status") or {}
    return RunRef(
        created=str(meta.get("creationTimestamp") or ""),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        language=str((body.get("spec") or {}).get("language") or ""),
        marked_queued=st.get("phase") == r.PHASE_QUEUED,
        finished=str(st.get("finishedAt") or ""),
        # The spec, not a label: the spec is immutable (CRD rule), labels are anyone's who
        # may patch the object.
        account=str((body.get("spec") or {}).get("account") or ""),
        default_limits=_default_limits(body.get("spec") or {}),
        # Judge mode: a submission with N test cases counts N toward its account's cap and
        # its turn (fair_share.py), as on the embedded executor.
        weight=max(1, len((body.get("spec") or {}).get("testCases") or ())),
    )


def _default_limits(spec: Mapping[str, Any]) -> bool:
    """The promised limits, which pool pods are built for (others go cold)."""
    time_ms = int(spec.get("timeLimitMs") or DEFAULT_TIME_LIMIT_MS)
    memory_mb = int(spec.get("memoryLimitMb") or DEFAULT_MEMORY_LIMIT_MB)
    return time_ms == DEFAULT_TIME_LIMIT_MS and memory_mb == DEFAULT_MEMORY_LIMIT_MB


def _with_compile_time(result: RunResult, clock: pod_verdict.RunnerClock) -> RunResult:
    """The run's result with the compile container's compile time (the run container's
    runner never compiles on Kubernetes, so its own line has none)."""
    if result.compile_time_ms is not None or clock.compile_time_ms is None:
        return result
    return result.replace(compile_time_ms=clock.compile_time_ms)


def _incomplete(where: str) -> str:
    return (
        f"the run request reached {where} incomplete (the operator restarted while "
        "delivering it); the program did not run"
    )


def never_received(pod: Mapping[str, Any], logs: Mapping[str, str]) -> bool:
    """The pod passed its deadline while its runner still waited for the request (the
    operator was away): nothing of the program ran, so it may run on another pod."""
    run_log = logs.get(r.RUN_CONTAINER, "")
    return (
        (pod.get("status") or {}).get("reason") == "DeadlineExceeded"
        and has_mark(run_log, READY_KEY)
        and not has_mark(run_log, RECEIVED_KEY)
    )


async def _closing(primed: PrimedPod | None, work: Awaitable[None]) -> None:
    """`work`, then close what it left of `primed` (the run container's streams after a
    compile error: each exchange closes the ones it used)."""
    try:
        await work
    finally:
        if primed is not None:
            primed.close()


def uid_of(body: Mapping[str, Any] | None) -> str:
    return str(((body or {}).get("metadata") or {}).get("uid") or "")


class Reconciler:
    def __init__(self, settings: OperatorSettings, kube: Kube) -> None:
        self.settings = settings
        self.kube = kube
        self.admission = Admission(settings.max_concurrent_runs, settings.max_running_per_account)
        self.index: IndexView | None = None
        # One record per run seen (run_state.py), by key; popped when its CodeRun is deleted.
        self.runs: dict[str, RunState] = {}
        self.dispatch_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.sweeps = 0
        self.stopping = asyncio.Event()
        self.delivery = Delivery(kube)
        self.pools = PoolController(settings, kube, self.spawn, self.delivery.primer)
        self.claims: ClaimsView | None = None

    # -- plumbing ------------------------------------------------------------------------

    def run(self, key: str) -> RunState:
        """The record of this run, made on first use."""
        state = self.runs.get(key)
        if state is None:
            state = self.runs[key] = RunState()
        return state

    def lock(self, key: str) -> asyncio.Lock:
        return self.run(key).lock

    def _done(self, key: str) -> bool:
        state = self.runs.get(key)
        return state is not None and state.done

    def _known_body(self, key: str) -> dict[str, Any] | None:
        state = self.runs.get(key)
        return None if state is None else state.body

    def _known_pod(self, key: str) -> dict[str, Any] | None:
        state = self.runs.get(key)
        return None if state is None else state.pod

    def spawn(self, step: str, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                metrics.ERRORS.labels(step).inc()
                log.exception("%s failed; the sweep retries it", step)

        task = asyncio.get_running_loop().create_task(guarded())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _refs(self, lifecycle: str) -> list[RunRef]:
        if self.index is None:
            return []
        return list(self.index.get(lifecycle, ()))

    # -- CodeRun events ------------------------------------------------------------------

    async def on_coderun(
        self, event_type: str | None, body: Mapping[str, Any], index: IndexView
    ) -> None:
        self.index = index
        ref = run_ref(body)
        key = ref.key
        if event_type == "DELETED":
            self.admission.forget(key)
            self.runs.pop(key, None)
            await self.dispatch()
            return
        lifecycle = r.lifecycle(body)
        self.admission.observe(key, lifecycle)
        if lifecycle == "final":
            self.run(key).finish()
            return
        self.run(key).body = copy.deepcopy(dict(body))
        if lifecycle == "queued":
            await self.dispatch()

    async def dispatch(self) -> None:
        """Start as many queued runs as the caps allow, in fair order between accounts;
        mark the rest Queued."""
        if self.index is None:
            return
        async with self.dispatch_lock:
            active = self._refs("active")
            queued = [ref for ref in self._refs("queued") if not self._done(ref.key)]
            admit, waiting = self.admission.plan(queued, active)
            busy = len(self.admission.active_keys(ref.key for ref in active))
        metrics.ACTIVE.set(busy)
        metrics.QUEUED.set(len(waiting))
        for ref in admit:
            # A ready pool pod is taken here, in the fair order admission chose, so the next
            # run in that order gets it, not whichever start reaches the API first.
            pod = self.pools.take(ref.namespace, ref.language) if ref.default_limits else None
            self.spawn("start", self.start(ref, pod))
        for ref in waiting:
            state = self.run(ref.key)
            if not ref.marked_queued and not state.marked_queued:
                state.marked_queued = True
                account_busy = self.admission.account_running(ref, active)
                self.spawn("queue", self.mark_queued(ref, busy, account_busy))

    async def _body(self, key: str) -> dict[str, Any] | None:
        cached = self._known_body(key)
        if cached is not None:
            return cached
        return await self._fetch(key)

    async def _fetch(self, key: str) -> dict[str, Any] | None:
        """The CodeRun this key names, fresh; None if it is gone (or re-created: another uid)."""
        namespace, name, uid = r.split_key(key)
        body = await self.kube.get_coderun(namespace, name)
        return body if body is not None and uid_of(body) == uid else None

    async def mark_queued(self, ref: RunRef, busy: int, account_busy: int) -> None:
        async with self.lock(ref.key):
            body = await self._body(ref.key)
            if body is None or r.lifecycle(body) != "queued" or ref.key in self.admission.started:
                return
            doc = status.queued(
                body,
                busy,
                self.settings.max_concurrent_runs,
                utc_now(),
                account_active=account_busy,
                account_cap=self.settings.max_running_per_account,
            )
            await self._patch_status(ref.key, doc)

    async def start(self, ref: RunRef, pod: Mapping[str, Any] | None = None) -> None:
        """Start an admitted run: on `pod` (a pool pod taken for it) if the claim succeeds,
        on the pod an earlier operator claimed for it, else cold on a Job of its own."""
        key = ref.key
        began = utc_now()
        try:
            async with self.lock(key):
                body = await self._body(key)
                if body is None or r.lifecycle(body) != "queued" or self._done(key):
                    self.admission.unstart(key)
                    return
                try:
                    request = validate(body)
                except InvalidRequest as error:
                    invalid = RunResult.failure(
                        ErrorType.SANDBOX_ERROR, f"invalid CodeRun spec: {error}"
                    )
                    self.spawn("finalize", self.finalize(key, invalid))
                    return
                claimed = self._claimed_for(ref, r.attempt_of(body))
                fresh = claimed is None
                if claimed is None and pod is not None and has_default_limits(request):
                    claimed = await self._claim(ref, body, request, pod)
                    pod = None
                if claimed is not None:
                    await self._start_warm(ref, body, claimed, fresh)
                    metrics.POOL_CLAIMS.labels(ref.language, "hit").inc()
                    metrics.POOL_CLAIM_SECONDS.labels(ref.language).observe(
                        (utc_now() - began).total_seconds()
                    )
                    how = f"claimed pool pod {claimed['metadata']['name']} (warm start)"
                else:
                    if has_default_limits(request):
                        metrics.POOL_CLAIMS.labels(ref.language, "miss").inc()
                    how = await self._start_cold(ref, body)
                now = utc_now()
                labels = (body.get("metadata") or {}).get("labels") or {}
                if labels.get(r.LABEL_LANGUAGE) != ref.language:
                    await self.kube.patch_coderun_labels(
                        ref.namespace, ref.name, {r.LABEL_LANGUAGE: ref.language}
                    )
            metrics.QUEUE_SECONDS.labels(ref.language).observe(
                (now - parse_iso_utc(ref.created)).total_seconds() if ref.created else 0
            )
            await self.kube.post_event(body, "Normal", "Scheduled", how)
        except BaseException:
            # Not started after all: the next dispatch (event or sweep) tries again.
            self.admission.unstart(key)
            raise
        finally:
            if pod is not None:
                self.pools.release(pod)

    async def _start_cold(self, ref: RunRef, body: dict[str, Any]) -> str:
        job = build_job(body, self.settings)
        created = await self.kube.create_job(job)
        job_name = str(job["metadata"]["name"])
        if created is None:
            await self._check_existing_job(body, job_name)
        else:
            self.run(ref.key).fresh = True  # no one can have delivered to its pod yet
        await self._patch_status(ref.key, status.scheduled(body, job_name, utc_now()))
        return f"created Job {job_name} (cold start)"

    def _claimed_for(self, ref: RunRef, attempt: int) -> dict[str, Any] | None:
        """The pool pod an earlier operator claimed for this run (then died before its
        status said so): kopf's index of claimed pods, complete before any handler runs."""
        if self.claims is None:
            return None
        for found in self.claims.get(ref.uid, ()):
            if (
                str(found.get("metadata", {}).get("namespace")) == ref.namespace
                and r.pod_attempt(found) == attempt
            ):
                return dict(found)
        return None

    async def _claim(
        self,
        ref: RunRef,
        body: Mapping[str, Any],
        request: RunRequest,
        pod: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """Claim `pod` (or, when someone else got it, another ready one) with the guarded
        patch (claim.py); the claimed pod, or None: the run goes cold."""
        tries = 0
        while pod is not None and tries < CLAIM_ATTEMPTS * 2:
            tries += 1
            meta = pod.get("metadata") or {}
            name, version = str(meta.get("name")), str(meta.get("resourceVersion") or "")
            deadline = claimed_deadline(pod, request, self.settings, utc_now())
            try:
                claimed = await self.kube.patch_pod(
                    ref.namespace, name, claim_patch(body, deadline), version
                )
            except ApiException as error:
                if error.status not in (404, 409, 422):
                    self.pools.release(pod)
                    raise
                fresh = (
                    await self.kube.get_pod(ref.namespace, name) if error.status == 409 else None
                )
                if fresh is not None and not claimed_by(fresh) and tries < CLAIM_ATTEMPTS:
                    pod = fresh  # only its resourceVersion was stale: the same pod again
                    continue
                self.pools.release(pod)
                pod = self.pools.take(ref.namespace, ref.language)
                continue
            self.pools.claimed(claimed)
            return claimed
        if pod is not None:
            self.pools.release(pod)
        return None

    async def _start_warm(
        self, ref: RunRef, body: dict[str, Any], pod: Mapping[str, Any], fresh: bool
    ) -> None:
        """The claimed pod is the run's: deliver at once; the status and the Job's new
        owner are written while the request travels (under the run's lock, so no final
        status can come before them)."""
        key = ref.key
        meta = pod.get("metadata") or {}
        pod_name = str(meta.get("name"))
        job_name = str((meta.get("labels") or {}).get(r.LABEL_JOB_NAME) or "")
        # Taken before any await, so that no pool sweep closes them in between.
        primed = self.delivery.primer.take(ref.namespace, pod_name)
        state = self.run(key)
        state.pod = dict(pod)
        state.following = True
        request = request_for_pod(body, self.settings)
        following = self.follow(
            key, pod_name, request, r.attempt_of(body), check_first=not fresh, primed=primed
        )
        self.spawn("follow", _closing(primed, following))
        self.spawn("handover", self.kube.patch_job(ref.namespace, job_name, job_handover(body)))
        state.marked_running = True
        await self._patch_status(key, status.claimed(body, job_name, pod_name, utc_now()))

    async def _check_existing_job(self, body: Mapping[str, Any], job_name: str) -> None:
        meta = body["metadata"]
        existing = await self.kube.get_job(str(meta["namespace"]), job_name)
        if existing is None:
            raise RuntimeError(f"Job {job_name} vanished while being created")
        owners = (existing.get("metadata") or {}).get("ownerReferences") or []
        if not any(owner.get("uid") == meta.get("uid") for owner in owners):
            # A Job left by an earlier CodeRun of the same name, not yet garbage-collected.
            raise RuntimeError(f"Job {job_name} belongs to an older CodeRun; waiting for it to go")

    async def _patch_status(
        self, key: str, doc: Mapping[str, Any], resource_version: str | None = None
    ) -> dict[str, Any]:
        namespace, name, _ = r.split_key(key)
        patched = await self.kube.patch_coderun_status(namespace, name, doc, resource_version)
        if not r.is_final(patched):
            self.run(key).body = patched
        return patched

    # -- pod events ----------------------------------------------------------------------

    async def on_pod(self, event_type: str | None, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        if r.LABEL_POOL in (meta.get("labels") or {}):
            self.pools.on_pod(event_type, pod)
        annotations = meta.get("annotations") or {}
        coderun = annotations.get(r.ANNOTATION_CODERUN)
        coderun_uid = annotations.get(r.ANNOTATION_CODERUN_UID)
        if not coderun or not coderun_uid:
            return
        key = r.key_of(str(meta.get("namespace")), str(coderun), str(coderun_uid))
        if self._done(key):
            return
        body = self._known_body(key)
        if body is None and r.pod_attempt(pod) > 0:
            body = await self._fetch(key)  # after a restart: is this pod still the run's?
        if body is not None and r.pod_attempt(pod) != r.attempt_of(body):
            return  # a pod of an attempt whose request was cut short: the run moved on
        seen = copy.deepcopy(dict(pod))
        if event_type == "DELETED":
            if key in self.runs:
                self.runs[key].pod = None
            if pod_verdict.progress(seen) is not pod_verdict.Progress.TERMINATED:
                lost = RunResult.failure(
                    ErrorType.SANDBOX_ERROR,
                    f"the sandbox pod {meta.get('name')} was deleted before the run finished",
                )
                await self.finalize(key, lost, str(meta.get("name")))
                return
        else:
            self.run(key).pod = seen
        await self.examine(key, seen)

    async def examine(self, key: str, pod: Mapping[str, Any]) -> None:
        """Act on what the pod shows: mark Running, or finalize with the classified result."""
        body = self._known_body(key)
        pod_name = str((pod.get("metadata") or {}).get("name"))
        request = request_of(body) if body is not None else None
        progress = pod_verdict.progress(pod)
        if progress is pod_verdict.Progress.RUNNING:
            if body is not None and not self._runs_in(body, pod):
                return  # claimed, but its run's status does not say so yet: start() adopts it
            state = self.run(key)
            if not state.following and body is not None and pod_verdict.all_started(pod):
                state.following = True
                self.spawn(
                    "follow",
                    self.follow(
                        key,
                        pod_name,
                        request_for_pod(body, self.settings),
                        r.pod_attempt(pod),
                        check_first=not state.fresh,
                    ),
                )
            if not state.marked_running and body is not None and not r.is_running(body):
                state.marked_running = True
                started = pod_verdict.sandbox_started_at(pod) or utc_now()
                async with state.lock:
                    if not state.done:
                        body = state.body or body
                        await self._patch_status(
                            key, status.running(body, pod_name, started, utc_now())
                        )
            return
        if request is None:
            fetched = await self._fetch(key)
            if fetched is None or r.is_final(fetched):
                self.run(key).finish()
                return
            request = request_of(fetched)
        namespace = str((pod.get("metadata") or {}).get("namespace"))
        logs = {
            container: await self.kube.read_log(namespace, pod_name, container)
            for container in pod_verdict.logs_needed(pod)
        }
        result = pod_verdict.classify(
            pod,
            logs,
            limits=request.limits,
            now=utc_now(),
            start_grace_seconds=self.settings.start_grace_seconds,
        )
        if result is None:
            return
        cut_short = [c for c, text in logs.items() if was_incomplete(text)]
        if cut_short:
            where = f"{pod_name} ({cut_short[0]})"
            await self.redeliver(key, pod_name, r.pod_attempt(pod), _incomplete(where))
            return
        if never_received(pod, logs):
            await self.redeliver(key, pod_name, r.pod_attempt(pod), result.error_message or "")
            return
        stuck = progress is pod_verdict.Progress.PENDING
        # A compile step that failed leaves its run container waiting for a request that
        # will never come: the Job goes now rather than at its deadline.
        unfinished = pod_verdict.terminated(pod, r.RUN_CONTAINER) is None and (
            pod.get("status") or {}
        ).get("phase") not in ("Succeeded", "Failed")
        if stuck or unfinished:
            await self.finalize(key, result, pod_name, delete_job=True)
            return
        compile_log = logs.get(r.COMPILE_CONTAINER)
        if compile_log is None and pod_verdict.compile_succeeded(pod):
            compile_log = await self.kube.read_log(namespace, pod_name, r.COMPILE_CONTAINER)
        clock = pod_verdict.runner_clock(logs.get(r.RUN_CONTAINER, ""), compile_log)
        await self.finalize(key, _with_compile_time(result, clock), pod_name, clock.started_at)

    @staticmethod
    def _runs_in(body: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
        """Whether the CodeRun's status names this pod's Job (a pool pod's Job is named in
        status once claimed; a cold pod's is the CodeRun's own)."""
        job = ((pod.get("metadata") or {}).get("labels") or {}).get(r.LABEL_JOB_NAME)
        if not job or not ((pod.get("metadata") or {}).get("labels") or {}).get(r.LABEL_POOL):
            return True
        return r.is_admitted(body) and r.job_of(body) == job

    async def follow(
        self,
        key: str,
        pod_name: str,
        request: RunRequest,
        attempt: int,
        check_first: bool,
        primed: PrimedPod | None = None,
    ) -> None:
        """Deliver the request and read the result line as soon as the runner prints it;
        for compiled languages, the compile container first (delivery.py). `attempt`: the
        delivery attempt the pod serves; `primed`: its streams opened before the claim."""
        namespace = r.split_key(key)[0]
        budget = request.limits.time_limit_ms / 1000 + 60
        streams = primed.containers if primed is not None else {}
        compile_log = None
        try:
            if languages()[request.language].compiled:
                compile_log = await self.delivery.exchange(
                    namespace,
                    pod_name,
                    r.COMPILE_CONTAINER,
                    request,
                    request.limits.compile_time_limit_ms / 1000 + 60,
                    check_first,
                    streams.get(r.COMPILE_CONTAINER),
                )
                if compile_log is None or self._done(key):
                    return
                if was_incomplete(compile_log):
                    await self.redeliver(
                        key, pod_name, attempt, _incomplete("the compile container")
                    )
                    return
                failed = self._compile_failure(compile_log)
                if failed is not None:
                    await self.finalize(key, failed, pod_name, delete_job=True)
                    return
            log_text = await self.delivery.exchange(
                namespace,
                pod_name,
                r.RUN_CONTAINER,
                request,
                budget,
                check_first,
                streams.get(r.RUN_CONTAINER),
            )
        except UndeliverableError as error:
            await self.redeliver(key, pod_name, attempt, f"{error}; nothing ran")
            return
        if log_text is None or self._done(key):
            return
        if was_incomplete(log_text):
            await self.redeliver(key, pod_name, attempt, _incomplete(pod_name))
            return
        result = pod_verdict.classify_streamed(log_text, request.limits)
        if result is None:
            return
        clock = pod_verdict.runner_clock(log_text, compile_log)
        await self.finalize(key, _with_compile_time(result, clock), pod_name, clock.started_at)

    @staticmethod
    def _compile_failure(compile_log: str) -> RunResult | None:
        """The compile container's answer, if it is not a successful compile."""
        payload = pod_verdict.parse_result_line(compile_log) or {}
        if payload.get(COMPILED) is True:
            return None
        try:
            return RunResult.from_json_dict(payload)
        except (KeyError, ValueError, TypeError):
            return RunResult.failure(ErrorType.SANDBOX_ERROR, "the compile step reported no result")

    async def redeliver(self, key: str, pod_name: str, attempt: int, why: str) -> None:
        """The request never reached `pod_name` whole, so nothing of the program ran there
        and its stdin is spent (stdinOnce): queue the run again for a new pod, warm or
        cold, and delete the old one. After MAX_REDELIVERIES the run ends SandboxError.
        Idempotent: the follower and the pod's events may both see the cut; only the first
        moves the run past `attempt` (the attempt that pod served)."""
        namespace = r.split_key(key)[0]
        async with self.lock(key):
            if self._done(key):
                return
            body = await self._fetch(key)
            if body is None or r.is_final(body) or r.attempt_of(body) != attempt:
                return
            give_up = attempt >= MAX_REDELIVERIES
            if not give_up:
                old_job = r.job_of(body)
                message = f"{why}; delivering it again on a new pod"
                body = await self._patch_status(key, status.requeued(body, message, utc_now()))
                self.run(key).requeue()
                self.admission.unstart(key)
        if give_up:
            failed = RunResult.failure(ErrorType.SANDBOX_ERROR, why)
            await self.finalize(key, failed, pod_name, delete_job=True)
            return
        metrics.REDELIVERIES.inc()
        await self.kube.delete_job(namespace, old_job)
        await self.kube.post_event(body, "Warning", "Redelivering", message)
        await self.dispatch()

    # -- the end of a run ----------------------------------------------------------------

    async def finalize(
        self,
        key: str,
        result: RunResult,
        pod_name: str | None = None,
        started_at: datetime | None = None,
        delete_job: bool = False,
    ) -> None:
        """Write the final status once; idempotent and safe to race with itself.

        `started_at`: when the sandbox began the run by the runner's own clock, which
        replaces the pod's whole-second start as the CodeRun's startedAt."""
        namespace, name, _ = r.split_key(key)
        async with self.lock(key):
            if self._done(key):
                return
            job = r.job_name(name)
            for _ in range(5):
                body = await self._fetch(key)
                if body is not None:
                    job = r.job_of(body)
                if body is None or r.is_final(body):
                    break
                doc = status.final(body, result, utc_now(), pod_name, started_at)
                version = str((body.get("metadata") or {}).get("resourceVersion") or "")
                try:
                    await self._patch_status(key, doc, version or None)
                except ApiException as error:
                    if error.status == 409:
                        continue  # changed under us: read it again
                    if error.status == 404:
                        break
                    raise
                await self._after_final(body, result)
                break
            self.run(key).finish()
            self.admission.finished.add(key)
            self.admission.unstart(key)
        if delete_job:
            await self.kube.delete_job(namespace, job)
        await self.dispatch()

    async def _after_final(self, body: Mapping[str, Any], result: RunResult) -> None:
        meta = body.get("metadata") or {}
        language = str((body.get("spec") or {}).get("language") or "")
        verdict = r.verdict_of(result.status, result.error_type)
        labels = {r.LABEL_VERDICT: verdict}
        if (meta.get("labels") or {}).get(r.LABEL_LANGUAGE) != language:
            labels[r.LABEL_LANGUAGE] = language
        await self.kube.patch_coderun_labels(str(meta["namespace"]), str(meta["name"]), labels)
        metrics.RUNS.labels(language, verdict).inc()
        metrics.EXECUTION_SECONDS.labels(language).observe(result.execution_time_ms / 1000)
        created = meta.get("creationTimestamp")
        if created:
            total = (utc_now() - parse_iso_utc(str(created))).total_seconds()
            metrics.TOTAL_SECONDS.labels(language).observe(max(0.0, total))
        if verdict == r.VERDICT_SUCCESS:
            await self.kube.post_event(body, "Normal", "Succeeded", "the program ran successfully")
        else:
            await self.kube.post_event(
                body, "Warning", r.VERDICT_REASONS[verdict], result.error_message or verdict
            )

    # -- the sweep -----------------------------------------------------------------------

    async def sweep(self) -> None:
        """What events alone cannot drive: queued runs, grace periods, lost pods, retention."""
        if self.index is None:
            return
        self.sweeps += 1
        await self.dispatch()
        now = utc_now()
        grace = timedelta(seconds=self.settings.start_grace_seconds)
        for ref in self._refs("active"):
            key = ref.key
            if self._done(key):
                continue
            pod = self._known_pod(key)
            if pod is not None:
                # A running pod nobody follows yet (its status write raced its last event)
                # would wait for its request until the deadline: examine starts the delivery.
                running = pod_verdict.progress(pod) is pod_verdict.Progress.RUNNING
                if not running or not self.run(key).following:
                    self.spawn("examine", self.examine(key, pod))
                continue
            body = self._known_body(key) or {}
            scheduled_at = (body.get("status") or {}).get("scheduledAt")
            if scheduled_at and now - parse_iso_utc(str(scheduled_at)) > grace:
                self.spawn("lost", self.check_lost(key))
        await self.pools.sweep()
        if self.sweeps % RETENTION_SWEEP_EVERY == 0:
            await self.expire(now)

    async def check_lost(self, key: str) -> None:
        """An admitted run with no pod seen for a grace period: find out why, end it."""
        namespace, name, _ = r.split_key(key)
        job_name = r.job_of(self._known_body(key) or {"metadata": {"name": name}})
        job = await self.kube.get_job(namespace, job_name)
        if job is None:
            message = f"the Job {job_name} was deleted before the run finished"
        else:
            conditions = (job.get("status") or {}).get("conditions") or []
            detail = "; ".join(
                f"{c.get('reason')}: {c.get('message')}" for c in conditions if c.get("message")
            )
            message = "the Job created no sandbox pod" + (f" ({detail})" if detail else "")
        if self._known_pod(key) is not None:  # a pod event arrived meanwhile
            return
        await self.finalize(
            key, RunResult.failure(ErrorType.SANDBOX_ERROR, message), delete_job=job is not None
        )

    async def expire(self, now: datetime) -> None:
        """Delete CodeRuns that finished longer than the retention ago (oldest first)."""
        cutoff = now - timedelta(seconds=self.settings.retention_seconds)
        expired = sorted(
            (
                ref
                for ref in self._refs("final")
                if ref.finished and parse_iso_utc(ref.finished) < cutoff
            ),
            key=lambda ref: ref.finished,
        )
        for ref in expired[:MAX_DELETES_PER_SWEEP]:
            with contextlib.suppress(ApiException):
                await self.kube.delete_coderun(ref.namespace, ref.name)

    async def run_sweeps(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                metrics.ERRORS.labels("sweep").inc()
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.settings.sweep_interval_seconds)
