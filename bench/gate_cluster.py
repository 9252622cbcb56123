"""The network gate on the test cluster itself: pods probing their node's kubelet port.

`python -m bench.gate_cluster [tries]` (the cluster up, its env loaded, the sandbox
images on the node) prints a Markdown section for docs/operator.md:

- wrong opens: a pod in a namespace with no NetworkPolicy (its node is reachable, so every
  open is wrong) runs the old and the new gate `tries` times each, while every core of the
  node is loaded by spinning processes;
- cost: a pod under the chart's deny-all policy (kube-router REJECTs) runs each gate
  `tries` times once the policy holds: the time each takes to open.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from coderun_operator.gate import GATE_SCRIPT, gate_settings

from tests.fixtures.cluster import K8sCluster, cluster_up
from tests.helm.images import sandbox_image
from tests.operator.harness import DENY_ALL, apply_json
from tests.operator.unit.gate_targets import OLD_GATE_SCRIPT, cores_loaded

WINDOW_S = 5.0
# Runs inside the pod: each gate `tries` times as a subprocess, as the container runs it;
# prints one JSON line of (opened, seconds) per gate.
MEASURE = """
import json, os, subprocess, sys, time
tries, window, pause = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
out = {}
for label in ("old", "new"):
    env = dict(os.environ, CODERUN_GATE_TIMEOUT_S=window)
    runs = []
    for _ in range(tries):
        started = time.monotonic()
        code = subprocess.run(["python3", "-I", "-S", "-c", os.environ["GATE_" + label.upper()]],
                              env=env, capture_output=True).returncode
        runs.append((code == 0, time.monotonic() - started))
        time.sleep(pause)
    out[label] = runs
print(json.dumps(out), flush=True)
"""


def _pod(name: str, tries: int, wait_first_s: int, pause_s: float) -> dict[str, Any]:
    env = [
        {"name": "CODERUN_GATE_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "CODERUN_GATE_PORT", "value": "10250"},
        *({"name": k, "value": v} for k, v in gate_settings(WINDOW_S).items()),
        {"name": "GATE_OLD", "value": OLD_GATE_SCRIPT},
        {"name": "GATE_NEW", "value": GATE_SCRIPT},
    ]
    command = f"import time; time.sleep({wait_first_s})\n" + MEASURE
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"coderun.dev/sandbox": "true"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "gate",
                    "image": sandbox_image("python"),
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-c", command, str(tries), str(WINDOW_S), str(pause_s)],
                    "env": env,
                    "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def _measure(
    cluster: K8sCluster, namespace: str, tries: int, wait_first_s: int, pause_s: float = 0
) -> Any:
    core = cluster.core_v1()
    name = f"gate-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_pod(namespace, _pod(name, tries, wait_first_s, pause_s))
    for _ in range(3600):
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase in ("Succeeded", "Failed"):
            log = str(core.read_namespaced_pod_log(name, namespace))
            return json.loads(log.strip().splitlines()[-1])
        time.sleep(0.5)
    raise AssertionError(f"gate pod {name} did not finish")


def _median_ms(runs: list[list[Any]]) -> str:
    times = sorted(seconds * 1000 for _, seconds in runs)
    return f"{times[len(times) // 2]:.0f}"


def main(tries: int = 10) -> str:
    cluster = cluster_up()
    open_ns, policy_ns = (f"coderun-gatebench-{uuid.uuid4().hex[:6]}" for _ in range(2))
    for namespace in (open_ns, policy_ns):
        cluster.kubectl("create", "namespace", namespace)
    apply_json(cluster, {**DENY_ALL, "metadata": {**DENY_ALL["metadata"], "namespace": policy_ns}})
    try:
        with cores_loaded(processes=4):
            loaded = _measure(cluster, open_ns, tries, wait_first_s=0)
        # Give kube-router time to cover the pod before the first timed gate. Between tries,
        # wait for the kernel's ICMP budget towards this pod to refill (net.ipv4.
        # icmp_ratelimit: one unreachable per second per destination, a burst of 6), which
        # a fresh pod has in full: one pod timing gate after gate would otherwise measure
        # the rate limit (each suppressed REJECT costs a 1 s SYN resend).
        cost = _measure(cluster, policy_ns, tries, wait_first_s=5, pause_s=7)
        drained = _measure(cluster, policy_ns, tries, wait_first_s=5)
    finally:
        for namespace in (open_ns, policy_ns):
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    opened = {label: sum(ok for ok, _ in runs) for label, runs in loaded.items()}
    held = {label: sum(ok for ok, _ in runs) for label, runs in cost.items()}
    return "\n".join(
        [
            f"On the test cluster ({tries} tries per gate, {WINDOW_S:.0f} s each):",
            "",
            "| | old gate | new gate |",
            "|---|---|---|",
            f"| wrong opens, no policy, node loaded (4 spinners) | {opened['old']}/{tries} "
            f"| {opened['new']}/{tries} |",
            f"| opened under the deny-all policy | {held['old']}/{tries} | {held['new']}/{tries} |",
            f"| median time to open under the policy (ms) | {_median_ms(cost['old'])} "
            f"| {_median_ms(cost['new'])} |",
            f"| the same, back to back (ICMP budget drained) | {_median_ms(drained['old'])} "
            f"| {_median_ms(drained['new'])} |",
        ]
    )


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
