"""`helm install` of the chart into the real test cluster with the locally built images, in
a namespace that enforces Pod Security "restricted": the API and operator pods become
Ready and answer their probes, sandbox-labelled pods are cut off by the chart's
NetworkPolicy, and a program submitted to the installed API runs in a sandbox pod (every
language) and comes back with its verdict. `helm uninstall` removes the release; the sandbox
namespace it created stays (tests/helm/test_sandbox_namespace.py), and is deleted after."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from coderun_operator.resources import LABEL_SANDBOX

from tests.fixtures.cluster import K8sCluster
from tests.helm.images import BASE_IMAGE, LANGUAGES, PROGRAMS, SERVICE_IMAGE
from tests.helm.install import ApiClient, Release, create_account, installed, ready

# Building and loading the image and `helm install --wait` happen in the module fixture,
# which counts against the first test's pytest-timeout.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def release(k8s_cluster: K8sCluster) -> Iterator[Release]:
    with installed(k8s_cluster, "coderun-it") as release:
        yield release


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_api_and_operator_pods_are_ready(release: Release) -> None:
    for component in ("api", "operator"):
        pods = release.pods(component)
        assert len(pods) == 1, f"{component}: {len(pods)} pods\n{release.diagnostics()}"
        assert ready(pods[0]), f"{component} not Ready\n{release.diagnostics()}"
        container = pods[0]["spec"]["containers"][0]
        assert container["image"] == SERVICE_IMAGE
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        status = pods[0]["status"]["containerStatuses"][0]
        assert status["restartCount"] == 0, f"{component} restarted\n{release.diagnostics()}"


def test_probes_answer_on_the_pods(release: Release) -> None:
    """The node reaches pod IPs directly (bridge network): ask what the kubelet asks."""
    (api,) = release.pods("api")
    api_ip = api["status"]["podIP"]
    assert _get(f"http://{api_ip}:8000/healthz")[0] == 200
    status, body = _get(f"http://{api_ip}:8000/readyz")
    assert status == 200, body
    (operator,) = release.pods("operator")
    assert _get(f"http://{operator['status']['podIP']}:8080/healthz")[0] == 200
    # Ready means the operator serves CodeRuns (coderun_operator.readiness), and a clean
    # start logs no error (kopf once retried a forbidden namespace list for ~54 s).
    status, body = _get(f"http://{operator['status']['podIP']}:8081/readyz")
    assert status == 200 and '"ready": true' in body, body
    log = release.cluster.kubectl(
        "-n", release.namespace, "logs", operator["metadata"]["name"]
    ).stdout
    assert "[ERROR" not in log and "namespaces is forbidden" not in log, log


def test_the_crd_is_installed_with_the_chart(release: Release) -> None:
    result = release.cluster.kubectl("get", "crd", "coderuns.coderun.dev", "-o", "name")
    assert (
        result.stdout.strip()
        == "customresourcedefinition.apiextensions.k8s.io/coderuns.coderun.dev"
    )
    # The API's ServiceAccount may create CodeRuns in the sandbox namespace, and nothing on
    # Jobs; in its own namespace it may not even create CodeRuns.
    (api,) = release.pods("api")
    sa = f"system:serviceaccount:{release.namespace}:{api['spec']['serviceAccountName']}"
    for namespace, verb, resource, allowed in (
        (release.sandbox_namespace, "create", "coderuns.coderun.dev", "yes"),
        (release.sandbox_namespace, "watch", "coderuns.coderun.dev", "yes"),
        (release.sandbox_namespace, "create", "jobs.batch", "no"),
        (release.sandbox_namespace, "get", "secrets", "no"),
        (release.namespace, "create", "coderuns.coderun.dev", "no"),
    ):
        answer = release.cluster.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, "--as", sa, check=False
        ).stdout.strip()
        assert answer == allowed, (namespace, verb, resource, answer)


def _probe_pod(name: str, labels: dict[str, str], target: str) -> dict[str, Any]:
    """A pod that tries three TCP connections to target (ip:port) and prints result=0|1."""
    host, port = target.split(":")
    script = (
        # kube-router programs a pod's chains once it has an IP: let it catch up first.
        "sleep 8; ok=0; for i in 1 2 3; do "
        f"if timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port}'; then ok=1; fi; sleep 1; done; "
        'echo "result=$ok"'
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            # Admissible under the namespace's Pod Security "restricted" level.
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": BASE_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["bash", "-c", script],
                    "resources": {"limits": {"memory": "64Mi", "cpu": "200m"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def _finished_log(core: Any, namespace: str, name: str) -> str:
    for _ in range(240):
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase in ("Succeeded", "Failed"):
            return str(core.read_namespaced_pod_log(name, namespace))
        time.sleep(0.5)
    raise AssertionError(f"probe pod {name} did not finish: {pod.status}")


def test_sandbox_pods_cannot_reach_the_api(release: Release) -> None:
    """The same connection, once from an ordinary pod and once from a pod carrying the
    operator's sandbox label, both in the sandbox namespace: only the first gets through."""
    core = release.cluster.core_v1()
    (api,) = release.pods("api")
    target = f"{api['status']['podIP']}:8000"
    pods = {
        "open-probe": {},
        "sandbox-probe": {LABEL_SANDBOX: "true"},
    }
    namespace = release.sandbox_namespace
    for name, labels in pods.items():
        core.create_namespaced_pod(namespace, _probe_pod(name, labels, target))
    logs = {name: _finished_log(core, namespace, name) for name in pods}
    assert "result=1" in logs["open-probe"], logs
    assert "result=0" in logs["sandbox-probe"], logs


@pytest.fixture(scope="module")
def api(release: Release) -> ApiClient:
    (pod,) = release.pods("api")
    return ApiClient(base=f"http://{pod['status']['podIP']}:8000", key=create_account(release))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_submission_runs_in_a_sandbox_pod(api: ApiClient, language: str) -> None:
    result = api.run(language, PROGRAMS[language], "ab")
    assert result["status"] == "success", result
    assert result["stdout"] == "abab\n"
    assert result["exitCode"] == 0


def test_sandboxed_programs_have_no_network(release: Release, api: ApiClient) -> None:
    """From inside a real sandbox pod: not the API, not the API server, not the internet."""
    (pod,) = release.pods("api")
    targets = [(pod["status"]["podIP"], 8000), (release.cluster.node_ip, 6443), ("1.1.1.1", 443)]
    code = (
        "import socket\n"
        f"for host, port in {targets!r}:\n"
        "    s = socket.socket()\n"
        "    s.settimeout(1.0)\n"
        "    try:\n"
        "        s.connect((host, port))\n"
        "        print('connected', host)\n"
        "    except OSError:\n"
        "        print('blocked', host)\n"
    )
    result = api.run("python", code, "")
    assert result["status"] == "success", result
    assert result["stdout"].split("\n")[:-1] == [f"blocked {host}" for host, _ in targets]
