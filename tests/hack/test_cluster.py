"""Acceptance tests of the test cluster itself: it is a real Kubernetes node that enforces
memory limits, deadlines, NetworkPolicy and service-account token opt-out.

Every pod runs the locally built debootstrap image (``coderun-base:bookworm``, loaded into
the node by ``cluster.sh up``), never pulled. Network traffic goes only to a listener this
test opens on the node's own address.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.utils.listener import Listener

pytestmark = pytest.mark.cluster

TEST_IMAGE = "coderun-base:bookworm"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@pytest.fixture(scope="module")
def core(k8s_cluster: K8sCluster) -> Any:
    return k8s_cluster.core_v1()


@pytest.fixture
def namespace(core: Any) -> Iterator[Callable[[], str]]:
    """Factory of fresh namespaces, each deleted after the test."""
    from kubernetes import client

    created: list[str] = []

    def make() -> str:
        name = f"ct-{uuid.uuid4().hex[:8]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        created.append(name)
        # Pods need the namespace's default service account, made by the controller-manager.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if core.list_namespaced_service_account(name).items:
                break
            time.sleep(0.5)
        return name

    yield make
    for name in created:
        core.delete_namespace(name, grace_period_seconds=0)


def _pod(
    name: str,
    script: str,
    *,
    memory_limit: str = "128Mi",
    deadline_s: int | None = None,
    automount_token: bool | None = None,
) -> Any:
    from kubernetes import client

    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            active_deadline_seconds=deadline_s,
            automount_service_account_token=automount_token,
            termination_grace_period_seconds=1,
            containers=[
                client.V1Container(
                    name="main",
                    image=TEST_IMAGE,
                    image_pull_policy="Never",
                    command=["bash", "-c", script],
                    resources=client.V1ResourceRequirements(
                        limits={"memory": memory_limit, "cpu": "500m"},
                        requests={"memory": "16Mi", "cpu": "10m"},
                    ),
                )
            ],
        ),
    )


def _wait_finished(core: Any, ns: str, name: str, timeout_s: float = 120) -> Any:
    """Wait until the pod is Succeeded or Failed (and its container state is final)."""
    deadline = time.monotonic() + timeout_s
    pod: Any = None
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, ns)
        if pod.status.phase in ("Succeeded", "Failed"):
            statuses = pod.status.container_statuses or []
            if pod.status.reason == "DeadlineExceeded" or all(
                s.state.terminated is not None for s in statuses
            ):
                return pod
        time.sleep(1)
    status = pod.status if pod is not None else None
    raise AssertionError(f"pod {ns}/{name} did not finish in {timeout_s}s: {status}")


def _logs(core: Any, ns: str, name: str) -> str:
    return str(core.read_namespaced_pod_log(name, ns))


def test_node_ready(k8s_cluster: K8sCluster, core: Any) -> None:
    node = core.read_node(k8s_cluster.node_name)
    ready = {c.type: c.status for c in node.status.conditions}
    assert ready.get("Ready") == "True", node.status.conditions
    addresses = {a.address for a in node.status.addresses}
    assert k8s_cluster.node_ip in addresses
    assert node.status.node_info.kubelet_version.startswith("v1.34.")
    assert node.status.node_info.container_runtime_version.startswith("containerd://")


def test_built_clients_talk_to_the_cluster(k8s_cluster: K8sCluster) -> None:
    server = k8s_cluster.kubectl("version", "-o", "json").stdout
    assert '"gitVersion": "v1.34.' in server
    assert k8s_cluster.helm("version", "--short").stdout.startswith("v3.")
    # helm reaches the API server (lists releases in all namespaces).
    k8s_cluster.helm("list", "--all-namespaces")


def test_memory_limit_oomkills(core: Any, namespace: Callable[[], str]) -> None:
    ns = namespace()
    # `tail` keeps a line without a newline in memory: 200 MiB of zeros against 64 MiB.
    script = "set -eo pipefail; head -c 200M /dev/zero | tail > /dev/null; echo survived"
    core.create_namespaced_pod(ns, _pod("oom", script, memory_limit="64Mi"))
    pod = _wait_finished(core, ns, "oom")
    terminated = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Failed", pod.status
    assert terminated.reason == "OOMKilled", terminated
    assert terminated.exit_code != 0


def test_active_deadline_exceeded(core: Any, namespace: Callable[[], str]) -> None:
    ns = namespace()
    core.create_namespaced_pod(ns, _pod("slow", "sleep 300", deadline_s=5))
    started = time.monotonic()
    pod = _wait_finished(core, ns, "slow", timeout_s=90)
    assert pod.status.phase == "Failed", pod.status
    assert pod.status.reason == "DeadlineExceeded", pod.status
    assert time.monotonic() - started < 80


def test_no_service_account_token_when_not_mounted(core: Any, namespace: Callable[[], str]) -> None:
    ns = namespace()
    check = f"if [ -e {TOKEN_PATH} ]; then echo token-present; else echo token-absent; fi"
    core.create_namespaced_pod(ns, _pod("notoken", check, automount_token=False))
    core.create_namespaced_pod(ns, _pod("withtoken", check))  # control: the default mounts it
    for name in ("notoken", "withtoken"):
        assert _wait_finished(core, ns, name).status.phase == "Succeeded"
    assert _logs(core, ns, "notoken").strip() == "token-absent"
    assert _logs(core, ns, "withtoken").strip() == "token-present"


def test_network_policy_enforced(
    k8s_cluster: K8sCluster, core: Any, namespace: Callable[[], str]
) -> None:
    from kubernetes import client

    listener = Listener(k8s_cluster.node_ip, greeting=b"hello\n")
    try:
        denied_ns, open_ns = namespace(), namespace()
        deny_all = client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="deny-all"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(), policy_types=["Ingress", "Egress"]
            ),
        )
        client.NetworkingV1Api(k8s_cluster.api_client()).create_namespaced_network_policy(
            denied_ns, deny_all
        )
        # Give kube-router time to program the pod's chains after the pod gets its IP, then
        # try a few times; print one line per attempt.
        script = (
            "sleep 8; ok=0; for i in 1 2 3; do "
            f"if timeout 3 bash -c 'exec 3<>/dev/tcp/{k8s_cluster.node_ip}/{listener.port}; "
            "head -n1 <&3'; then ok=1; else echo refused-or-timeout; fi; sleep 1; done; "
            'echo "result=$ok"'
        )
        for ns in (denied_ns, open_ns):
            core.create_namespaced_pod(ns, _pod("probe", script))
        denied = _wait_finished(core, denied_ns, "probe")
        opened = _wait_finished(core, open_ns, "probe")
        denied_log, open_log = _logs(core, denied_ns, "probe"), _logs(core, open_ns, "probe")
        assert "result=1" in open_log and "hello" in open_log, open_log
        assert opened.status.pod_ip in listener.peers, (listener.peers, opened.status.pod_ip)
        assert "result=0" in denied_log and "hello" not in denied_log, denied_log
        assert denied.status.pod_ip not in listener.peers, listener.peers
    finally:
        listener.close()
