"""The operator's start-up under the chart's own RBAC: it serves at once, with no ERROR line
(kopf, left to discover namespaces, would retry a list the chart forbids for about a
minute), and its readiness says what is missing until it is there.

The operator runs as a process with a ServiceAccount token bound to exactly the rules
`helm template` renders for it (templates/rbac.yaml), not the suite's admin kubeconfig,
which can do anything and so never showed the problem. Real cluster, real sandbox image.
Times are printed for the report, never asserted.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fixtures.cluster import K8sCluster
from tests.helm.conftest import Helm, find_helm
from tests.operator.harness import (
    CODERUN,
    OperatorProcess,
    create_json,
    free_port,
    operator_env,
    prepare_namespace,
    wait_coderun_final,
    wait_until,
)

pytestmark = pytest.mark.cluster

RELEASE = "startup"


@dataclass(frozen=True)
class Identity:
    """The operator's ServiceAccount, bound to the chart's rules for it."""

    kubeconfig: Path
    release_namespace: str
    objects: list[dict[str, Any]]  # what was applied, to delete afterwards


def _operator_rbac(helm: Helm, release_namespace: str, sandbox_namespace: str) -> list[Any]:
    """The operator's Role, ClusterRole and bindings, as the chart renders them."""
    rendered = helm.template(
        "--show-only",
        "templates/rbac.yaml",
        "--set",
        f"sandbox.namespace.name={sandbox_namespace}",
        "--set",
        "sandbox.namespace.create=false",
        release=RELEASE,
        namespace=release_namespace,  # the ClusterRole's name carries it: no clash
    ).stdout
    return [
        manifest
        for manifest in yaml.safe_load_all(rendered)
        if manifest
        and (manifest["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
        == "operator"
    ]


def _kubeconfig_for_token(cluster: K8sCluster, token: str, path: Path) -> Path:
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server_cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": server_cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "operator"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def chart_identity(
    cluster: K8sCluster, sandbox_namespace: str, tmp_path: Path, bind: bool = True
) -> Iterator[Identity]:
    helm_binary = find_helm()
    assert helm_binary is not None, "no helm binary (bash hack/cluster/cluster.sh build)"
    release_namespace = f"coderun-rel-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", release_namespace)
    service_account = f"{RELEASE}-coderun-operator"
    cluster.kubectl("-n", release_namespace, "create", "serviceaccount", service_account)
    objects = _operator_rbac(Helm(helm_binary), release_namespace, sandbox_namespace)
    try:
        if bind:
            apply_all(cluster, objects)
        token = cluster.kubectl(
            "-n", release_namespace, "create", "token", service_account, "--duration=1h"
        ).stdout.strip()
        kubeconfig = _kubeconfig_for_token(cluster, token, tmp_path / "operator.kubeconfig")
        yield Identity(kubeconfig, release_namespace, objects)
    finally:
        for manifest in objects:
            if manifest["kind"].startswith("Cluster"):
                cluster.kubectl(
                    "delete", manifest["kind"], manifest["metadata"]["name"], check=False
                )
        cluster.kubectl("delete", "namespace", release_namespace, "--wait=false", check=False)


