"""Warm pools in the chart and in examples/: the chart's `pools` render CodeRunPool objects,
examples/pools.yaml holds the same defaults, and examples/hpa.yaml sizes a pool through its
scale subresource. Rendered with helm; then on the real cluster, with the API server's own
validation (`--dry-run=server`) and the HPA controller reading the pool's scale (the cluster
has no metrics pipeline, so no scaling happens)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from coderun_operator.resources import API_VERSION

from tests.fixtures.cluster import REPO_ROOT, K8sCluster
from tests.helm.conftest import CHART, SAMPLE_VALUES, Helm, by_kind
from tests.operator.harness import wait_until

EXAMPLES = REPO_ROOT / "examples"
POOLS_FILE = EXAMPLES / "pools.yaml"
HPA_FILE = EXAMPLES / "hpa.yaml"
POOL_CRD_FILE = REPO_ROOT / "crds" / "coderun.dev_coderunpools.yaml"
POOL_CRD_NAME = "coderunpools.coderun.dev"
# The chart's default pools: language -> (replicas, maxIdleSeconds).
DEFAULTS = {
    "python": (2, 600),
    "javascript": (2, 600),
    "cpp": (1, 600),
    "java": (1, 600),
}


def _pools(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> spec of every CodeRunPool."""
    return {m["metadata"]["name"]: m["spec"] for m in by_kind(manifests, "CodeRunPool")}


def _examples() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(POOLS_FILE.read_text()) if doc]


def test_the_default_pools_render_in_the_sandbox_namespace(helm: Helm) -> None:
    rendered = by_kind(helm.render(), "CodeRunPool")
    assert {m["apiVersion"] for m in rendered} == {API_VERSION}
    assert {m["metadata"]["namespace"] for m in rendered} == {"coderun-sandbox"}
    assert {
        name: (spec["replicas"], spec["maxIdleSeconds"]) for name, spec in _pools(rendered).items()
    } == DEFAULTS
    for name, spec in _pools(rendered).items():
        assert spec["language"] == name
    for pool in rendered:
        assert pool["metadata"]["labels"]["app.kubernetes.io/instance"] == "coderun"


def test_the_pools_follow_the_sandbox_namespace(helm: Helm) -> None:
    rendered = helm.render(values=[SAMPLE_VALUES])
    assert {m["metadata"]["namespace"] for m in by_kind(rendered, "CodeRunPool")} == {
        "coderun-sandbox"
    }
    other = helm.render("--set", "sandbox.namespace.name=runs")
    assert {m["metadata"]["namespace"] for m in by_kind(other, "CodeRunPool")} == {"runs"}


def test_examples_pools_equal_the_chart_defaults(helm: Helm) -> None:
    examples = _examples()
    assert {m["kind"] for m in examples} == {"CodeRunPool"}
    assert {m["apiVersion"] for m in examples} == {API_VERSION}
    # No namespace in the file: `kubectl apply -n <sandbox namespace>` places them.
    assert all("namespace" not in m["metadata"] for m in examples)
    assert _pools(examples) == _pools(helm.render())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert {p["language"]: (p["replicas"], p["maxIdleSeconds"]) for p in values["pools"]} == (
        DEFAULTS
    )


def test_pools_can_be_chosen_or_turned_off(helm: Helm) -> None:
    assert by_kind(helm.render("--set-json", "pools=[]"), "CodeRunPool") == []
    only = helm.render("--set-json", 'pools=[{"language":"java","replicas":0}]')
    # maxIdleSeconds may be left out: the CRD's default.
    assert _pools(only) == {"java": {"language": "java", "replicas": 0, "maxIdleSeconds": 600}}


@pytest.mark.parametrize(
    ("pools", "complaint"),
    [
        ('[{"language":"python","replicas":65}]', "maximum"),
        ('[{"language":"python","replicas":-1}]', "minimum"),
        ('[{"language":"cobol","replicas":1}]', "language"),
        ('[{"language":"python","replica":1}]', "replica"),
        ('[{"language":"python","replicas":1,"maxIdleSeconds":0}]', "maxIdleSeconds"),
        (
            '[{"language":"python","replicas":1},{"language":"python","replicas":2}]',
            "listed twice",
        ),
    ],
)
def test_bad_pools_are_refused_with_the_reason(helm: Helm, pools: str, complaint: str) -> None:
    stderr = helm.refusal("--set-json", f"pools={pools}")
    assert complaint in stderr, stderr


