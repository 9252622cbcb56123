"""The operator and the API as real processes against the real test cluster.

Session fixtures, shared by every cluster test of the operator:

- `sandbox_images`: `hack/cluster/cluster.sh images` once (builds and loads every sandbox
  image; set CODERUN_SKIP_IMAGES=1 to reuse what the node has);
- `op_namespace`: a fresh namespace with Pod Security "restricted" enforced, the CRD
  applied from crds/, and the deny-all NetworkPolicy for sandbox pods (as the chart ships it);
- `operator`: `coderun operator -n <namespace>` as a process (kill/restart for the tests);
- `api`: `coderun serve` with CODERUN_EXECUTOR=kubernetes on SQLite, plus an account;
- `local_api` (per module): `coderun serve` on the embedded executor, to compare with.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.fixtures.cluster import K8sCluster
from tests.operator.harness import (
    MAX_CONCURRENT,
    ApiProcess,
    OperatorProcess,
    prepare_namespace,
    start_api,
    start_operator,
)

_images_loaded: list[bool] = []


@pytest.fixture(scope="session")
def sandbox_images(k8s_cluster: K8sCluster) -> None:
    if _images_loaded or os.environ.get("CODERUN_SKIP_IMAGES") == "1":
        return
    subprocess.run(
        ["bash", str(k8s_cluster.script), "images"], check=True, timeout=3600, env=k8s_cluster.env
    )
    _images_loaded.append(True)


@pytest.fixture(scope="session")
def op_namespace(k8s_cluster: K8sCluster, sandbox_images: None) -> Iterator[str]:
    namespace = prepare_namespace(k8s_cluster)
    yield namespace
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="session")
def operator(
    k8s_cluster: K8sCluster, op_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = start_operator(
        k8s_cluster,
        op_namespace,
        tmp_path_factory.mktemp("operator") / "operator.log",
        max_concurrent_runs=str(MAX_CONCURRENT),
        start_grace_seconds="20",
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(
    k8s_cluster: K8sCluster,
    op_namespace: str,
    operator: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiProcess]:
    base = tmp_path_factory.mktemp("api")
    process = start_api(k8s_cluster, op_namespace, base / "data", base / "api.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api_key(api: ApiProcess) -> str:
    return api.new_key()


@pytest.fixture(scope="module")
def local_api(
    k8s_cluster: K8sCluster, op_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    base = tmp_path_factory.mktemp("local-api")
    process = start_api(
        k8s_cluster, op_namespace, base / "data", base / "api.log", CODERUN_EXECUTOR="local"
    )
    yield process
    process.stop()
