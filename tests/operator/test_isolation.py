"""What a sandbox pod cannot do: reach this node's listeners or API server, resolve names,
use a service-account token, or see the request's or the cluster's environment.

Network checks target only this machine: the node's own address, and pods we create.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import ApiProcess, apply_json, wait_until
from tests.utils.listener import Listener

pytestmark = pytest.mark.cluster

PROBE = """
import json, socket
out = {}
for name, port in (("listener", PORT), ("apiserver", 6443)):
    try:
        s = socket.create_connection(("NODE", port), timeout=1.5)
        s.sendall(b"sandbox")
        s.close()
        out[name] = "connected"
    except OSError as error:
        out[name] = "blocked: " + type(error).__name__
try:
    socket.getaddrinfo("kubernetes.default.svc", 443)
    out["dns"] = "resolved"
except OSError as error:
    out["dns"] = "failed: " + type(error).__name__
print(json.dumps(out))
"""


@pytest.fixture
def listener(k8s_cluster: K8sCluster) -> Iterator[Listener]:
    found = Listener(k8s_cluster.node_ip, read_timeout=2)
    yield found
    found.close()


def control_pod(namespace: str, node_ip: str, port: int) -> dict[str, object]:
    """A pod without the sandbox label: shows the listener is reachable from pods at all."""
    code = f"import socket; s = socket.create_connection(('{node_ip}', {port}), timeout=5); s.sendall(b'control'); s.close(); print('connected')"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"control-{uuid.uuid4().hex[:6]}", "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": "coderun-sandbox-python:dev",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "-c", code],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def test_sandbox_cannot_reach_the_node_or_the_api_server(
    k8s_cluster: K8sCluster, op_namespace: str, api: ApiProcess, api_key: str, listener: Listener
) -> None:
    # Control: an ordinary pod in the same namespace reaches the listener.
    pod = control_pod(op_namespace, k8s_cluster.node_ip, listener.port)
    apply_json(k8s_cluster, pod)
    name = pod["metadata"]["name"]  # type: ignore[index]

    def control_done() -> bool:
        phase = k8s_cluster.kubectl(
            "get", "pod", "-n", op_namespace, name, "-o", "jsonpath={.status.phase}"
        ).stdout
        return phase in ("Succeeded", "Failed")

    wait_until(control_done, "control pod finished", rounds=600, pause=0.25)
    assert b"control" in listener.received, (
        "the control pod could not reach the node: the test proves nothing"
    )

    code = PROBE.replace("NODE", k8s_cluster.node_ip).replace("PORT", str(listener.port))
    data = api.run(api_key, code)
    assert data["status"] == "success", data
    seen = json.loads(data["stdout"])
    assert seen["listener"].startswith("blocked"), seen
    assert seen["apiserver"].startswith("blocked"), seen
    assert seen["dns"].startswith("failed"), seen
    assert b"sandbox" not in listener.received


def test_no_token_no_cluster_environment_and_a_non_root_uid(api: ApiProcess, api_key: str) -> None:
    code = """
import json, os
try:
    open('/proc/1/environ', 'rb').read()
    runner = 'readable'
except OSError as error:
    runner = type(error).__name__
print(json.dumps({
    'token': os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount'),
    'env': sorted(os.environ),
    'uid': os.getuid(),
    'resolv': open('/etc/resolv.conf').read(),
    'runner_environ': runner,
}))
"""
    data = api.run(api_key, code)
    assert data["status"] == "success", data
    seen = json.loads(data["stdout"])
    assert seen["token"] is False
    assert not [k for k in seen["env"] if k.startswith(("KUBERNETES", "CODERUN"))], seen["env"]
    assert seen["uid"] >= 1000
    assert "nameserver 127.0.0.1" in seen["resolv"]
    assert seen["runner_environ"] != "readable"
