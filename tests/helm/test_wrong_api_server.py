"""A chart installed with a wrong API-server address says so where the installer looks
(the API's and the operator's `/readyz` name the address and the chart values that set it,
rather than only `unavailable: RuntimeError`). The address is the node's own, on a port
nothing serves, so every connection attempt stays on this machine and is refused.

The CRD-apply hook is switched off: the test cluster's CRD already carries the chart's
checksum, and the hook's own message is tested without a cluster
(tests/operator/unit/test_chart_hooks.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.fixtures.services import free_port
from tests.helm.install import Release, installed
from tests.operator.harness import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

SETTING = "kubernetesApi.host and kubernetesApi.port"


@pytest.fixture(scope="module")
def wrong_port() -> int:
    # Free now on the node's addresses; the API server listens on 6443 only.
    return free_port()


@pytest.fixture(scope="module")
def release(k8s_cluster: K8sCluster, wrong_port: int) -> Iterator[Release]:
    with installed(
        k8s_cluster,
        "coderun-wrongapi",
        f"kubernetesApi.port={wrong_port}",
        "hooks.crdApply.enabled=false",
        wait=False,
    ) as release:
        yield release


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:  # the pod is not listening yet
        return 0, repr(error)


def _pod_ip(release: Release, component: str) -> str:
    def ip() -> str | None:
        pods = release.pods(component)
        return pods[0].get("status", {}).get("podIP") if pods else None

    wait_until(lambda: ip() is not None, rounds=360, pause=0.5, what=f"{component} pod IP")
    address = ip()
    assert address is not None
    return address


def test_the_api_readiness_names_the_address_and_the_setting(
    release: Release, wrong_port: int
) -> None:
    server = f"https://{release.cluster.node_ip}:{wrong_port}"
    url = f"http://{_pod_ip(release, 'api')}:8000/readyz"
    answers: list[tuple[int, str]] = []

    def says_why() -> bool:
        answers.append(_get(url))
        return answers[-1][0] == 503

    wait_until(says_why, rounds=360, pause=0.5, what=f"503 from {url}")
    body = answers[-1][1]
    executor = json.loads(body)["data"]["executor"]
    assert f"cannot connect to the Kubernetes API server at {server}" in executor, executor
    assert SETTING in executor, executor
    # Not Ready, so the Service sends it no traffic.
    (api,) = release.pods("api")
    conditions = {c["type"]: c["status"] for c in api["status"].get("conditions", [])}
    assert conditions.get("Ready") != "True", api["status"]


def test_the_operator_names_them_too(release: Release, wrong_port: int) -> None:
    server = f"https://{release.cluster.node_ip}:{wrong_port}"
    ip = _pod_ip(release, "operator")
    bodies: list[str] = []

    def says_why() -> bool:
        status, body = _get(f"http://{ip}:8081/readyz")
        bodies.append(body)
        return status == 503 and server in body

    wait_until(says_why, rounds=360, pause=0.5, what="the operator's 503 naming the address")
    assert SETTING in bodies[-1], bodies[-1]
