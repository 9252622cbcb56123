"""Warm pools on the real cluster, through the REST API: CodeRunPools keep single-use sandbox
pods ready; a run claims one (start "warm") or, with none ready, starts cold.

One namespace, operator and API for the module, with a pool of one pod per language. Tests
that change a pool's size put it back.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from coderun_operator import resources as r
from coderun_sandbox.languages import languages

from tests.fixtures import warm_pools
from tests.operator.harness import (
    Stack,
    apply_json,
    create_json,
    get_coderun,
    wait_coderun_final,
    wait_until,
)
from tests.operator.stacks import stack_fixture

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

# Each language's starter program (the playground's first code) prints "Hello, World!".
HELLO = {key: language.starter for key, language in languages().items()}
LANGUAGES = list(HELLO)
PRIMED = "coderun_operator_deliveries_total"


@dataclass
class Pooled(Stack):
    key: str

    def kubectl(self, *args: str, check: bool = True) -> str:
        return self.cluster.kubectl(*args, "-n", self.namespace, check=check).stdout

    def pool(self, language: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", "crpool", language, "-o", "json"))
        return found

    def set_pool(self, language: str, replicas: int, max_idle: int = 600) -> None:
        apply_json(self.cluster, pool_manifest(self.namespace, language, replicas, max_idle))

    def idle_pods(self, language: str) -> list[dict[str, Any]]:
        return warm_pools.idle_pods(self.cluster, self.namespace, language)

    def wait_ready(self, language: str, count: int) -> list[dict[str, Any]]:
        """Until the pool has exactly `count` idle pods, every one ready."""

        def ready() -> list[dict[str, Any]] | None:
            pods = self.idle_pods(language)
            status = self.pool(language).get("status") or {}
            all_ready = all(warm_pools.started(p) for p in pods)
            if len(pods) == count and all_ready and status.get("ready") == count:
                return pods
            return None

        found: list[dict[str, Any]] = wait_until(
            ready, f"pool {language}: {count} ready", rounds=900, pause=0.3
        )
        return found

    def coderun(self, job_id: str) -> dict[str, Any]:
        body = get_coderun(self.cluster, self.namespace, job_id)
        assert body is not None, job_id
        return body


def pool_manifest(namespace: str, language: str, replicas: int, max_idle: int) -> dict[str, Any]:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.POOL_KIND,
        "metadata": {"name": language, "namespace": namespace},
        "spec": {"language": language, "replicas": replicas, "maxIdleSeconds": max_idle},
    }


stack = stack_fixture(
    "coderun-pool",
    max_concurrent_runs="4",
    max_running_per_account="4",
    start_grace_seconds="30",
)


@pytest.fixture(scope="module")
def pooled(stack: Stack) -> Pooled:
    key = stack.api.new_key(credits=10_000)
    found = Pooled(stack.cluster, stack.namespace, stack.operator, stack.api, key)
    for language in LANGUAGES:
        found.set_pool(language, 1)
    for language in LANGUAGES:
        found.wait_ready(language, 1)
    return found


def _succeeded_warm_once(pooled: Pooled, key: str, job_id: str, stdout: str) -> dict[str, Any]:
    """The run ends a success that prints `stdout`, on a claimed pool pod, charged once (its
    key was made with 10 credits); its CodeRun's status."""
    data = pooled.api.wait_final(key, job_id)
    assert data["status"] == "success", data
    assert data["stdout"] == stdout
    assert pooled.api.account_info(key)["credits"] == 9
    status: dict[str, Any] = pooled.coderun(job_id)["status"]
    assert status["start"] == "warm", status
    return status


