"""Warm pools without a cluster: the pool Job, what a pool decides from its pods, the claim
patch and its deadline."""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from coderun_operator import pools
from coderun_operator import resources as r
from coderun_operator.claim import claim_patch, claimed_by, claimed_deadline, job_handover
from coderun_operator.job_builder import (
    build_job,
    build_pool_job,
    deadline_seconds,
    pool_deadline_seconds,
    template_hash,
)
from coderun_operator.pool_controller import PoolController, PoolState
from coderun_operator.settings import OperatorSettings
from coderun_sandbox.contract import (
    INCOMPLETE_KEY,
    RunRequest,
    iso_utc,
    log_line,
    parse_iso_utc,
    utc_now,
)

from .factories import coderun

NOW = parse_iso_utc("2026-11-28T10:10:00Z")
SETTINGS = OperatorSettings()


def pool(language: str = "python", replicas: int = 2, max_idle: int = 600) -> dict[str, Any]:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.POOL_KIND,
        "metadata": {"name": language, "namespace": "runs", "uid": "pool-uid", "generation": 3},
        "spec": {"language": language, "replicas": replicas, "maxIdleSeconds": max_idle},
    }


def pool_pod(
    name: str,
    *,
    ready: bool = True,
    age_s: float = 60,
    warm: str = r.WARM_IDLE,
    template: str | None = None,
    containers: tuple[str, ...] = ("run",),
    terminated: bool = False,
    now: datetime = NOW,
) -> dict[str, Any]:
    created = iso_utc(now - timedelta(seconds=age_s))
    state: dict[str, Any] = (
        {"terminated": {"exitCode": 1, "reason": "Error"}}
        if terminated
        else {"running": {"startedAt": created}}
    )
    return {
        "metadata": {
            "name": f"{name}-pod",
            "namespace": "runs",
            "resourceVersion": "41",
            "creationTimestamp": created,
            "labels": {
                r.LABEL_POOL: "python",
                r.LABEL_WARM: warm,
                r.LABEL_JOB_NAME: name,
            },
            "annotations": {
                r.ANNOTATION_TEMPLATE: template or template_hash("python", SETTINGS),
            },
        },
        "spec": {
            "containers": [{"name": c} for c in containers],
            "activeDeadlineSeconds": pool_deadline_seconds("python", 600, SETTINGS),
        },
        "status": {
            "phase": "Running",
            "startTime": created,
            "containerStatuses": [
                {"name": c, "started": ready, "ready": ready, "state": state} for c in containers
            ],
        },
    }


def views(*pods: dict[str, Any], max_idle: int = 600) -> list[pools.PodView]:
    template = template_hash("python", SETTINGS)
    return [pools.view(p, NOW, 60, max_idle, template) for p in pods]


# -- the pool Job ------------------------------------------------------------------------


def test_a_pool_job_is_a_cold_jobs_pod_with_no_request_labelled_for_its_pool() -> None:
    job = build_pool_job(pool(), "crpool-python-0a1b2c3d", SETTINGS)
    cold = build_job(coderun())
    spec, cold_spec = job["spec"]["template"]["spec"], cold["spec"]["template"]["spec"]
    for field in ("securityContext", "automountServiceAccountToken", "dnsPolicy", "volumes"):
        if field == "securityContext":
            same = {
                k: v
                for k, v in spec[field].items()
                if k not in ("runAsUser", "runAsGroup", "fsGroup")
            }
            assert same == {
                k: v
                for k, v in cold_spec[field].items()
                if k not in ("runAsUser", "runAsGroup", "fsGroup")
            }
        else:
            assert spec[field] == cold_spec[field], field
    (run_c,) = spec["containers"]
    (cold_run,) = cold_spec["containers"]
    assert run_c["resources"] == cold_run["resources"]  # the promised limits
    assert run_c["securityContext"] == cold_run["securityContext"]
    assert run_c["stdin"] and run_c["stdinOnce"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels[r.LABEL_POOL] == "python" and labels[r.LABEL_WARM] == r.WARM_IDLE
    assert labels[r.LABEL_SANDBOX] == "true"  # the deny-all NetworkPolicy selects it
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (r.POOL_KIND, "python", "pool-uid")
    assert r.ANNOTATION_CODERUN not in job["spec"]["template"]["metadata"]["annotations"]


def test_pool_pods_spread_across_nodes_softly() -> None:
    spec = build_pool_job(pool(), "crpool-python-0a1b2c3d", SETTINGS)["spec"]["template"]["spec"]
    (spread,) = spec["topologySpreadConstraints"]
    assert spread == {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {r.LABEL_POOL: "python"}},
    }