def _hpa() -> dict[str, Any]:
    (hpa,) = [doc for doc in yaml.safe_load_all(HPA_FILE.read_text()) if doc]
    assert isinstance(hpa, dict)
    return hpa


def test_the_hpa_example_targets_a_default_pool_by_its_scale_subresource() -> None:
    hpa = _hpa()
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target["apiVersion"] == API_VERSION and target["kind"] == "CodeRunPool"
    assert target["name"] in _pools(_examples())
    # The example stays within what a pool was measured with: at most 8 pods per language.
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= 8
    crd = yaml.safe_load(POOL_CRD_FILE.read_text())
    assert crd["spec"]["names"]["kind"] == "CodeRunPool"
    (version,) = [v for v in crd["spec"]["versions"] if v["served"]]
    assert f"{crd['spec']['group']}/{version['name']}" == API_VERSION
    # What the HPA controller reads and writes through /scale.
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }


def test_the_chart_ships_the_pool_crd() -> None:
    shipped = CHART / "crds" / POOL_CRD_FILE.name
    assert not shipped.is_symlink()
    assert shipped.read_bytes() == POOL_CRD_FILE.read_bytes(), "run `make crds`"


# -- the real cluster -------------------------------------------------------------------


@pytest.fixture
def namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    """A namespace no operator serves: the pools there stay objects, no pod starts."""
    name = f"coderun-pools-{uuid.uuid4().hex[:8]}"
    k8s_cluster.kubectl("apply", "-f", str(POOL_CRD_FILE))
    k8s_cluster.kubectl(
        "wait", "--for=condition=Established", f"crd/{POOL_CRD_NAME}", "--timeout=60s"
    )
    k8s_cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        k8s_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.cluster
def test_the_api_server_accepts_the_examples_and_the_charts_pools(
    k8s_cluster: K8sCluster, helm: Helm, namespace: str
) -> None:
    for path in (POOLS_FILE, HPA_FILE):
        result = k8s_cluster.kubectl(
            "apply", "--dry-run=server", "-n", namespace, "-f", str(path), check=False
        )
        assert result.returncode == 0, result.stderr
        assert "(server dry run)" in result.stdout
    rendered = helm.template(
        "--set", f"sandbox.namespace.name={namespace}", "--show-only", "templates/pools.yaml"
    ).stdout
    done = subprocess.run(
        [
            str(k8s_cluster.bin_dir / "kubectl"),
            "--kubeconfig",
            str(k8s_cluster.kubeconfig),
            "apply",
            "--dry-run=server",
            "-f",
            "-",
        ],
        input=rendered,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("(server dry run)") == len(DEFAULTS), done.stdout


@pytest.mark.cluster
def test_the_hpa_controller_reads_the_pools_scale(k8s_cluster: K8sCluster, namespace: str) -> None:
    k8s_cluster.kubectl("apply", "-n", namespace, "-f", str(POOLS_FILE))
    scale = json.loads(
        k8s_cluster.kubectl(
            "get",
            "--raw",
            f"/apis/{API_VERSION}/namespaces/{namespace}/coderunpools/python/scale",
        ).stdout
    )
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    # `kubectl scale` goes through the same subresource.
    k8s_cluster.kubectl("scale", "-n", namespace, "crpool/python", "--replicas=3")
    spec = json.loads(
        k8s_cluster.kubectl("get", "-n", namespace, "crpool/python", "-o", "json").stdout
    )["spec"]
    assert spec["replicas"] == 3
    k8s_cluster.kubectl("apply", "-n", namespace, "-f", str(HPA_FILE))

    def able_to_scale() -> dict[str, Any] | None:
        hpa = json.loads(
            k8s_cluster.kubectl(
                "get", "-n", namespace, "hpa/coderun-pool-python", "-o", "json"
            ).stdout
        )
        for condition in (hpa.get("status") or {}).get("conditions", []):
            if condition["type"] == "AbleToScale":
                return dict(condition)
        return None

    # The HPA controller (kube-controller-manager, every 15 s) fetched the pool's /scale;
    # the missing metrics API only stops it from computing a size.
    condition = wait_until(able_to_scale, "HPA condition AbleToScale", rounds=240, pause=0.5)
    assert condition["status"] == "True", condition
    assert condition["reason"] == "SucceededGetScale", condition
