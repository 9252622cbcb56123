"""What a CodeRunPool should do now, from what its pods show. Pure: no I/O.

A pool keeps `spec.replicas` idle pods of one language: each a Job exactly like a cold
run's (job_builder.build_pool_job) whose containers are past their network gate and wait
for a request on stdin. A pod is, from the pool's view:

- claimed: a CodeRun took it (label coderun.dev/warm=claimed); no longer the pool's;
- ready: every container's startupProbe passed (its runner waits for the request);
- starting: not ready yet, within the start grace;
- failed: it ended, is being deleted, waits on an image or a container that cannot be
  created past the grace, or did not start within five graces: replaced, and reported;
- stale: idle longer than maxIdleSeconds, or made from another template (settings or
  image changed): replaced quietly, so that changes roll out; likewise a pod whose stdin
  ended while idle (the operator's primed attach ended with it, primed.py).

`plan` then says which Jobs to delete and how many to create: replacements at once, and
the surplus after a scale-down removed (starting ones first, then the oldest).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from coderun_sandbox.contract import INCOMPLETE_KEY, iso_utc, parse_iso_utc

from coderun_operator import pod_verdict
from coderun_operator import resources as r
from coderun_operator.job_builder import DEFAULT_MAX_IDLE_SECONDS

MAX_REPLICAS = 64
# Why an idle pod that someone else deletes (a person, an eviction, a node drain) is lost.
DELETED_REASON = "it was deleted while idle"
MIN_MAX_IDLE_SECONDS = 30
MAX_MAX_IDLE_SECONDS = 86_400


class PoolSpec(NamedTuple):
    namespace: str
    name: str
    uid: str
    language: str
    replicas: int
    max_idle_seconds: int
    generation: int | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def selector(self) -> str:
        """The label selector of its idle pods (status.selector, for the scale subresource)."""
        return f"{r.LABEL_POOL}={self.name},{r.LABEL_WARM}={r.WARM_IDLE}"


def pool_spec(body: Mapping[str, Any]) -> PoolSpec:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    replicas = int(spec.get("replicas") or 0)
    max_idle = int(spec.get("maxIdleSeconds") or DEFAULT_MAX_IDLE_SECONDS)
    generation = meta.get("generation")
    return PoolSpec(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        language=str(spec.get("language") or ""),
        replicas=max(0, min(MAX_REPLICAS, replicas)),
        max_idle_seconds=max(MIN_MAX_IDLE_SECONDS, min(MAX_MAX_IDLE_SECONDS, max_idle)),
        generation=int(generation) if generation is not None else None,
    )


class PodState(enum.Enum):
    CLAIMED = "claimed"
    READY = "ready"
    STARTING = "starting"
    FAILED = "failed"
    STALE = "stale"


class PodView(NamedTuple):
    """A pool pod as the pool sees it."""

    name: str
    job_name: str
    state: PodState
    created: str  # creationTimestamp, sorts as text
    reason: str = ""  # why it failed or is stale
    containers: tuple[str, ...] = ()  # each waits for the request on its stdin


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def is_claimed(pod: Mapping[str, Any]) -> bool:
    return _labels(pod).get(r.LABEL_WARM) != r.WARM_IDLE


def is_ready(pod: Mapping[str, Any]) -> bool:
    """Every container runs and passed its startupProbe: each runner waits for its request."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    spec_containers = (pod.get("spec") or {}).get("containers") or []
    return (
        status.get("phase") == "Running"
        and bool(containers)
        and len(containers) == len(spec_containers)
        and all(c.get("started") and (c.get("state") or {}).get("running") for c in containers)
    )


def age_seconds(pod: Mapping[str, Any], now: datetime) -> float:
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    return (now - parse_iso_utc(str(created))).total_seconds() if created else 0.0


def _stdin_ended(pod: Mapping[str, Any]) -> bool:
    """A container's runner logged INCOMPLETE while idle: its stdin ended before any request,
    because the attach session the operator held open ended (primed.py). Nothing ran."""
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        end = (container.get("state") or {}).get("terminated") or {}
        if INCOMPLETE_KEY in str(end.get("message") or ""):
            return True
    return False


