"""A cluster component restarted with runs in flight, through REST: kube-apiserver, the
kubelet, containerd. Runs are also submitted while the component is down or coming back."""

from __future__ import annotations

import pytest

from tests.reliability.cluster_faults import restart_component, wait_cluster_healthy
from tests.reliability.conftest import MakeStack
from tests.reliability.ledger import new_ledger

pytestmark = [pytest.mark.cluster, pytest.mark.reliability, pytest.mark.timeout(900)]

TITLES = {
    "kube-apiserver": "kube-apiserver restarted",
    "kubelet": "kubelet restarted",
    "containerd": "containerd restarted",
}


@pytest.mark.parametrize("component", list(TITLES))
def test_component_restarted_with_runs_in_flight(make_stack: MakeStack, component: str) -> None:
    stack = make_stack()
    ledger = new_ledger(stack.api)
    ledger.submit_sleepers(12)
    in_flight = ledger.wait_in_flight(at_least=2)
    with ledger.submitting_meanwhile(4):
        restart_component(stack.cluster, component)
    wait_cluster_healthy(stack.cluster)
    ledger.settle()
    ledger.recorded(
        component,
        TITLES[component],
        f"12 runs of 2 s submitted at once; `cluster.sh restart {component}` (SIGTERM, then "
        "started again with its flags) while runs were in flight; 4 more submitted one by one "
        "during the restart.",
        in_flight,
    )
