"""Sandbox pods live in a namespace of their own, never the API's: the chart creates it with
Pod Security "restricted" enforced (and keeps it on `helm uninstall`, emptied of CodeRuns), or uses an existing
one that enforces it. Rendering tests need only helm; the install tests the real cluster."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import yaml
from coderun_operator.resources import LABEL_SANDBOX

from tests.fixtures.cluster import K8sCluster
from tests.helm.conftest import CHART, SAMPLE_VALUES, Helm, Manifest, by_kind, env_of, one
from tests.helm.images import PROGRAMS
from tests.helm.install import (
    ApiClient,
    Release,
    create_account,
    installed,
    uninstall,
)

RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}
KEEP = {"helm.sh/resource-policy": "keep"}


def _namespaced(rendered: list[Manifest]) -> dict[str, set[str]]:
    """kind -> the namespaces its objects are rendered into."""
    found: dict[str, set[str]] = {}
    for manifest in rendered:
        namespace = manifest["metadata"].get("namespace")
        if namespace:
            found.setdefault(manifest["kind"], set()).add(namespace)
    return found


def test_by_default_the_chart_creates_a_restricted_sandbox_namespace(helm: Helm) -> None:
    rendered = helm.render()  # release namespace "coderun"
    (namespace,) = by_kind(rendered, "Namespace")
    assert namespace["metadata"]["name"] == "coderun-sandbox"
    assert RESTRICTED.items() <= namespace["metadata"]["labels"].items()
    assert namespace["metadata"]["annotations"] == KEEP
    operator = env_of(
        one(rendered, "Deployment", "-operator")["spec"]["template"]["spec"]["containers"][0]
    )
    api = env_of(one(rendered, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0])
    assert operator["CODERUN_OPERATOR_NAMESPACES"]["value"] == "coderun-sandbox"
    assert api["CODERUN_KUBERNETES_NAMESPACE"]["value"] == "coderun-sandbox"
    placed = _namespaced(rendered)
    # The rights on CodeRuns, Jobs and pods, and the deny-all policy, are all in the sandbox
    # namespace; the release namespace holds only the API and operator themselves.
    for kind in ("Role", "RoleBinding", "NetworkPolicy"):
        assert placed[kind] == {"coderun-sandbox"}, kind
    for kind in ("Deployment", "Service", "ServiceAccount"):
        assert placed[kind] == {"coderun"}, kind
    (policy,) = by_kind(rendered, "NetworkPolicy")
    assert policy["metadata"]["annotations"] == KEEP


def test_an_existing_namespace_is_used_not_created(helm: Helm) -> None:
    rendered = helm.render(values=[SAMPLE_VALUES])
    assert by_kind(rendered, "Namespace") == []
    placed = _namespaced(rendered)
    for kind in ("Role", "RoleBinding", "NetworkPolicy"):
        assert placed[kind] == {"coderun-sandbox"}, kind


# The values the schema refuses for the sandbox namespace (a string in place of the map, a
# typo, an invalid name, the release's own namespace) are cases of
# tests/helm/test_chart.py::test_the_schema_rejects_typos_and_bad_values.


def test_a_long_release_namespace_still_gives_a_valid_name(helm: Helm) -> None:
    out = helm.template(namespace="n" * 63).stdout
    (namespace,) = by_kind([doc for doc in yaml.safe_load_all(out) if doc], "Namespace")
    name = namespace["metadata"]["name"]
    assert len(name) <= 63 and name.endswith("-sandbox"), name


# -- the real cluster -------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(k8s_cluster: K8sCluster) -> Iterator[Release]:
    with installed(k8s_cluster, "coderun-ns") as release:
        yield release


def _json(cluster: K8sCluster, *args: str) -> dict[str, object]:
    done = cluster.kubectl(*args, "-o", "json", check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.mark.cluster
@pytest.mark.timeout(1200)
def test_runs_land_in_the_sandbox_namespace_which_outlives_the_release(
    release: Release,
) -> None:
    cluster = release.cluster
    labels = _json(cluster, "get", "namespace", release.sandbox_namespace)["metadata"]
    assert RESTRICTED.items() <= labels["labels"].items()  # type: ignore[index]
    (pod,) = release.pods("api")
    api = ApiClient(base=f"http://{pod['status']['podIP']}:8000", key=create_account(release))
    result = api.run("python", PROGRAMS["python"], "ab")
    assert result["status"] == "success", result
    job_id = result["jobId"]
    # The CodeRun and its sandbox pod are in the sandbox namespace, none in the API's.
    coderun = _json(cluster, "-n", release.sandbox_namespace, "get", "coderun", job_id)
    assert coderun["metadata"]["name"] == job_id  # type: ignore[index]
    sandbox_pods = _json(
        cluster, "-n", release.sandbox_namespace, "get", "pods", "-l", f"{LABEL_SANDBOX}=true"
    )["items"]
    assert sandbox_pods, "no sandbox pod in the sandbox namespace"
    own = release.namespace
    assert _json(cluster, "-n", own, "get", "coderuns")["items"] == []
    assert _json(cluster, "-n", own, "get", "pods", "-l", f"{LABEL_SANDBOX}=true")["items"] == []

    uninstall(release)
    # Kept: the namespace and the deny-all policy over its pods; the CodeRun in it went with
    # the uninstall's cleanup hook (tests/helm/test_lifecycle.py checks all that remains).
    kept = _json(cluster, "get", "namespace", release.sandbox_namespace)
    assert kept["status"] == {"phase": "Active"}
    assert _json(cluster, "-n", release.sandbox_namespace, "get", "coderuns")["items"] == []
    policies = _json(cluster, "-n", release.sandbox_namespace, "get", "networkpolicies")["items"]
    assert len(policies) == 1  # type: ignore[arg-type]


@pytest.mark.cluster
def test_an_existing_namespace_without_restricted_is_refused(k8s_cluster: K8sCluster) -> None:
    namespace = f"coderun-lax-{uuid.uuid4().hex[:8]}"
    runs = f"{namespace}-runs"
    for name in (namespace, runs):  # neither labelled for Pod Security
        k8s_cluster.kubectl("create", "namespace", name)
    try:
        result = k8s_cluster.helm(
            "install",
            "coderun-lax",
            str(CHART),
            "--namespace",
            namespace,
            "--set",
            f"sandbox.namespace.name={runs}",
            "--set",
            "sandbox.namespace.create=false",
            check=False,
        )
        assert result.returncode != 0
        assert "pod-security.kubernetes.io/enforce=restricted" in result.stderr, result.stderr
        assert _json(k8s_cluster, "-n", runs, "get", "roles")["items"] == []
    finally:
        k8s_cluster.helm("uninstall", "coderun-lax", "--namespace", namespace, check=False)
        for name in (namespace, runs):
            k8s_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
