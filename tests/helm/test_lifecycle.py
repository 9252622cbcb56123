"""A release's life after the install: an upgrade carries a CRD change (the crd-apply hook),
`helm rollback` to the previous revision works and keeps the data, and `helm uninstall`
(with its cleanup hook) leaves exactly what docs/deployment.md lists. Rendered with helm,
then on the real cluster, sharing one install."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from coderun_operator import chart_hooks
from coderun_operator.resources import GROUP, LABEL_SANDBOX, PLURAL
from kubernetes import client, watch

from tests.fixtures.cluster import REPO_ROOT, K8sCluster
from tests.helm.conftest import CHART, Helm, by_kind, one
from tests.helm.images import PROGRAMS
from tests.helm.install import (
    ApiClient,
    Release,
    create_account,
    installed,
    ready,
    service_url,
    upgrade,
)

CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_FILE = REPO_ROOT / "crds" / "coderun.dev_coderuns.yaml"
NEW_FIELD = "warmStart"
HOOK = "helm.sh/hook"


def test_the_crd_apply_hook_carries_the_charts_crd(helm: Helm) -> None:
    rendered = helm.render()
    config_map = one(rendered, "ConfigMap", "-crd-apply")
    # Every CRD the chart ships (the operator's generated crds/, copied by `make crds`).
    crd_files = sorted((REPO_ROOT / "crds").glob("*.yaml"))
    assert CRD_FILE in crd_files and len(crd_files) >= 2
    assert config_map["data"] == {f.name: f.read_text().rstrip("\n") for f in crd_files}
    job = one(rendered, "Job", "-crd-apply")
    for manifest in (config_map, job, one(rendered, "ClusterRole", "-crd-apply-coderun")):
        assert manifest["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
    # Before the migration Job (weight 0), after its own ServiceAccount, RBAC and ConfigMap.
    assert job["metadata"]["annotations"]["helm.sh/hook-weight"] == "-5"
    assert config_map["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "coderun_operator.chart_hooks"]
    expected = ["apply-crd"]
    for crd_file in crd_files:
        expected += [f"/crd/{crd_file.name}", hashlib.sha256(crd_file.read_bytes()).hexdigest()]
    assert container["args"] == expected
    crd_names = [yaml.safe_load(f.read_text())["metadata"]["name"] for f in crd_files]
    (rule,) = one(rendered, "ClusterRole", "-crd-apply-coderun")["rules"]
    assert sorted(rule["resourceNames"]) == sorted(crd_names)
    # The template's lookup reads the annotation the hook writes: one key on both sides.
    template = (CHART / "templates" / "hooks-crd-apply.yaml").read_text()
    assert f'"{chart_hooks.CHECKSUM_KEY}"' in template
    cleanup = one(rendered, "Job", "-cleanup")
    assert cleanup["metadata"]["annotations"][HOOK] == "pre-delete"
    assert cleanup["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "cleanup",
        "coderun-sandbox",
    ]
    assert one(rendered, "Role", "-cleanup")["metadata"]["namespace"] == "coderun-sandbox"


def test_the_hooks_are_opt_out(helm: Helm) -> None:
    rendered = helm.render(
        "--set", "hooks.crdApply.enabled=false", "--set", "hooks.uninstallCleanup.enabled=false"
    )
    hooks = [m for m in rendered if HOOK in m["metadata"].get("annotations", {})]
    assert hooks == []
    assert [m["metadata"]["name"] for m in by_kind(rendered, "ClusterRole")] == [
        "coderun-operator-coderun"
    ]


def test_hook_usage_is_refused() -> None:
    assert chart_hooks.main([]) == 2
    assert chart_hooks.main(["drop-everything", "x"]) == 2
    # Several CRDs come as FILE CHECKSUM pairs: a pair cut short is refused.
    assert chart_hooks.main(["apply-crd", "a.yaml", "sum-a", "b.yaml"]) == 2


# -- the real cluster -------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(k8s_cluster: K8sCluster) -> Iterator[Release]:
    try:
        with installed(k8s_cluster, "coderun-lc") as release:
            yield release
    finally:
        # The CRD is the cluster's: give it back the chart's own schema (the field manager
        # is the hook's, so the test's extra field goes).
        checksum = hashlib.sha256(CRD_FILE.read_bytes()).hexdigest()
        assert _run_hook(k8s_cluster.env, "apply-crd", str(CRD_FILE), checksum) == 0


def _run_hook(env: dict[str, str], *args: str) -> int:
    return subprocess.run(
        [sys.executable, "-m", "coderun_operator.chart_hooks", *args], env=env, check=False
    ).returncode


def _json(cluster: K8sCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def _chart_with_a_new_field(tmp_path: Path) -> Path:
    """The chart, as a later release would ship it: its CRD has one more status field."""
    chart = tmp_path / "coderun"
    shutil.copytree(CHART, chart)
    crd_file = chart / "crds" / CRD_FILE.name
    crd = yaml.safe_load(crd_file.read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    status["properties"][NEW_FIELD] = {"type": "string", "description": "warm or cold"}
    crd_file.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def _status_field(cluster: K8sCluster, namespace: str, name: str) -> object:
    cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "coderun",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {NEW_FIELD: "warm"}}),
    )
    coderun = _json(cluster, "-n", namespace, "get", "coderun", name)
    return coderun["status"].get(NEW_FIELD)


def _catch_the_new_field(
    cluster: K8sCluster, namespace: str, name: str, seen: list[tuple[str, object]]
) -> None:
    """Watch the CRD until its schema has NEW_FIELD; then write it into a CodeRun's status
    and record (the CRD's checksum annotation, the field as read back)."""
    api = client.ApiextensionsV1Api(cluster.api_client())
    stream = watch.Watch()  # type: ignore[no-untyped-call]
    for event in stream.stream(  # type: ignore[no-untyped-call]
        api.list_custom_resource_definition,
        field_selector=f"metadata.name={CRD_NAME}",
        timeout_seconds=600,
    ):
        crd = event["raw_object"]
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        if NEW_FIELD in schema["properties"]["status"]["properties"]:
            annotations = crd["metadata"].get("annotations", {})
            checksum = annotations.get(chart_hooks.CHECKSUM_KEY, "")
            seen.append((checksum, _status_field(cluster, namespace, name)))
            stream.stop()  # type: ignore[no-untyped-call]


@pytest.mark.cluster
@pytest.mark.timeout(1200)
def test_an_upgrade_carries_a_new_crd_field_and_rollback_keeps_the_data(
    release: Release, tmp_path: Path
) -> None:
    cluster = release.cluster
    key = create_account(release)
    with service_url(release) as base:
        first = ApiClient(base=base, key=key).run("python", PROGRAMS["python"], "ab")
    assert first["status"] == "success", first
    # Before: the API server prunes the field the cluster's CRD does not know.
    assert _status_field(cluster, release.sandbox_namespace, first["jobId"]) is None

    chart = _chart_with_a_new_field(tmp_path)
    # The CRD is the cluster's: a concurrent install of the repository's chart (another test
    # session) puts the chart's own CRD back at any moment. So the new field is caught the
    # moment it arrives, by a watch, and a CodeRun's status takes it then.
    seen: list[tuple[str, object]] = []
    watcher = threading.Thread(
        target=_catch_the_new_field,
        args=(cluster, release.sandbox_namespace, first["jobId"], seen),
        daemon=True,
    )
    watcher.start()
    upgrade(release, "--reuse-values", "--set", "config.logLevel=DEBUG", chart=chart)
    watcher.join(timeout=30)
    checksum = hashlib.sha256((chart / "crds" / CRD_FILE.name).read_bytes()).hexdigest()
    assert seen == [(checksum, "warm")], "the upgrade did not reach the CRD"
    # The hook's Job, ServiceAccount, ConfigMap and ClusterRole went once it succeeded.
    assert (
        release.cluster.kubectl(
            "get", "clusterrole", "-l", "app.kubernetes.io/component=crd-apply", "-o", "name"
        ).stdout.strip()
        == ""
    )

    before = release.pods("api")[0]["metadata"]["uid"]
    rolled = cluster.helm(
        "rollback", release.name, "1", "--namespace", release.namespace, "--wait", check=False
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr + release.diagnostics()
    (api,) = release.pods("api")
    assert api["metadata"]["uid"] != before and ready(api), release.diagnostics()
    with service_url(release) as base:
        api_client = ApiClient(base=base, key=key)
        assert first["jobId"] in json.dumps(api_client.call("GET", "/api/v1/jobs"))
        assert api_client.run("python", PROGRAMS["python"], "cd")["stdout"] == "cdcd\n"


def _everything(cluster: K8sCluster, namespace: str) -> set[str]:
    """kind/name of every object in the namespace, but what Kubernetes puts in every one
    (the default ServiceAccount, the root CA ConfigMap) and events."""
    kinds = cluster.kubectl(
        "api-resources", "--namespaced", "--verbs=list", "-o", "name"
    ).stdout.split()
    kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
    items = _json(cluster, "-n", namespace, "get", ",".join(kinds))["items"]
    found = {f"{item['kind']}/{item['metadata']['name']}" for item in items}
    return found - {"ServiceAccount/default", "ConfigMap/kube-root-ca.crt"}


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_uninstall_leaves_exactly_what_the_docs_list(release: Release) -> None:
    cluster = release.cluster
    sandbox = release.sandbox_namespace
    # Something for the cleanup to do: a finished run's CodeRun and Job (and pod), which the
    # operator would keep for their retention and TTL.
    coderuns = _json(cluster, "-n", sandbox, "get", "coderuns")["items"]
    jobs = _json(cluster, "-n", sandbox, "get", "jobs", "-l", f"{LABEL_SANDBOX}=true")["items"]
    assert coderuns and jobs, "the previous test left no run behind"

    result = cluster.helm(
        "uninstall", release.name, "--namespace", release.namespace, "--wait", check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # What docs/deployment.md ("What helm uninstall leaves behind") lists, and nothing else.
    # Deletions the garbage collector finishes (ReplicaSets, EndpointSlices) may lag a little.
    expected = {
        release.namespace: {f"PersistentVolumeClaim/{release.name}-data"},
        sandbox: {f"NetworkPolicy/{release.name}-sandbox-deny-all"},
    }
    for _ in range(60):
        left = {namespace: _everything(cluster, namespace) for namespace in expected}
        if left == expected:
            break
        time.sleep(1)
    assert left == expected
    assert _json(cluster, "get", "namespace", sandbox)["status"]["phase"] == "Active"
    assert _json(cluster, "get", "crd", CRD_NAME)["metadata"]["name"] == CRD_NAME
    instance = f"app.kubernetes.io/instance={release.name}"
    for kind in ("clusterroles", "clusterrolebindings"):
        assert cluster.kubectl("get", kind, "-l", instance, "-o", "name").stdout.strip() == ""
