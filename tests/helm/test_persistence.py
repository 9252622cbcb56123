"""The default install keeps its data: SQLite on a PersistentVolumeClaim (persistence.*), one
API replica recreated, never two. Rendered with helm; then on the real cluster the way a user
runs it: default values, an account made with the CLI in the API pod, a program run through
the Service, an upgrade that replaces the API pod, and the same key and history after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from coderun_operator.chart_hooks import CHECKSUM_KEY

from tests.fixtures.cluster import K8sCluster
from tests.helm.conftest import CHART, Helm, by_kind, env_of, one
from tests.helm.images import PROGRAMS
from tests.helm.install import (
    ApiClient,
    Release,
    create_account,
    installed,
    service_url,
    upgrade,
)

CHART_CRD_SHA256 = hashlib.sha256(
    (CHART / "crds" / "coderun.dev_coderuns.yaml").read_bytes()
).hexdigest()


def _data_volume(rendered: list[dict[str, object]]) -> dict[str, object]:
    api = one(rendered, "Deployment", "-api")
    volumes = api["spec"]["template"]["spec"]["volumes"]  # type: ignore[index]
    (data,) = [v for v in volumes if v["name"] == "data"]
    assert isinstance(data, dict)
    return data


def test_by_default_sqlite_lives_on_a_kept_claim(helm: Helm) -> None:
    rendered = helm.render()
    (claim,) = by_kind(rendered, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "coderun-data"
    assert claim["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    # No class named: the cluster's default StorageClass.
    assert "storageClassName" not in claim["spec"]
    assert _data_volume(rendered) == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": "coderun-data"},
    }
    api = one(rendered, "Deployment", "-api")
    assert api["spec"]["replicas"] == 1
    assert api["spec"]["strategy"] == {"type": "Recreate"}
    env = env_of(api["spec"]["template"]["spec"]["containers"][0])
    assert env["CODERUN_DATABASE_URL"]["value"] == "sqlite:////data/coderun.db"


def test_persistence_settings(helm: Helm) -> None:
    rendered = helm.render(
        "--set", "persistence.size=5Gi", "--set", "persistence.storageClassName=fast"
    )
    (claim,) = by_kind(rendered, "PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    # An existing claim is mounted, none is created.
    rendered = helm.render("--set", "persistence.existingClaim=mine")
    assert by_kind(rendered, "PersistentVolumeClaim") == []
    assert _data_volume(rendered)["persistentVolumeClaim"] == {"claimName": "mine"}
    # Off: the emptyDir of a look around.
    rendered = helm.render("--set", "persistence.enabled=false")
    assert by_kind(rendered, "PersistentVolumeClaim") == []
    assert "emptyDir" in _data_volume(rendered)
    # With PostgreSQL there is nothing to keep in the pod.
    rendered = helm.render("--set", "database.existingSecret=db")
    assert by_kind(rendered, "PersistentVolumeClaim") == []
    assert "emptyDir" in _data_volume(rendered)
    stderr = helm.refusal("--set", "persistence.size=lots")
    assert "size" in stderr, stderr


# -- the real cluster -------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(k8s_cluster: K8sCluster) -> Iterator[Release]:
    with installed(k8s_cluster, "coderun-pv") as release:
        yield release


def _api_pod(release: Release) -> dict[str, object]:
    (pod,) = release.pods("api")
    return pod


@pytest.mark.cluster
@pytest.mark.timeout(1200)
def test_an_upgrade_that_replaces_the_api_pod_keeps_keys_and_history(release: Release) -> None:
    cluster = release.cluster
    claim = json.loads(
        cluster.kubectl(
            "-n", release.namespace, "get", "pvc", "coderun-pv-data", "-o", "json"
        ).stdout
    )
    assert claim["status"]["phase"] == "Bound", claim
    # Bound through the cluster's default StorageClass (cluster.sh makes one).
    default_class = cluster.kubectl(
        "get",
        "storageclass",
        "-o",
        "jsonpath={.items[?(@.metadata.annotations"
        '.storageclass\\.kubernetes\\.io/is-default-class=="true")].metadata.name}',
    ).stdout
    assert claim["spec"]["storageClassName"] == default_class.strip() != ""

    key = create_account(release)
    with service_url(release) as base:
        first = ApiClient(base=base, key=key).run("python", PROGRAMS["python"], "ab")
    assert first["status"] == "success" and first["stdout"] == "abab\n", first
    before = _api_pod(release)["metadata"]["uid"]  # type: ignore[index]

    # The install left the chart's CRD (its checksum annotation); only another session's
    # lifecycle test changes it meanwhile, and then the upgrade rightly applies it again.
    crd = json.loads(cluster.kubectl("get", "crd", "coderuns.coderun.dev", "-o", "json").stdout)
    unchanged = crd["metadata"]["annotations"].get(CHECKSUM_KEY) == CHART_CRD_SHA256
    # A value that reaches the API pod's environment: the Deployment rolls (Recreate).
    upgrade(release, "--reuse-values", "--set", "config.logLevel=DEBUG")
    hooks = cluster.helm("get", "hooks", release.name, "--namespace", release.namespace).stdout
    if unchanged:  # the CRD is already the chart's: no CRD hook
        assert "crd-apply" not in hooks, hooks
    after = _api_pod(release)
    assert after["metadata"]["uid"] != before, "the upgrade did not replace the API pod"  # type: ignore[index]

    with service_url(release) as base:
        api = ApiClient(base=base, key=key)
        history = api.call("GET", "/api/v1/jobs")
        assert first["jobId"] in json.dumps(history), history
        again = api.run("python", PROGRAMS["python"], "cd")
    assert again["status"] == "success" and again["stdout"] == "cdcd\n", again