def _warm_pod_of(pooled: Pooled, job_id: str) -> str:
    status = pooled.coderun(job_id)["status"]
    assert status["start"] == "warm", status
    pod: str = status["podName"]
    assert pod.startswith(r.POOL_JOB_PREFIX), status
    return pod


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_warm_run_in_each_pooled_language(pooled: Pooled, language: str) -> None:
    before = pooled.wait_ready(language, 1)
    claimed_before = int((pooled.pool(language).get("status") or {}).get("claimed") or 0)
    primed_before = pooled.operator.metric(PRIMED, path="primed")
    data = pooled.api.run(pooled.key, HELLO[language], language)
    assert data["status"] == "success", data
    assert data["stdout"] == "Hello, World!\n"
    pod = _warm_pod_of(pooled, data["jobId"])
    assert pod == before[0]["metadata"]["name"]
    # Each container's request went on the stdin session opened while the pod was idle.
    containers = len(before[0]["spec"]["containers"])
    assert pooled.operator.metric(PRIMED, path="primed") - primed_before == containers
    # The claimed Job is the run's now: owned by the CodeRun, no longer by the pool.
    job = json.loads(pooled.kubectl("get", "job", "-l", f"{r.LABEL_CLAIMED_BY}", "-o", "json"))
    (mine,) = [j for j in job["items"] if pod.startswith(j["metadata"]["name"])]
    (owner,) = mine["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CodeRun", data["jobId"])
    # Refilled: a new pod, ready, and the claim counted.
    (after,) = pooled.wait_ready(language, 1)
    assert after["metadata"]["name"] != pod
    assert int(pooled.pool(language)["status"]["claimed"]) >= claimed_before + 1
    if language in ("cpp", "java"):
        assert data["compileTimeMs"] is not None and data["compileTimeMs"] > 0, data


def test_kubectl_get_shows_start_and_pool_columns(pooled: Pooled) -> None:
    pooled.wait_ready("python", 1)
    data = pooled.api.run(pooled.key, HELLO["python"])
    table = pooled.kubectl("get", "crun", data["jobId"])
    header, row = table.splitlines()
    assert "START" in header.split() and "warm" in row.split(), table
    pools = pooled.kubectl("get", "crpool", "python")
    assert pools.splitlines()[0].split()[:6] == [
        "NAME",
        "LANGUAGE",
        "DESIRED",
        "READY",
        "STARTING",
        "CLAIMED",
    ], pools


def test_custom_limits_go_cold_while_a_pod_is_ready(pooled: Pooled) -> None:
    (ready,) = pooled.wait_ready("python", 1)
    name = f"custom-{time.monotonic_ns()}"
    manifest = {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {"name": name, "namespace": pooled.namespace},
        "spec": {"language": "python", "code": "print('own limits')", "timeLimitMs": 2000},
    }
    created = create_json(pooled.cluster, manifest)
    assert created.returncode == 0, created.stderr
    body = wait_coderun_final(pooled.cluster, pooled.namespace, name)
    assert body["status"]["verdict"] == "Success", body["status"]
    assert body["status"]["start"] == "cold"
    assert body["status"]["jobName"] == r.job_name(name)
    # The ready pod was not taken.
    assert ready["metadata"]["name"] in [p["metadata"]["name"] for p in pooled.idle_pods("python")]