def test_each_container_has_a_startup_probe_on_its_own_ready_file() -> None:
    job = build_pool_job(pool("cpp"), "crpool-cpp-0a1b2c3d", SETTINGS)
    containers = job["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["compile", "run"]
    for container in containers:
        probe = container["startupProbe"]["exec"]["command"]
        assert probe == ["test", "-e", f"/tmp/.coderun-ready-{container['name']}"]
        # Outlasts the gate (which fails closed by itself), so the probe never kills first.
        assert container["startupProbe"]["failureThreshold"] > SETTINGS.network_gate_timeout_seconds
    compile_c, run_c = containers
    assert compile_c["resources"]["limits"]["memory"] == "1056Mi"
    assert run_c["resources"]["limits"]["memory"] == "288Mi"


def test_an_idle_pool_pod_outlives_its_idle_time_by_a_whole_run() -> None:
    job = build_pool_job(pool(max_idle=600), "crpool-python-0a1b2c3d", SETTINGS)
    deadline = job["spec"]["template"]["spec"]["activeDeadlineSeconds"]
    run = deadline_seconds(RunRequest("python", "x"), SETTINGS)
    assert deadline >= 600 + run
    assert job["spec"]["activeDeadlineSeconds"] > deadline


def test_pool_job_names_are_valid_and_unique_per_token() -> None:
    long = r.pool_job_name("p" * 100, "0a1b2c3d")
    assert len(long) <= r.MAX_JOB_NAME and long.endswith("-0a1b2c3d")
    assert r.pool_job_name("python", "0a1b2c3d") == "crpool-python-0a1b2c3d"


def test_each_pool_pod_gets_its_own_uid() -> None:
    uids = {
        build_pool_job(pool(), f"crpool-python-{i:08x}", SETTINGS)["spec"]["template"]["spec"][
            "securityContext"
        ]["runAsUser"]
        for i in range(30)
    }
    assert len(uids) == 30


# -- what a pool decides -----------------------------------------------------------------


def test_a_short_pool_creates_and_counts_pending_jobs_as_starting() -> None:
    spec = pools.pool_spec(pool(replicas=3))
    assert pools.plan(spec, views(pool_pod("a")), pending=0) == pools.Plan(create=2, delete=[])
    assert pools.plan(spec, views(pool_pod("a")), pending=2).create == 0


def test_claimed_pods_are_not_the_pools_any_more() -> None:
    spec = pools.pool_spec(pool(replicas=1))
    seen = views(pool_pod("a", warm=r.WARM_CLAIMED))
    assert seen[0].state is pools.PodState.CLAIMED
    assert pools.plan(spec, seen, pending=0).create == 1


def test_failed_stale_and_surplus_pods_are_deleted_failed_first() -> None:
    spec = pools.pool_spec(pool(replicas=1))
    seen = views(
        pool_pod("old", age_s=700),
        pool_pod("ended", terminated=True),
        pool_pod("ready-young", age_s=10),
        pool_pod("ready-older", age_s=20),
        pool_pod("starting", ready=False, age_s=5),
        pool_pod("other-template", template="0" * 16),
    )
    decided = pools.plan(spec, seen, pending=0)
    names = [v.job_name for v in decided.delete]
    assert names[0] == "ended"
    assert set(names[1:3]) == {"old", "other-template"}
    # Three live, one wanted: the starting one goes first, then the oldest ready one.
    assert names[3:] == ["starting", "ready-older"]
    assert decided.create == 0
    (ended,) = [v for v in decided.delete if v.job_name == "ended"]
    assert "run container ended" in ended.reason


def test_a_pod_that_never_gets_ready_fails_after_the_grace() -> None:
    (slow,) = views(pool_pod("slow", ready=False, age_s=400))
    assert slow.state is pools.PodState.FAILED
    assert "did not become ready" in slow.reason


def test_a_compiled_pool_pod_is_ready_only_when_both_containers_are() -> None:
    half = pool_pod("half", containers=("compile", "run"))
    half["status"]["containerStatuses"][0]["started"] = False
    assert not pools.is_ready(half)
    assert pools.is_ready(pool_pod("both", containers=("compile", "run")))


def test_status_counts_ready_starting_and_claims_and_keeps_transition_times() -> None:
    spec = pools.pool_spec(pool(replicas=2))
    seen = views(pool_pod("a"), pool_pod("b", ready=False, age_s=1))
    doc = pools.pool_status(
        spec, seen, pending=1, claimed_total=7, failing=None, previous={}, now=NOW
    )
    assert (doc["replicas"], doc["ready"], doc["starting"], doc["claimed"]) == (3, 1, 2, 7)
    assert doc["selector"] == "coderun.dev/pool=python,coderun.dev/warm=idle"
    assert doc["observedGeneration"] == 3
    (ready,) = doc["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "Filling")
    later = pools.pool_status(spec, seen, 1, 7, None, doc, NOW + timedelta(seconds=30))
    assert later["conditions"][0]["lastTransitionTime"] == ready["lastTransitionTime"]
    assert pools.same_status(doc, later)
    failing = pools.pool_status(spec, seen, 1, 7, "pod x: its run container ended", doc, NOW)
    assert failing["conditions"][0]["reason"] == "PodsFailing"


@pytest.mark.parametrize(("replicas", "expected"), [(-3, 0), (5, 5), (500, 64)])
def test_pool_spec_is_bounded(replicas: int, expected: int) -> None:
    assert pools.pool_spec(pool(replicas=replicas)).replicas == expected


# -- the claim ---------------------------------------------------------------------------


def test_the_claim_relabels_annotates_and_lowers_the_deadline_in_one_patch() -> None:
    run = coderun("job42")
    pod = pool_pod("a", age_s=125.2)
    request = RunRequest("python", "print(1)")
    deadline = claimed_deadline(pod, request, SETTINGS, NOW)
    assert deadline == 126 + deadline_seconds(request, SETTINGS)
    assert deadline < pod["spec"]["activeDeadlineSeconds"]
    patch = claim_patch(run, deadline)
    assert patch["metadata"]["labels"] == {
        r.LABEL_WARM: r.WARM_CLAIMED,
        r.LABEL_CLAIMED_BY: "uid-job42",
    }
    assert patch["metadata"]["annotations"] == {
        r.ANNOTATION_CODERUN: "job42",
        r.ANNOTATION_CODERUN_UID: "uid-job42",
        r.ANNOTATION_ATTEMPT: "0",  # the run's first delivery attempt
    }
    assert patch["spec"] == {"activeDeadlineSeconds": deadline}
    claimed = {**pod, "metadata": {**pod["metadata"], **patch["metadata"]}}
    assert claimed_by(claimed) == "uid-job42" and claimed_by(pod) == ""


def test_a_claim_never_raises_a_deadline() -> None:
    pod = pool_pod("a", age_s=10_000)
    deadline = claimed_deadline(pod, RunRequest("python", "x"), SETTINGS, NOW)
    assert deadline == pod["spec"]["activeDeadlineSeconds"]


def test_the_claimed_job_belongs_to_its_coderun_alone() -> None:
    handover = job_handover(coderun("job42"))
    (owner,) = handover["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CodeRun",
        "job42",
        "uid-job42",
        True,
    )


# -- taking pods for claims --------------------------------------------------------------


def _close(work: Awaitable[None]) -> None:
    if isinstance(work, Coroutine):
        work.close()


def controller_with(*pods: dict[str, Any]) -> PoolController:
    # No I/O here: a claim only schedules the pool's refill, which is closed unrun.
    controller = PoolController(SETTINGS, cast(Any, None), lambda step, work: _close(work))
    body = pool()
    body["metadata"]["namespace"] = "runs"
    controller.pools["runs/python"] = PoolState(body=body)
    controller.index = {"runs/python": list(pods)}
    return controller


def test_take_offers_each_ready_pod_once_oldest_first() -> None:
    now = utc_now()  # take() judges the pods' age by the clock
    controller = controller_with(
        pool_pod("young", age_s=10, now=now),
        pool_pod("old", age_s=100, now=now),
        pool_pod("starting", ready=False, age_s=1, now=now),
    )
    first = controller.take("runs", "python")
    second = controller.take("runs", "python")
    assert first is not None and second is not None
    assert [first["metadata"]["name"], second["metadata"]["name"]] == ["old-pod", "young-pod"]
    assert controller.take("runs", "python") is None  # the starting one is not offered
    assert controller.take("other", "python") is None  # nor any across namespaces
    controller.release(first)
    again = controller.take("runs", "python")
    assert again is not None and again["metadata"]["name"] == "old-pod"


def test_a_claimed_pod_is_not_offered_even_before_the_index_catches_up() -> None:
    controller = controller_with(pool_pod("only", now=utc_now()))
    taken = controller.take("runs", "python")
    assert taken is not None
    controller.claimed(taken)
    controller.release(taken)
    assert controller.take("runs", "python") is None


def test_a_pod_whose_stdin_ended_while_idle_is_replaced_quietly() -> None:
    # The runner's INCOMPLETE line, as the kubelet keeps it (FallbackToLogsOnError), after
    # the operator's primed attach ended (an operator restart): stale, not failed, so the
    # pool neither reports it nor backs off its refill.
    ended = pool_pod("ended", terminated=True)
    ended["status"]["phase"] = "Failed"
    terminated = ended["status"]["containerStatuses"][0]["state"]["terminated"]
    terminated.update(
        exitCode=3, message=log_line(INCOMPLETE_KEY, {"message": "the stream ended after 0"})
    )
    (seen,) = views(ended)
    assert seen.state is pools.PodState.STALE
    assert "stdin ended" in seen.reason
    # Any other end before a run is still a failure.
    (failed,) = views(pool_pod("crashed", terminated=True))
    assert failed.state is pools.PodState.FAILED


def test_views_name_the_containers_that_wait_for_a_request() -> None:
    (seen,) = views(pool_pod("compiled", containers=("compile", "run")))
    assert seen.containers == ("compile", "run")
