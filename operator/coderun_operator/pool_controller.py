"""The CodeRunPool controller: keeps each pool's idle pods at `spec.replicas`, hands ready
ones to claims, reports what it sees in the pool's status and Events.

Level-based like the Reconciler: inputs are the watch events of pools and of their pods
(the sandbox pod watch, label coderun.dev/pool), and the sweep; `reconcile` can run any
time and ends in the same place (pools.plan decides, this carries it out). A claim takes a
ready pod here synchronously (`take`, in the admission's fair order) and the Reconciler then
makes it atomic on the API server (claim.py); a failed claim gives it back (`release`).

State per pool is one record (`PoolState`), so that forgetting a pool is one `pop`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coderun_sandbox.contract import utc_now
from kubernetes.client.exceptions import ApiException

from coderun_operator import metrics, pools
from coderun_operator import resources as r
from coderun_operator.job_builder import build_pool_job, template_hash
from coderun_operator.kube import Kube
from coderun_operator.primed import Primer
from coderun_operator.settings import OperatorSettings

log = logging.getLogger("coderun_operator.pools")

Spawn = Callable[[str, Awaitable[None]], None]
# The longest wait between replacements of pods that keep failing before any run.
MAX_BACKOFF_S = 60


@dataclass
class PoolState:
    body: dict[str, Any]
    # Jobs created whose pod was not seen yet: job name -> time.monotonic() of the create.
    pending: dict[str, float] = field(default_factory=dict)
    # Jobs this controller deleted (failed, stale, surplus): not deleted or reported again.
    deleted: set[str] = field(default_factory=set)
    # Pods reported in an Event (a failure is reported once).
    reported: set[str] = field(default_factory=set)
    # Claims since the pool was made: status.claimed as read at start, plus ours since.
    claimed_total: int = 0
    failing: str | None = None
    # Pods that failed before any run, in a row, and when the next may be made: a pool
    # whose pods cannot start (no NetworkPolicy, a missing image) backs off instead of
    # churning pods.
    failures: int = 0
    next_create: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    dirty: bool = True

    @property
    def spec(self) -> pools.PoolSpec:
        return pools.pool_spec(self.body)


class PoolController:
    def __init__(
        self, settings: OperatorSettings, kube: Kube, spawn: Spawn, primer: Primer | None = None
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.spawn = spawn
        # Opens the streams of ready idle pods ahead of their claim (primed.py).
        self.primer = primer
        self.pools: dict[str, PoolState] = {}
        # kopf's index of idle pool pods: "namespace/pool" -> their latest bodies.
        self.index: Mapping[str, Iterable[Mapping[str, Any]]] | None = None
        # Pods taken for a claim in progress (namespace/name): not offered twice.
        self.reserved: set[str] = set()
        # Pods claimed here that the index may still show idle for a moment (namespace/name).
        self.taken: set[str] = set()

    def pods(self, key: str) -> dict[str, Mapping[str, Any]]:
        """The pool's idle pods by name, as the index shows them, minus those just claimed."""
        found = {}
        for pod in (self.index or {}).get(key, ()):
            meta = pod.get("metadata") or {}
            if f"{meta.get('namespace')}/{meta.get('name')}" not in self.taken:
                found[str(meta.get("name"))] = pod
        return found

    # -- events --------------------------------------------------------------------------

    def on_pool(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        spec = pools.pool_spec(body)
        if event_type == "DELETED":
            # Its idle Jobs go with it (ownerReferences); claimed ones belong to their runs.
            self.pools.pop(spec.key, None)
            return
        state = self.pools.get(spec.key)
        if state is None or state.spec.uid != spec.uid:
            state = PoolState(body=dict(body))
            state.claimed_total = int((body.get("status") or {}).get("claimed") or 0)
            self.pools[spec.key] = state
        state.body = dict(body)
        state.dirty = True
        self.spawn("pool", self.reconcile(spec.key))

    def on_pod(self, event_type: str | None, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        key = f"{meta.get('namespace')}/{labels.get(r.LABEL_POOL)}"
        state = self.pools.get(key)
        name = str(meta.get("name") or "")
        if state is None:
            return
        job = str(labels.get(r.LABEL_JOB_NAME) or "")
        state.pending.pop(job, None)
        if event_type == "DELETED" and not pools.is_claimed(pod) and job not in state.deleted:
            # Not by us (someone, or an eviction): its Job has failed for good (backoffLimit
            # 0), so it goes too, and the pool reports the loss.
            self.spawn("pool", self._lost(state, name, job))
        if event_type == "DELETED" or pools.is_claimed(pod):
            self.reserved.discard(f"{meta.get('namespace')}/{name}")
        if event_type == "DELETED" and self.primer is not None:
            self.primer.discard(f"{meta.get('namespace')}/{name}")
        state.dirty = True
        self.spawn("pool", self.reconcile(key))

    # -- claims --------------------------------------------------------------------------

    def take(self, namespace: str, language: str) -> dict[str, Any] | None:
        """A ready idle pod of a pool of `language` in `namespace`, reserved for one claim
        (the oldest first: it is the next to be recycled), or None (the run goes cold)."""
        template = template_hash(language, self.settings)
        now = utc_now()
        candidates: list[tuple[str, dict[str, Any]]] = []
        for state in self.pools.values():
            spec = state.spec
            if spec.namespace != namespace or spec.language != language:
                continue
            for name, pod in self.pods(spec.key).items():
                if f"{namespace}/{name}" in self.reserved:
                    continue
                seen = pools.view(
                    pod, now, self.settings.start_grace_seconds, spec.max_idle_seconds, template
                )
                if seen.state is pools.PodState.READY:
                    candidates.append((seen.created, dict(pod)))
        if not candidates:
            return None
        pod = min(candidates, key=lambda c: c[0])[1]
        self.reserved.add(f"{namespace}/{pod['metadata']['name']}")
        return pod

    def release(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        self.reserved.discard(f"{meta.get('namespace')}/{meta.get('name')}")

    def claimed(self, pod: Mapping[str, Any]) -> None:
        """A claim of `pod` succeeded: it is no longer the pool's; refill at once."""
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        key = f"{meta.get('namespace')}/{labels.get(r.LABEL_POOL)}"
        self.reserved.discard(f"{meta.get('namespace')}/{meta.get('name')}")
        self.taken.add(f"{meta.get('namespace')}/{meta.get('name')}")
        state = self.pools.get(key)
        if state is None:
            return
        state.claimed_total += 1
        state.dirty = True
        self.spawn("pool", self.reconcile(key))

    def serves(self, namespace: str, language: str) -> bool:
        return any(
            s.spec.namespace == namespace and s.spec.language == language and s.spec.replicas
            for s in self.pools.values()
        )

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: str, write_status: bool = False) -> None:
        state = self.pools.get(key)
        if state is None:
            return
        async with state.lock:
            if self.pools.get(key) is not state:
                return
            spec = state.spec
            now = utc_now()
            grace = self.settings.start_grace_seconds
            template = template_hash(spec.language, self.settings)
            self._expire_pending(state, grace)
            views = [
                pools.view(pod, now, grace, spec.max_idle_seconds, template)
                for pod in self.pods(key).values()
            ]
            # Pods of Jobs we deleted are on their way out: neither counted nor reported.
            views = [v for v in views if v.job_name not in state.deleted]
            decided = pools.plan(spec, views, len(state.pending))
            failing = None
            for pod_view in decided.delete:
                if f"{spec.namespace}/{pod_view.name}" in self.reserved:
                    continue  # a claim is under way: it decides
                if pod_view.state is pools.PodState.FAILED:
                    failing = f"pod {pod_view.name}: {pod_view.reason}"
                    await self._report(state, pod_view)
                await self._delete(state, pod_view)
            if failing is not None:
                state.failing = failing
                state.failures += 1
                state.next_create = time.monotonic() + min(
                    MAX_BACKOFF_S, 2 ** min(state.failures, 8)
                )
            elif any(v.state is pools.PodState.READY for v in views):
                state.failing = None
                state.failures = 0
            if time.monotonic() >= state.next_create:
                for _ in range(decided.create):
                    await self._create(state)
            live = [v for v in views if v.job_name not in state.deleted]
            self._prime(spec.namespace, live)
            ready = sum(1 for v in live if v.state is pools.PodState.READY)
            starting = sum(1 for v in live if v.state is pools.PodState.STARTING)
            metrics.POOL_PODS.labels(spec.language, "ready").set(ready)
            metrics.POOL_PODS.labels(spec.language, "starting").set(starting + len(state.pending))
            if write_status or spec.generation != (state.body.get("status") or {}).get(
                "observedGeneration"
            ):
                await self._write_status(state, live, now)

    def _prime(self, namespace: str, live: list[pools.PodView]) -> None:
        if self.primer is None:
            return
        for pod_view in live:
            if pod_view.state is pools.PodState.READY:
                self.primer.prime(namespace, pod_view.name, pod_view.containers)

    def _expire_pending(self, state: PoolState, grace: float) -> None:
        """A Job whose pod never appeared (refused by admission, quota): given up, reported."""
        cutoff = time.monotonic() - grace
        for job, created in list(state.pending.items()):
            if created < cutoff:
                del state.pending[job]
                state.failing = f"Job {job} created no pod within {round(grace)} s"
                self.spawn("pool", self._delete_job(state, job, state.failing))

    async def _create(self, state: PoolState) -> None:
        spec = state.spec
        name = r.pool_job_name(spec.name, secrets.token_hex(4))
        job = build_pool_job(state.body, name, self.settings)
        state.pending[name] = time.monotonic()
        try:
            await self.kube.create_job(job)
        except ApiException as error:
            state.pending.pop(name, None)
            state.failing = f"creating a pool Job failed: {error.status} {error.reason}"
            log.warning("pool %s: %s", spec.key, state.failing)

    async def _delete(self, state: PoolState, pod_view: pools.PodView) -> None:
        await self._delete_job(state, pod_view.job_name, pod_view.reason)

    async def _delete_job(self, state: PoolState, job: str, reason: str) -> None:
        if not job or job in state.deleted:
            return
        state.deleted.add(job)
        log.info("pool %s: deleting Job %s: %s", state.spec.key, job, reason or "surplus")
        await self.kube.delete_job(state.spec.namespace, job)

    async def _lost(self, state: PoolState, pod: str, job: str) -> None:
        message = f"pool pod {pod} replaced: {pools.DELETED_REASON}"
        log.warning("pool %s: %s", state.spec.key, message)
        await self._delete_job(state, job, "its pod was deleted")
        await self.kube.post_event(
            {"kind": r.POOL_KIND, **state.body}, "Warning", "PodDeleted", message
        )

    async def _report(self, state: PoolState, pod_view: pools.PodView) -> None:
        if pod_view.name in state.reported:
            return
        state.reported.add(pod_view.name)
        message = f"pool pod {pod_view.name} replaced: {pod_view.reason}"
        log.warning("pool %s: %s", state.spec.key, message)
        reason = "PodDeleted" if pod_view.reason == pools.DELETED_REASON else "PodFailed"
        await self.kube.post_event({"kind": r.POOL_KIND, **state.body}, "Warning", reason, message)

    async def _write_status(self, state: PoolState, live: list[pools.PodView], now: Any) -> None:
        spec = state.spec
        previous = state.body.get("status") or {}
        doc = pools.pool_status(
            spec, live, len(state.pending), state.claimed_total, state.failing, previous, now
        )
        if pools.same_status(previous, doc):
            return
        await self.kube.patch_pool_status(spec.namespace, spec.name, doc)
        state.body = {**state.body, "status": doc}

    async def sweep(self) -> None:
        """Every few seconds: age-based recycling, grace periods, and the status written at
        most this often (claims do not each cost a status write)."""
        for key in list(self.pools):
            await self.reconcile(key, write_status=True)
        shown = {
            f"{(p.get('metadata') or {}).get('namespace')}/{(p.get('metadata') or {}).get('name')}"
            for pods in (self.index or {}).values()
            for p in pods
        }
        self.taken &= shown  # the index caught up with these claims
        if self.primer is not None:
            # Streams of pods neither idle nor being claimed: gone, or no longer the pool's.
            self.primer.retain(shown | self.reserved)
        for key, state in self.pools.items():
            # Forget deletions and reports once their pods are gone (bounded memory).
            pods = self.pods(key)
            jobs = {
                str(((p.get("metadata") or {}).get("labels") or {}).get(r.LABEL_JOB_NAME))
                for p in pods.values()
            }
            state.deleted &= jobs
            state.reported &= set(pods)
