"""The chart, rendered by the real helm: lint, hardened pods, RBAC, policy, schema, CRD."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest
import yaml
from coderun_operator.resources import GROUP, LABEL_SANDBOX, PLURAL

from tests.fixtures.cluster import REPO_ROOT
from tests.helm.conftest import (
    CHART,
    SAMPLE_VALUES,
    Helm,
    Manifest,
    by_kind,
    env_of,
    one,
    pod_specs,
)

VALUE_SETS = {"default": (), "production": (SAMPLE_VALUES,)}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest, helm: Helm) -> list[Manifest]:
    return helm.render(values=VALUE_SETS[request.param])


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_lint_is_clean(helm: Helm, values: str) -> None:
    files = [arg for path in VALUE_SETS[values] for arg in ("-f", str(path))]
    result = helm.run("lint", "--strict", str(CHART), *files, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_renders_the_whole_installation(rendered: list[Manifest]) -> None:
    kinds = {m["kind"] for m in rendered}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "NetworkPolicy",
    } <= kinds
    names = {m["metadata"]["name"] for m in by_kind(rendered, "Deployment")}
    assert names == {"coderun-api", "coderun-operator"}


def test_every_pod_and_container_is_hardened(rendered: list[Manifest]) -> None:
    specs = pod_specs(rendered)
    assert specs
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] != 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert not ctx["capabilities"].get("add"), where
            assert ctx.get("privileged") is not True, where
            assert "limits" in container["resources"], where
            # A read-only root needs somewhere to write: /tmp is always an emptyDir.
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where


def test_the_api_runs_the_kubernetes_executor_with_probes(rendered: list[Manifest]) -> None:
    api = one(rendered, "Deployment", "-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:1] == ["serve"]
    assert env_of(container)["CODERUN_EXECUTOR"]["value"] == "kubernetes"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["name"] == "http"
    service = one(rendered, "Service", "-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]


def test_the_operator_is_one_replica_recreated_with_kopf_liveness(
    rendered: list[Manifest],
) -> None:
    operator = one(rendered, "Deployment", "-operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:1] == ["operator"]
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz" and probe["port"] == "health"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = env_of(container)
    assert env["CODERUN_OPERATOR_LIVENESS_PORT"]["value"] == str(ports["health"])
    metrics = one(rendered, "Service", "-operator-metrics")
    assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"
    assert metrics["spec"]["selector"] == operator["spec"]["selector"]["matchLabels"]
    # The operator needs no database: it must not be handed the credentials.
    assert "CODERUN_DATABASE_URL" not in env and "CODERUN_REDIS_URL" not in env


def test_selector_labels_never_carry_the_chart_version(rendered: list[Manifest]) -> None:
    for deployment in by_kind(rendered, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert "helm.sh/chart" not in selector
        assert "app.kubernetes.io/version" not in selector
        assert selector["app.kubernetes.io/instance"] == "coderun"
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= template_labels.items()
    components = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for d in by_kind(rendered, "Deployment")
    }
    assert components == {"api", "operator"}, "the two Deployments must not select each other"


def test_sandbox_pods_are_denied_all_traffic(rendered: list[Manifest]) -> None:
    (policy,) = by_kind(rendered, "NetworkPolicy")
    spec = policy["spec"]
    # The label the operator puts on sandbox pods (coderun_operator.resources).
    assert spec["podSelector"] == {"matchLabels": {LABEL_SANDBOX: "true"}}
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert not spec.get("ingress") and not spec.get("egress")


def _rules(role: Manifest) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_grants_what_each_component_needs_and_no_more(rendered: list[Manifest]) -> None:
    operator = _rules(one(rendered, "Role", "-operator"))
    crud = {"get", "list", "watch", "patch", "update", "delete"}
    assert operator[(GROUP, PLURAL)] == crud
    assert operator[(GROUP, f"{PLURAL}/status")] == crud
    # Warm pools: read the pools, write their status; never create or delete one (the chart
    # or the user does), nor touch their scale (kubectl scale, an HPA).
    assert operator[(GROUP, "coderunpools")] == {"get", "list", "watch", "patch"}
    assert operator[(GROUP, "coderunpools/status")] == {"get", "list", "watch", "patch"}
    assert (GROUP, "coderunpools/scale") not in operator
    # patch: a claimed pool Job gets its CodeRun as owner; a claimed pod its labels.
    assert operator[("batch", "jobs")] == {"create", "get", "list", "watch", "delete", "patch"}
    assert operator[("", "pods")] == {"get", "list", "watch", "patch"}
    assert operator[("", "pods/log")] == {"get"}
    # The run request, written to the sandbox container's stdin; never pods/exec.
    assert operator[("", "pods/attach")] == {"create", "get"}
    assert ("", "pods/exec") not in operator
    assert operator[("", "events")] == {"create", "patch"}
    api = _rules(one(rendered, "Role", "-api"))
    assert api == {(GROUP, PLURAL): {"create", "get", "list", "watch"}}
    cluster_role = one(rendered, "ClusterRole", "-operator-coderun")
    for rule in cluster_role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, "cluster-wide rights are read-only"
    # The CRD hook's only right: server-side apply of the chart's CRDs, by name.
    crd_apply = one(rendered, "ClusterRole", "-crd-apply-coderun")
    assert crd_apply["rules"] == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "resourceNames": [f"coderunpools.{GROUP}", f"{PLURAL}.{GROUP}"],
            "verbs": ["get", "patch"],
        }
    ]
    assert len(by_kind(rendered, "ClusterRole")) == 2
    cleanup = _rules(one(rendered, "Role", "-cleanup"))
    assert cleanup == {
        (GROUP, PLURAL): {"list", "deletecollection"},
        (GROUP, "coderunpools"): {"list", "deletecollection"},
        ("batch", "jobs"): {"list", "deletecollection"},
        ("", "pods"): {"list"},
    }
    for role in [*by_kind(rendered, "Role"), *by_kind(rendered, "ClusterRole")]:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]


def test_every_rbac_rule_says_who_needs_it() -> None:
    lines = (CHART / "templates" / "rbac.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("- apiGroups:"):
            above = lines[number - 1].strip()
            # A rule is commented directly, or it continues a commented group of rules.
            assert above.startswith("#") or above.startswith("verbs:"), f"rbac.yaml:{number + 1}"


def test_database_and_redis_urls_come_from_secrets(helm: Helm) -> None:
    rendered = helm.render(
        "--set",
        "database.url=postgresql+psycopg://u:secret@db/coderun",
        "--set",
        "redis.url=redis://redis:6379/0",
        "--set",
        "api.replicaCount=3",
    )
    (secret,) = by_kind(rendered, "Secret")
    assert secret["stringData"]["database-url"].endswith("@db/coderun")
    api = one(rendered, "Deployment", "-api")
    assert api["spec"]["replicas"] == 3
    env = env_of(api["spec"]["template"]["spec"]["containers"][0])
    for variable, key in (
        ("CODERUN_DATABASE_URL", "database-url"),
        ("CODERUN_REDIS_URL", "redis-url"),
    ):
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": key}
    assert env["CODERUN_AUTO_MIGRATE"]["value"] == "false"
    migrate = one(rendered, "Job", "-migrate")
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    everything = yaml.safe_dump_all(m for m in rendered if m["kind"] != "Secret")
    assert "secret@db" not in everything, "the password must only be in the Secret"


def test_existing_secrets_are_referenced_not_copied(rendered: list[Manifest]) -> None:
    api = one(rendered, "Deployment", "-api")
    env = env_of(api["spec"]["template"]["spec"]["containers"][0])
    url = env["CODERUN_DATABASE_URL"]
    if "valueFrom" in url:  # the production sample: an existing Secret
        assert url["valueFrom"]["secretKeyRef"] == {"name": "coderun-database", "key": "url"}
        assert not any(
            "database-url" in s.get("stringData", {}) for s in by_kind(rendered, "Secret")
        )
    else:  # defaults: the SQLite trial mode, one replica, Recreate
        assert url["value"].startswith("sqlite:////data/")
        assert api["spec"]["replicas"] == 1
        assert api["spec"]["strategy"] == {"type": "Recreate"}


def test_sandbox_placement_reaches_the_operator(helm: Helm) -> None:
    rendered = helm.render(values=[SAMPLE_VALUES])
    operator = one(rendered, "Deployment", "-operator")
    env = env_of(operator["spec"]["template"]["spec"]["containers"][0])
    assert env["CODERUN_OPERATOR_RUNTIME_CLASS_NAME"]["value"] == "gvisor"
    assert env["CODERUN_OPERATOR_NODE_SELECTOR"]["value"] == '{"coderun.dev/sandbox-node":"true"}'
    assert '"effect":"NoSchedule"' in env["CODERUN_OPERATOR_TOLERATIONS"]["value"]
    assert env["CODERUN_OPERATOR_MAX_CONCURRENT_RUNS"]["value"] == "16"
    assert env["CODERUN_KUBERNETES_NAMESPACE"]["value"] == "coderun-sandbox"
    for kind in ("Role", "RoleBinding", "NetworkPolicy"):
        for manifest in by_kind(rendered, kind):
            assert manifest["metadata"]["namespace"] == "coderun-sandbox", kind
    (pdb,) = by_kind(rendered, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("api.replicaCont=2", "replicaCont"),
        ("sandbox.networkPolicy.enabeld=false", "enabeld"),
        ("securityContext.readOnlyRootFileSystem=false", "readOnlyRootFileSystem"),
        ("executor.type=docker", "executor"),
        ("sandbox.maxConcurrentRuns=0", "maxConcurrentRuns"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        # A string where the schema wants the sandbox namespace's map must not be ignored
        # (the chart would fall back to the default namespace).
        ("sandbox.namespace=elsewhere", "namespace"),
        ("sandbox.namespace.crate=true", "crate"),
        ("sandbox.namespace.name=Not_A_Name", "name"),
        ("sandbox.namespace.name=coderun", "must not be the release namespace"),
    ],
)
def test_the_schema_rejects_typos_and_bad_values(helm: Helm, setting: str, complaint: str) -> None:
    stderr = helm.refusal("--set", setting)
    assert complaint in stderr, stderr


def test_several_api_replicas_need_an_external_database_and_redis(helm: Helm) -> None:
    assert "needs an external database" in helm.refusal("--set", "api.replicaCount=2")
    stderr = helm.refusal("--set", "api.replicaCount=2", "--set", "database.existingSecret=db")
    assert "needs Redis" in stderr, stderr


def test_long_release_names_are_cut_to_63_characters(helm: Helm) -> None:
    release = "r" * 53  # helm's own limit on release names
    for manifest in helm.render(release=release):
        assert len(manifest["metadata"]["name"]) <= 63, manifest["metadata"]["name"]
        for value in manifest["metadata"].get("labels", {}).values():
            assert len(str(value)) <= 63


def test_the_chart_ships_the_operators_crd(helm: Helm, tmp_path: Path) -> None:
    source = REPO_ROOT / "crds" / "coderun.dev_coderuns.yaml"
    # A copy (`make crds`), not a link: helm prints "found symbolic link" for every link.
    assert not (CHART / "crds" / source.name).is_symlink()
    assert (CHART / "crds" / source.name).read_bytes() == source.read_bytes(), "run `make crds`"
    packaged = helm.run("package", str(CHART), "--destination", str(tmp_path))
    assert "symbolic link" not in packaged.stdout + packaged.stderr
    (package,) = tmp_path.glob("coderun-*.tgz")
    with tarfile.open(package) as archive:
        member = archive.extractfile(f"coderun/crds/{source.name}")
        assert member is not None
        assert member.read() == source.read_bytes()
    crd = yaml.safe_load(source.read_text())
    assert crd["spec"]["group"] == GROUP and crd["spec"]["names"]["plural"] == PLURAL


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):(?P<value>.*)$")


def test_every_value_is_documented() -> None:
    """Each leaf of values.yaml, or a block it belongs to, has a `# --` comment above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the open blocks
    undocumented = []
    for number, line in enumerate(lines):
        match = _KEY.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        comment = number
        while comment > 0 and lines[comment - 1].lstrip().startswith("#"):
            comment -= 1
        documented = comment < number and lines[comment].lstrip().startswith("# --")
        inherited = documented or any(doc for _, doc in stack)
        if match["value"].strip():
            if not inherited:
                undocumented.append(f"values.yaml:{number + 1}: {match['key']}")
        else:
            stack.append((indent, inherited))
    assert not undocumented, undocumented


def test_proxy_settings_reach_the_api(helm: Helm) -> None:
    rendered = helm.render(
        "--set", "config.trustProxyHeaders=true", "--set", "config.trustedProxyHops=2"
    )
    env = env_of(one(rendered, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0])
    assert env["CODERUN_TRUST_PROXY_HEADERS"]["value"] == "true"
    assert env["CODERUN_TRUSTED_PROXY_HOPS"]["value"] == "2"
    stderr = helm.refusal("--set", "config.trustedProxyHops=0")
    assert "trustedProxyHops" in stderr, stderr


@pytest.mark.parametrize(("values", "expected"), [((), "2"), ((SAMPLE_VALUES,), "4")])
def test_the_per_account_cap_reaches_the_operator(
    helm: Helm, values: tuple[Path, ...], expected: str
) -> None:
    operator = one(helm.render(values=values), "Deployment", "-operator")
    env = env_of(operator["spec"]["template"]["spec"]["containers"][0])
    assert env["CODERUN_OPERATOR_MAX_RUNNING_PER_ACCOUNT"]["value"] == expected