def _failure(pod: Mapping[str, Any], now: datetime, grace_s: float) -> str | None:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return DELETED_REASON
    if status.get("phase") in ("Failed", "Succeeded"):
        reason = status.get("reason") or status.get("phase")
        return f"it ended ({reason}) before any run"
    for container in status.get("containerStatuses") or []:
        end = (container.get("state") or {}).get("terminated")
        if end is not None:
            line = pod_verdict.parse_result_line(str(end.get("message") or ""))
            detail = str((line or {}).get("sandboxErrorMessage") or end.get("reason") or "")
            return (
                f"its {container.get('name')} container ended (exit code "
                f"{end.get('exitCode')}) before any run" + (f": {detail}" if detail else "")
            )
    if is_ready(pod):
        return None
    age = age_seconds(pod, now)
    problem = pod_verdict._waiting_problem(pod)
    if problem is not None and age >= grace_s:
        return f"{problem} (after {round(age)} s)"
    if age >= grace_s * pod_verdict.NOT_STARTED_GRACE_FACTOR:
        return f"it did not become ready within {round(age)} s"
    return None


def view(
    pod: Mapping[str, Any], now: datetime, grace_s: float, max_idle_s: int, template: str
) -> PodView:
    meta = pod.get("metadata") or {}
    labels = _labels(pod)
    name = str(meta.get("name") or "")
    job = str(labels.get(r.LABEL_JOB_NAME) or labels.get(r.LABEL_RUN) or "")
    created = str(meta.get("creationTimestamp") or "")

    containers = tuple(str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or [])

    def of(state: PodState, reason: str = "") -> PodView:
        return PodView(name, job, state, created, reason, containers)

    if is_claimed(pod):
        return of(PodState.CLAIMED)
    if not meta.get("deletionTimestamp") and _stdin_ended(pod):
        return of(PodState.STALE, "its stdin ended before any request (the operator's attach)")
    failed = _failure(pod, now, grace_s)
    if failed is not None:
        return of(PodState.FAILED, failed)
    if (meta.get("annotations") or {}).get(r.ANNOTATION_TEMPLATE) != template:
        return of(PodState.STALE, "made from an older template")
    if age_seconds(pod, now) > max_idle_s:
        return of(PodState.STALE, f"idle longer than {max_idle_s} s")
    return of(PodState.READY if is_ready(pod) else PodState.STARTING)


class Plan(NamedTuple):
    create: int
    delete: list[PodView]  # failed ones first (each reported), then stale, then surplus


def plan(spec: PoolSpec, pods: Iterable[PodView], pending: int) -> Plan:
    """`pending`: Jobs created whose pod has not been seen yet (they count as starting)."""
    idle = [p for p in pods if p.state is not PodState.CLAIMED]
    failed = [p for p in idle if p.state is PodState.FAILED]
    stale = [p for p in idle if p.state is PodState.STALE]
    live = [p for p in idle if p.state in (PodState.READY, PodState.STARTING)]
    surplus = len(live) + pending - spec.replicas
    # Starting ones first (nothing invested yet is lost by a claim), then the oldest.
    by_preference = sorted(live, key=lambda p: (p.state is PodState.READY, p.created))
    extra = by_preference[: max(0, min(surplus, len(live)))]
    create = max(0, spec.replicas - len(live) - pending)
    return Plan(create=create, delete=[*failed, *stale, *extra])


def pool_status(
    spec: PoolSpec,
    pods: Iterable[PodView],
    pending: int,
    claimed_total: int,
    failing: str | None,
    previous: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The status document: counts, the selector, one Ready condition."""
    views = list(pods)
    ready = sum(1 for p in views if p.state is PodState.READY)
    starting = sum(1 for p in views if p.state is PodState.STARTING) + pending
    if failing:
        condition = ("False", "PodsFailing", failing)
    elif spec.replicas == 0:
        condition = ("True", "Empty", "no pods wanted: every run of this language starts cold")
    elif ready >= spec.replicas:
        condition = ("True", "Full", f"{ready} of {spec.replicas} pods ready")
    else:
        condition = ("False", "Filling", f"{ready} of {spec.replicas} pods ready")
    status, reason, message = condition
    old = {c.get("type"): c for c in previous.get("conditions") or []}.get("Ready") or {}
    transition = (
        old.get("lastTransitionTime") if old.get("status") == status else None
    ) or iso_utc(now)
    return {
        "replicas": ready + starting,
        "ready": ready,
        "starting": starting,
        "claimed": claimed_total,
        "selector": spec.selector,
        "observedGeneration": spec.generation,
        "conditions": [
            {
                "type": "Ready",
                "status": status,
                "reason": reason,
                "message": message[:1024],
                "lastTransitionTime": transition,
                "observedGeneration": spec.generation,
            }
        ],
    }


def same_status(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal but for transition times: nothing worth a write."""

    def strip(doc: Mapping[str, Any]) -> dict[str, Any]:
        conditions = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in doc.get("conditions") or []
        ]
        return {**doc, "conditions": conditions}

    return strip(a) == strip(b)