def apply_all(cluster: K8sCluster, objects: list[dict[str, Any]]) -> None:
    subprocess.run(
        [str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "apply",
         "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def start(cluster: K8sCluster, namespace: str, kubeconfig: Path, log: Path) -> OperatorProcess:
    """`coderun operator -n namespace` as the chart runs it (CODERUN_OPERATOR_NAMESPACES),
    not yet waited for."""
    health, ready = free_port(), free_port()
    env = operator_env(
        cluster,
        namespaces=namespace,
        metrics_port=str(free_port()),
        readiness=f"http://127.0.0.1:{ready}/readyz",
    )
    env["KUBECONFIG"] = str(kubeconfig)
    process = OperatorProcess(
        argv=[CODERUN, "operator", "--liveness", f"http://127.0.0.1:{health}/healthz"],
        env=env,
        log_path=log,
        health_url=f"http://127.0.0.1:{ready}/readyz",  # "ready" here means the readiness
    )
    process.start()
    return process


def readiness(process: OperatorProcess) -> tuple[int, dict[str, Any]] | None:
    assert process.alive(), f"the operator exited:\n{process.tail()}"
    with contextlib.suppress(httpx.HTTPError):
        response = httpx.get(process.health_url, timeout=15)
        return response.status_code, response.json()
    return None


def answer_containing(process: OperatorProcess, text: str) -> tuple[int, dict[str, Any]] | None:
    """The readiness answer once its reason contains `text`."""
    answer = readiness(process)
    return answer if answer is not None and text in str(answer[1].get("reason")) else None


def coderun(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coderun.dev/v1alpha1",
        "kind": "CodeRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"language": "python", "code": "print(input())", "input": "up"},
    }


def error_lines(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "[ERROR" in line]


@pytest.fixture
def namespace(k8s_cluster: K8sCluster, sandbox_images: None) -> Iterator[str]:
    name = prepare_namespace(k8s_cluster, prefix="coderun-start")
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_a_clean_start_with_the_charts_rbac_serves_at_once_without_errors(
    k8s_cluster: K8sCluster, namespace: str, tmp_path: Path
) -> None:
    log = tmp_path / "operator.log"
    with chart_identity(k8s_cluster, namespace, tmp_path) as identity:
        began = time.monotonic()
        process = start(k8s_cluster, namespace, identity.kubeconfig, log)
        try:
            wait_until(
                lambda: (readiness(process) or (0, {}))[0] == 200, "operator Ready", rounds=600
            )
            ready_s = time.monotonic() - began
            created = create_json(k8s_cluster, coderun(namespace, "first"))
            assert created.returncode == 0, created.stderr
            body = wait_coderun_final(k8s_cluster, namespace, "first")
            served_s = time.monotonic() - began
        finally:
            process.stop()
    assert body["status"]["verdict"] == "Success", body["status"]
    assert body["status"]["result"]["stdout"] == "up\n"
    text = log.read_text(errors="replace")
    # kopf did not try to discover namespaces it may not list, nor retry anything.
    assert "namespaces is forbidden" not in text and "Request attempt" not in text, text
    assert error_lines(log) == [], text
    print(f"\noperator start -> Ready {ready_s:.1f} s, -> first run final {served_s:.1f} s")


def test_readiness_says_what_is_missing_until_it_is_fixed(
    k8s_cluster: K8sCluster, namespace: str, tmp_path: Path
) -> None:
    """Without its RBAC the operator is not Ready and says so, in words naming the fix; once
    the Role is bound it turns Ready by itself and serves a run (no restart)."""
    log = tmp_path / "operator.log"
    with chart_identity(k8s_cluster, namespace, tmp_path, bind=False) as identity:
        process = start(k8s_cluster, namespace, identity.kubeconfig, log)
        try:
            status, answer = wait_until(
                lambda: answer_containing(process, "403"), "a 503 naming the refusal", rounds=600
            )
            assert status == 503 and answer["ready"] is False
            reason = answer["reason"]
            assert "403 Forbidden" in reason and "RBAC" in reason, reason
            assert f"list CodeRuns in namespace {namespace}" in reason, reason
            # The log says it too (kopf retries the startup check every 5 s).
            wait_until(lambda: "403 Forbidden" in log.read_text(errors="replace"), "the log")
            apply_all(k8s_cluster, identity.objects)
            wait_until(
                lambda: (readiness(process) or (0, {}))[0] == 200, "Ready once bound", rounds=900
            )
            created = create_json(k8s_cluster, coderun(namespace, "after-rbac"))
            assert created.returncode == 0, created.stderr
            body = wait_coderun_final(k8s_cluster, namespace, "after-rbac")
        finally:
            process.stop()
    assert body["status"]["verdict"] == "Success", body["status"]


def test_a_wrong_api_server_address_is_named_in_readiness_and_log(tmp_path: Path) -> None:
    """No cluster needed: an address nobody listens on. kopf alone crash-looped with a
    client error after a minute of retries; the startup check says which setting."""
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": f"https://127.0.0.1:{port}",
                            "certificate-authority-data": base64.b64encode(b"x").decode(),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    log = tmp_path / "operator.log"
    ready = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(kubeconfig),
        "CODERUN_OPERATOR_NAMESPACES": "coderun-sandbox",
        "CODERUN_OPERATOR_METRICS_PORT": "0",
        "CODERUN_OPERATOR_READINESS": f"http://127.0.0.1:{ready}/readyz",
    }
    process = OperatorProcess(
        argv=[CODERUN, "operator", "--liveness", f"http://127.0.0.1:{free_port()}/healthz"],
        env=env,
        log_path=log,
        health_url=f"http://127.0.0.1:{ready}/readyz",
    )
    process.start()
    try:
        status, answer = wait_until(
            lambda: answer_containing(process, "cannot connect"), "a 503 naming the address"
        )
        wait_until(lambda: "cannot connect" in log.read_text(errors="replace"), "the log")
    finally:
        process.stop()
    assert status == 503
    reason = answer["reason"]
    assert f"https://127.0.0.1:{port}" in reason and "kubernetesApi.host" in reason, reason