def test_a_pool_of_two_with_ten_concurrent_runs(pooled: Pooled) -> None:
    """All complete with their own output, no two share a pod, the surplus starts cold."""
    pooled.set_pool("python", 2)
    pooled.wait_ready("python", 2)
    keys = [pooled.api.new_key(credits=100) for _ in range(5)]
    programs = [(keys[i % 5], f"print('run {i}')\n") for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(10) as threads:
        job_ids = list(threads.map(lambda kc: pooled.api.submit(kc[0], kc[1]), programs))
        results = list(
            threads.map(
                lambda ij: pooled.api.wait_final(programs[ij[0]][0], ij[1]), enumerate(job_ids)
            )
        )
    try:
        for i, data in enumerate(results):
            assert data["status"] == "success", data
            assert data["stdout"] == f"run {i}\n", data
        statuses = [pooled.coderun(job_id)["status"] for job_id in job_ids]
        pods = [s["podName"] for s in statuses]
        assert len(set(pods)) == 10, pods
        starts = [s["start"] for s in statuses]
        assert starts.count("warm") >= 2, starts
        assert starts.count("cold") >= 1, starts
        for s in statuses:
            assert s["podName"].startswith(r.POOL_JOB_PREFIX) == (s["start"] == "warm"), s
    finally:
        pooled.set_pool("python", 1)
    pooled.wait_ready("python", 1)


def test_the_operator_killed_between_claim_and_result(pooled: Pooled) -> None:
    """SIGKILL while a warm run runs: the restarted operator follows the same pod (it does
    not deliver again, nor start the run anew), the run ends final and is charged once."""
    pooled.wait_ready("python", 1)
    key = pooled.api.new_key(credits=10)
    job_id = pooled.api.submit(key, "import time\ntime.sleep(2)\nprint('survived')\n")

    def claimed() -> bool:
        body = get_coderun(pooled.cluster, pooled.namespace, job_id) or {}
        return (body.get("status") or {}).get("start") == "warm"

    wait_until(claimed, "the run claimed a pool pod", rounds=400, pause=0.05)
    pooled.operator.kill()
    try:
        time.sleep(0.5)  # the program keeps running meanwhile; nobody follows its log
    finally:
        pooled.operator.restart()
    status = _succeeded_warm_once(pooled, key, job_id, "survived\n")
    # The run's only Job is the claimed pool Job: no cold one was made after the restart.
    jobs = json.loads(pooled.kubectl("get", "jobs", "-o", "json"))["items"]
    owned = [
        j["metadata"]["name"]
        for j in jobs
        if any(o.get("name") == job_id for o in j["metadata"].get("ownerReferences") or [])
    ]
    assert owned == [status["jobName"]], owned


def test_the_operator_killed_right_at_the_claim(pooled: Pooled) -> None:
    """SIGKILL as soon as a pod shows the claim (its run's status may not say so yet): the
    restarted operator finds the claimed pod by the run's uid, and the run ends right."""
    pooled.wait_ready("python", 1)
    key = pooled.api.new_key(credits=10)
    job_id = pooled.api.submit(key, "import time\ntime.sleep(1)\nprint('claimed once')\n")
    uid = ""

    def claimed_pod() -> bool:
        nonlocal uid
        body = get_coderun(pooled.cluster, pooled.namespace, job_id) or {}
        uid = str((body.get("metadata") or {}).get("uid") or "")
        return bool(uid) and bool(
            pooled.kubectl("get", "pods", "-l", f"{r.LABEL_CLAIMED_BY}={uid}", "-o", "name")
        )

    wait_until(claimed_pod, "a pod claimed for the run", rounds=600, pause=0.02)
    pooled.operator.kill()
    pooled.operator.restart()
    status = _succeeded_warm_once(pooled, key, job_id, "claimed once\n")
    claimed = pooled.kubectl("get", "pods", "-l", f"{r.LABEL_CLAIMED_BY}={uid}", "-o", "name")
    assert claimed.split() == [f"pod/{status['podName']}"]


def test_an_operator_restart_replaces_idle_pods_quietly(pooled: Pooled) -> None:
    """The idle pods' primed stdin sessions end with the operator: their runners log
    INCOMPLETE and exit having run nothing, and the restarted operator replaces them as
    stale (no PodFailed), primes the new ones, and the next run is warm again."""
    (old,) = pooled.wait_ready("python", 1)
    name = old["metadata"]["name"]
    pooled.operator.kill()
    pooled.operator.restart()

    def replaced() -> list[dict[str, Any]] | None:
        pods = pooled.idle_pods("python")
        if not pods or name in [p["metadata"]["name"] for p in pods]:
            return None
        return pooled.wait_ready("python", 1)

    (new,) = wait_until(replaced, "a new idle python pod", rounds=600, pause=0.3)
    events = json.loads(
        pooled.kubectl(
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=CodeRunPool,involvedObject.name=python",
            "-o",
            "json",
        )
    )["items"]
    assert not any(name in e["message"] for e in events if e["type"] == "Warning"), events
    primed_before = pooled.operator.metric(PRIMED, path="primed")
    data = pooled.api.run(pooled.key, HELLO["python"], "python")
    assert data["status"] == "success", data
    assert _warm_pod_of(pooled, data["jobId"]) == new["metadata"]["name"]
    assert pooled.operator.metric(PRIMED, path="primed") - primed_before == 1


def test_a_pool_pod_deleted_by_hand_is_replaced_and_reported(pooled: Pooled) -> None:
    (pod,) = pooled.wait_ready("javascript", 1)
    name = pod["metadata"]["name"]
    pooled.kubectl("delete", "pod", name, "--wait=false")

    def replaced() -> list[dict[str, Any]] | None:
        pods = pooled.idle_pods("javascript")
        if [p["metadata"]["name"] for p in pods] == [name] or not pods:
            return None
        return pooled.wait_ready("javascript", 1)

    (new,) = wait_until(replaced, "a replacement pod", rounds=300, pause=0.3)
    assert new["metadata"]["name"] != name
    events = json.loads(
        pooled.kubectl(
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=CodeRunPool,involvedObject.name=javascript",
            "-o",
            "json",
        )
    )["items"]
    assert any(e["reason"] == "PodDeleted" and name in e["message"] for e in events), events
    data = pooled.api.run(pooled.key, HELLO["javascript"], "javascript")
    assert data["status"] == "success", data
    assert _warm_pod_of(pooled, data["jobId"]) == new["metadata"]["name"]


def test_kubectl_scale_changes_the_pool_size(pooled: Pooled) -> None:
    pooled.cluster.kubectl("scale", "-n", pooled.namespace, "crpool/javascript", "--replicas=3")
    pooled.wait_ready("javascript", 3)
    status = pooled.pool("javascript")["status"]
    assert (status["replicas"], status["ready"]) == (3, 3), status
    assert status["selector"] == f"{r.LABEL_POOL}=javascript,{r.LABEL_WARM}={r.WARM_IDLE}"
    scale = json.loads(
        pooled.cluster.kubectl(
            "get",
            "--raw",
            f"/apis/{r.API_VERSION}/namespaces/{pooled.namespace}/coderunpools/javascript/scale",
        ).stdout
    )
    assert scale["status"]["replicas"] == 3 and scale["status"]["selector"], scale
    pooled.cluster.kubectl("scale", "-n", pooled.namespace, "crpool/javascript", "--replicas=1")
    pooled.wait_ready("javascript", 1)
    assert pooled.pool("javascript")["status"]["replicas"] == 1


NETWORK = """
import json, socket
out = {}
for name, port in (("kubelet", 10250), ("apiserver", 6443)):
    try:
        socket.create_connection(("NODE", port), timeout=1.5).close()
        out[name] = "connected"
    except OSError:
        out[name] = "blocked"
try:
    socket.getaddrinfo("kubernetes.default.svc", 443)
    out["dns"] = "resolved"
except OSError:
    out["dns"] = "failed"
print(json.dumps(out))
"""
ENVIRONMENT = """
import json, os
def readable(path):
    try:
        open(path, 'rb').read(1)
        return True
    except OSError:
        return False
print(json.dumps({
    'token': os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount'),
    'env': sorted(os.environ),
    'non_root': os.getuid() >= 1000,
    'tmp': sorted(os.listdir('/tmp')),
    'work': sorted(os.listdir('.')),
    'runner_environ': readable('/proc/1/environ'),
    'runner_stdin': readable('/proc/1/fd/0'),
    'stdin': __import__('sys').stdin.read(),
}))
"""
LEAVE_BEHIND = """
import os, subprocess
open('/work/left-behind', 'w').write('x')
open('/tmp/left-behind', 'w').write('x')
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(60)
print('left')
"""
FIND_LEFTOVERS = """
import json, os
others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())]
cmdlines = sorted(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode() for p in others)
print(json.dumps({
    'work': os.path.exists('/work/left-behind'),
    'tmp': os.path.exists('/tmp/left-behind'),
    'sleepers': [c for c in cmdlines if 'sleep' in c or 'left' in c],
}))
"""
FORK_BOMB = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n"
MEMORY_BOMB = "x = b'x' * (400 << 20)\nprint(len(x))\n"
SPIN = "while True:\n    pass\n"


def test_hostile_programs_get_the_same_verdicts_warm_as_cold(pooled: Pooled) -> None:
    """Network, environment, files and processes left for the next run, a fork bomb, a
    memory bomb and a time-out: each run cold (no pool pod) and warm (a claimed one)."""
    programs = [
        ("network", NETWORK.replace("NODE", pooled.cluster.node_ip)),
        ("environment", ENVIRONMENT),
        ("leave", LEAVE_BEHIND),
        ("find", FIND_LEFTOVERS),
        ("fork bomb", FORK_BOMB),
        ("memory bomb", MEMORY_BOMB),
        ("time-out", SPIN),
    ]

    def run_all(start: str) -> dict[str, dict[str, Any]]:
        seen = {}
        for name, code in programs:
            if start == "warm":
                pooled.wait_ready("python", 1)
            data = pooled.api.run(pooled.key, code, stdin="mine\n")
            assert pooled.coderun(data["jobId"])["status"]["start"] == start, (name, start)
            seen[name] = data
        return seen

    pooled.set_pool("python", 0)
    wait_until(lambda: not pooled.idle_pods("python"), "python pool empty", rounds=300, pause=0.3)
    try:
        cold = run_all("cold")
    finally:
        pooled.set_pool("python", 1)
    warm = run_all("warm")
    for name, _ in programs:
        verdict = {
            start: (d["status"], d["sandboxErrorType"])
            for start, d in (("cold", cold[name]), ("warm", warm[name]))
        }
        # A bomb's verdict depends on which limit it meets first, which a loaded node moves
        # (a memory bomb starved of CPU can reach 3 s before 256 MB): never a success.
        allowed = {"fork bomb": {"TLE", "RuntimeError", "MLE"}, "memory bomb": {"MLE", "TLE"}}
        if name in allowed:
            assert all(v[0] == "failed" for v in verdict.values()), verdict
            assert {v[1] for v in verdict.values()} <= allowed[name], verdict
            assert warm[name]["stdout"] == "", warm[name]
            continue
        assert verdict["warm"] == verdict["cold"], (name, verdict)
        if name in ("network", "environment", "find", "leave"):
            assert warm[name]["stdout"] == cold[name]["stdout"], (name, warm[name], cold[name])
    assert json.loads(warm["network"]["stdout"]) == {
        "kubelet": "blocked",
        "apiserver": "blocked",
        "dns": "failed",
    }
    env = json.loads(warm["environment"]["stdout"])
    assert env["token"] is False and env["non_root"] is True, env
    assert env["tmp"] == [] and env["work"] == ["main.py"], env  # no ready file, no request
    assert env["runner_environ"] is False and env["runner_stdin"] is False, env
    assert env["stdin"] == "mine\n", env
    assert json.loads(warm["find"]["stdout"]) == {"work": False, "tmp": False, "sleepers": []}
    assert verdict_of(warm["time-out"]) == ("failed", "TLE")


def verdict_of(data: dict[str, Any]) -> tuple[str, str | None]:
    return data["status"], data["sandboxErrorType"]


def test_a_warm_compiled_program_gets_the_run_limit_not_the_compile_limit(pooled: Pooled) -> None:
    """The pool pod's compile container may use 1 GiB; the program it built still gets
    256 MB in the run container."""
    pooled.wait_ready("cpp", 1)
    code = (
        "#include <cstdio>\n#include <vector>\nint main() {\n"
        '  std::vector<char> v(400u << 20, 1);\n  std::printf("%d\\n", v[12345]);\n}\n'
    )
    data = pooled.api.run(pooled.key, code, "cpp")
    assert pooled.coderun(data["jobId"])["status"]["start"] == "warm"
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "MLE"), data
    assert data["compileTimeMs"] is not None, data
