"""Fault tests on the real test cluster (marked `cluster` and `reliability`).

They restart shared cluster components (kube-apiserver, the kubelet, containerd), so they
run one after another, and after every other test of the session: the hook below moves
them to the end, so no other cluster test is in flight while a component restarts. pytest
here runs tests serially (no xdist), so ordering is all it takes within one session;
`make reliability` runs them alone.

Each test gets its own stack: a fresh namespace set up like the chart's, its own operator and
its own API (Kubernetes executor), so killing one of them disturbs nobody else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.conftest import sandbox_images
from tests.operator.harness import (
    MAX_CONCURRENT,
    ApiProcess,
    OperatorProcess,
    prepare_namespace,
    start_api,
    start_operator,
)
from tests.reliability.cluster_faults import wait_cluster_healthy

__all__ = ["sandbox_images"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fault tests last (stable: their own order, and everyone else's, is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("reliability") is not None)


@dataclass
class FaultStack:
    cluster: K8sCluster
    namespace: str
    operator: OperatorProcess
    api: ApiProcess


MakeStack = Callable[..., FaultStack]


@pytest.fixture
def make_stack(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path: Path
) -> Iterator[MakeStack]:
    """`make_stack(**api_env)`: namespace, operator and API of this test's own."""
    made: list[FaultStack] = []

    def make(**api_env: str) -> FaultStack:
        namespace = prepare_namespace(k8s_cluster, prefix="coderun-fault")
        operator = start_operator(
            k8s_cluster,
            namespace,
            tmp_path / "operator.log",
            max_concurrent_runs=str(MAX_CONCURRENT),
            # One account submits everything here: let it fill the cap, so a fault finds
            # as many runs in flight as the node is allowed (fairness is tested elsewhere).
            max_running_per_account=str(MAX_CONCURRENT),
            start_grace_seconds="60",
        )
        api = start_api(k8s_cluster, namespace, tmp_path / "data", tmp_path / "api.log", **api_env)
        stack = FaultStack(k8s_cluster, namespace, operator, api)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.api.stop()
        stack.operator.stop()
        stack.cluster.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)
    # Whatever a test restarted, the next test (and the next session) finds the node Ready.
    wait_cluster_healthy(k8s_cluster)
