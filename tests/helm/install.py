"""Installing the chart into the test cluster, and talking to what it installed."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.cluster import K8sCluster
from tests.helm.conftest import CHART
from tests.helm.images import (
    LANGUAGES,
    SERVICE_IMAGE,
    ensure_sandbox_images,
    ensure_service_image,
    sandbox_image,
)

INSTALL_TIMEOUT = "6m"
COMPONENT = "app.kubernetes.io/component"
# Clusters (by kubeconfig) this process has loaded the images into: a second install needs
# no second build and `docker save | ctr import`.
_images_loaded: set[Path] = set()


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    cluster: K8sCluster

    @property
    def sandbox_namespace(self) -> str:
        """Where the chart puts CodeRuns and sandbox Jobs by default (a namespace it
        creates and `helm uninstall` keeps)."""
        return f"{self.namespace}-sandbox"

    def pods(self, component: str) -> list[dict[str, Any]]:
        out = self.cluster.kubectl(
            "-n",
            self.namespace,
            "get",
            "pods",
            "-l",
            f"app.kubernetes.io/instance={self.name},{COMPONENT}={component}",
            "-o",
            "json",
        ).stdout
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items

    def diagnostics(self) -> str:
        parts = []
        for args in (
            ("get", "all,events", "-o", "wide"),
            ("describe", "pods"),
            (
                "logs",
                "-l",
                f"app.kubernetes.io/instance={self.name}",
                "--all-containers",
                "--tail",
                "40",
            ),
        ):
            result = self.cluster.kubectl("-n", self.namespace, *args, check=False)
            parts.append(f"$ kubectl {' '.join(args)}\n{result.stdout}{result.stderr}")
        return "\n".join(parts)[-12000:]


def load_images(cluster: K8sCluster) -> None:
    """Build (cached) and load the service and sandbox images into the node, once per
    process and cluster."""
    if cluster.kubeconfig in _images_loaded:
        return
    ensure_service_image(cluster)
    ensure_sandbox_images(cluster)
    cluster.load_image(SERVICE_IMAGE, *(sandbox_image(lang) for lang in LANGUAGES))
    _images_loaded.add(cluster.kubeconfig)


def cluster_settings(cluster: K8sCluster) -> list[str]:
    """The --set pairs every install on the test cluster needs."""
    return [
        # The images exist only in the node (loaded by load_images): never try a registry.
        "image.pullPolicy=Never",
        "sandbox.imagePullPolicy=Never",
        # The test cluster runs no Service proxy: the `kubernetes` ClusterIP is not routed,
        # so pods reach the API server at the node's address.
        f"kubernetesApi.host={cluster.node_ip}",
        "kubernetesApi.port=6443",
    ]


@contextlib.contextmanager
def installed(
    cluster: K8sCluster, name: str, *settings: str, chart: Path = CHART, wait: bool = True
) -> Iterator[Release]:
    """`helm install --wait` into a fresh namespace that enforces Pod Security "restricted";
    `helm uninstall` and the namespace's deletion afterwards. settings: --set pairs.
    wait=False: only the hooks are waited for (an install that is not meant to get Ready).
    The images are built and loaded first (load_images)."""
    load_images(cluster)
    release = Release(name=name, namespace=f"coderun-helm-{uuid.uuid4().hex[:8]}", cluster=cluster)
    cluster.kubectl("create", "namespace", release.namespace)
    cluster.kubectl(
        "label", "namespace", release.namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    overrides = [*cluster_settings(cluster), *settings]
    args = [arg for setting in overrides for arg in ("--set", setting)]
    try:
        result = cluster.helm(
            "install",
            release.name,
            str(chart),
            "--namespace",
            release.namespace,
            *args,
            *(["--wait"] if wait else []),
            "--timeout",
            INSTALL_TIMEOUT,
            check=False,
            timeout=480,
        )
        assert result.returncode == 0, (
            f"helm install failed:\n{result.stdout}{result.stderr}\n{release.diagnostics()}"
        )
        yield release
    finally:
        uninstall(release)
        for namespace in (release.namespace, release.sandbox_namespace):
            cluster.kubectl(
                "delete", "namespace", namespace, "--wait=true", check=False, timeout=180
            )
        # The SQLite claim (kept by uninstall) went with the namespace: wipe its volume and
        # make it Available again for the next install.
        subprocess.run(["bash", str(cluster.script), "volumes"], check=False, timeout=120)


def upgrade(release: Release, *args: str, chart: Path = CHART) -> None:
    """`helm upgrade --wait` of the release; args: what to change (--set, --reuse-values)."""
    result = release.cluster.helm(
        "upgrade",
        release.name,
        str(chart),
        "--namespace",
        release.namespace,
        *args,
        "--wait",
        "--timeout",
        INSTALL_TIMEOUT,
        check=False,
        timeout=480,
    )
    assert result.returncode == 0, (
        f"helm upgrade failed:\n{result.stdout}{result.stderr}\n{release.diagnostics()}"
    )


@contextlib.contextmanager
def service_url(release: Release) -> Iterator[str]:
    """`kubectl port-forward svc/<release>-api`, the way NOTES.txt reaches the API: through the
    Service (the test cluster has no Service proxy, so its ClusterIP is not routed)."""
    process = subprocess.Popen(
        [
            str(release.cluster.bin_dir / "kubectl"),
            "--kubeconfig",
            str(release.cluster.kubeconfig),
            "-n",
            release.namespace,
            "port-forward",
            f"svc/{release.name}-api",
            ":80",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+) ->", line)
        assert match, f"kubectl port-forward: {line}{process.stdout.read() if not match else ''}"
        yield f"http://127.0.0.1:{match[1]}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def uninstall(release: Release) -> None:
    """`helm uninstall --wait`; the sandbox namespace stays (helm.sh/resource-policy: keep)."""
    release.cluster.helm(
        "uninstall", release.name, "--namespace", release.namespace, "--wait", check=False
    )


@dataclass(frozen=True)
class ApiClient:
    base: str
    key: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-API-KEY": self.key, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from error
        return payload

    def run(self, language: str, code: str, stdin: str) -> dict[str, Any]:
        """Submit, then ask for the result (long-polling) until it is final."""
        submitted = self.call(
            "POST", "/api/v1/runner/submit", {"language": language, "code": code, "input": stdin}
        )
        job_id = submitted["data"]["jobId"]
        for _ in range(20):
            data: dict[str, Any] = self.call("GET", f"/api/v1/runner/{job_id}/result?wait=30")[
                "data"
            ]
            if data["status"] not in ("queued", "running"):
                return data
        raise AssertionError(f"job {job_id} is still {data['status']}")


def create_account(release: Release) -> str:
    """An account on the installed API, made the operator's way (`coderun account create`
    in an API pod); its API key."""
    created = release.cluster.kubectl(
        "-n",
        release.namespace,
        "exec",
        f"deploy/{release.name}-api",
        "--",
        "coderun",
        "account",
        "create",
        f"helm-{uuid.uuid4().hex[:8]}@example.com",
    )
    keys = [w for w in (created.stdout + created.stderr).split() if w.startswith("nr_live_")]
    assert keys, created.stdout + created.stderr
    return keys[0]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
