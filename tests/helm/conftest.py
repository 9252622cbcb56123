"""Helpers for the chart tests: the real helm binary the test cluster builds, real renders."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.cluster import CLUSTER_SH, REPO_ROOT

CHART = REPO_ROOT / "helm" / "coderun"
SAMPLE_VALUES = CHART / "ci" / "production-values.yaml"
# The version the test cluster runs (hack/cluster/versions.env). `helm template` has no
# cluster to ask, and a helm built from its Go module defaults to v1.20.
KUBE_VERSION = "1.34.4"

Manifest = dict[str, Any]


def find_helm() -> Path | None:
    """$CODERUN_HELM, else the helm `cluster.sh build` put in its cache, else one on PATH."""
    configured = os.environ.get("CODERUN_HELM")
    if configured:
        return Path(configured)
    env = subprocess.run(
        ["bash", str(CLUSTER_SH), "env"], capture_output=True, text=True, check=False
    ).stdout
    for line in env.splitlines():
        if line.startswith("export PATH="):
            candidate = Path(line.removeprefix("export PATH=").split(":", 1)[0]) / "helm"
            if candidate.is_file():
                return candidate
    on_path = shutil.which("helm")
    return Path(on_path) if on_path else None


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, check=check, timeout=120
        )

    def template(
        self,
        *args: str,
        values: Iterable[Path] = (),
        release: str = "coderun",
        namespace: str = "coderun",
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        files = [arg for path in values for arg in ("-f", str(path))]
        return self.run(
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            *files,
            *args,
            check=check,
        )

    def refusal(self, *args: str, values: Iterable[Path] = ()) -> str:
        """The error a render that must fail prints (asserts that it fails)."""
        result = self.template(*args, values=values, check=False)
        assert result.returncode != 0, f"helm template {' '.join(args)} rendered"
        return result.stderr

    def render(
        self, *args: str, values: Iterable[Path] = (), release: str = "coderun"
    ) -> list[Manifest]:
        """The rendered manifests, parsed (empty documents dropped)."""
        out = self.template(*args, values=values, release=release).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session")
def helm() -> Iterator[Helm]:
    binary = find_helm()
    if binary is None or not binary.is_file():
        pytest.fail(
            "no helm binary: run `bash hack/cluster/cluster.sh build` (builds helm at the "
            "version pinned in hack/cluster/versions.env) or set CODERUN_HELM",
            pytrace=False,
        )
    yield Helm(binary)


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: list[Manifest], kind: str, name_suffix: str) -> Manifest:
    found = [m for m in by_kind(manifests, kind) if m["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, found {len(found)}"
    return found[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    """(kind/name, pod spec) of every workload in the render."""
    specs = []
    for manifest in manifests:
        if manifest.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            specs.append((name, manifest["spec"]["template"]["spec"]))
    return specs


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}
