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

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.conftest import sandbox_images
from tests.operator.harness import MAX_CONCURRENT, Stack, own_stack
from tests.reliability.cluster_faults import wait_cluster_healthy

__all__ = ["sandbox_images"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fault tests last (stable: their own order, and everyone else's, is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("reliability") is not None)


MakeStack = Callable[..., Stack]


@pytest.fixture
def make_stack(
    k8s_cluster: K8sCluster, sandbox_images: None, tmp_path: Path
) -> Iterator[MakeStack]:
    """`make_stack(**api_env)`: namespace, operator and API of this test's own."""
    with contextlib.ExitStack() as made:

        def make(**api_env: str) -> Stack:
            return made.enter_context(
                own_stack(
                    k8s_cluster,
                    tmp_path,
                    "coderun-fault",
                    api_env,
                    max_concurrent_runs=str(MAX_CONCURRENT),
                    # One account submits everything here: let it fill the cap, so a fault
                    # finds as many runs in flight as the node is allowed (fairness is
                    # tested elsewhere).
                    max_running_per_account=str(MAX_CONCURRENT),
                    start_grace_seconds="60",
                )
            )

        yield make
    # Whatever a test restarted, the next test (and the next session) finds the node Ready.
    wait_cluster_healthy(k8s_cluster)
