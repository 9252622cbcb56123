"""Processes and helpers for the operator's cluster tests and the Kubernetes benchmark:
`coderun operator` and `coderun serve` as real processes, a namespace set up like the chart
sets it up (CRD, Pod Security "restricted", deny-all NetworkPolicy), kubectl helpers.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.cluster import REPO_ROOT, K8sCluster
from tests.fixtures.services import free_port

__all__ = ["free_port"]

CODERUN = str(Path(sys.executable).with_name("coderun"))
CRD_FILE = REPO_ROOT / "crds" / "coderun.dev_coderuns.yaml"
POOL_CRD_FILE = REPO_ROOT / "crds" / "coderun.dev_coderunpools.yaml"
FINAL = ("success", "failed")
# At most this many runs at once in the tests: the queue is exercised, the node not swamped.
MAX_CONCURRENT = 4

DENY_ALL: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "sandbox-deny-all"},
    "spec": {
        "podSelector": {"matchLabels": {"coderun.dev/sandbox": "true"}},
        "policyTypes": ["Ingress", "Egress"],
    },
}


def wait_until(check: Any, what: str, rounds: int = 600, pause: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; bounded by rounds, not asserted time."""
    for _ in range(rounds):
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"{what}: not reached")


def _kubectl_manifest(
    cluster: K8sCluster, verb: str, manifest: dict[str, Any], check: bool
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(cluster.bin_dir / "kubectl"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            verb,
            "-f",
            "-",
        ],
        input=json.dumps(manifest),
        text=True,
        check=check,
        capture_output=True,
        timeout=60,
    )


def apply_json(cluster: K8sCluster, manifest: dict[str, Any]) -> None:
    _kubectl_manifest(cluster, "apply", manifest, check=True)


def create_json(cluster: K8sCluster, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`kubectl create` a manifest; the completed process (not checked)."""
    return _kubectl_manifest(cluster, "create", manifest, check=False)


@dataclass
class Process:
    """A `coderun` subcommand running as its own process, its output in a log file."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a node or the process dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class OperatorProcess(Process):
    health_url: str = ""
    metrics_url: str = ""

    def wait_ready(self) -> None:
        def healthy() -> bool:
            assert self.alive(), f"the operator exited:\n{self.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(self.health_url, timeout=2).status_code == 200
            return False

        wait_until(healthy, "operator liveness endpoint", rounds=600)

    def restart(self) -> None:
        self.start()
        self.wait_ready()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        text = httpx.get(self.metrics_url, timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, label_text = head.partition("{")
            if metric != name:
                continue
            if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
                total += float(value)
        return total


def operator_env(cluster: K8sCluster, **settings: str) -> dict[str, str]:
    env = cluster.env
    env.update({f"CODERUN_OPERATOR_{k.upper()}": v for k, v in settings.items()})
    return env


@dataclass
class ApiProcess(Process):
    base_url: str = ""
    keys: list[str] = field(default_factory=list)

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.alive(), f"the API exited:\n{self.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
            return False

        wait_until(ready, "API /readyz", rounds=600)

    def new_key(self, credits: int = 1000) -> str:
        email = f"op-{uuid.uuid4().hex[:10]}@example.com"
        out = subprocess.run(
            [CODERUN, "account", "create", email, "--credits", str(credits)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout.strip().splitlines()[-1]

    def submit(self, key: str, code: str, language: str = "python", stdin: str = "") -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/runner/submit",
            json={"code": code, "language": language, "input": stdin},
            headers={"X-API-KEY": key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        job_id: str = response.json()["data"]["jobId"]
        return job_id

    def result(self, key: str, job_id: str, wait: float = 0) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base_url}/api/v1/runner/{job_id}/result",
            params={"wait": str(wait)} if wait else {},
            headers={"X-API-KEY": key},
            timeout=wait + 30,
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def wait_final(self, key: str, job_id: str, rounds: int = 12) -> dict[str, Any]:
        """Long-poll until final; bounded by rounds (of up to 30 s), not asserted time."""
        for _ in range(rounds):
            data = self.result(key, job_id, wait=30)
            if data["status"] in FINAL:
                return data
        raise AssertionError(f"job {job_id} never became final:\n{self.tail()}")

    def run(self, key: str, code: str, language: str = "python", stdin: str = "") -> dict[str, Any]:
        return self.wait_final(key, self.submit(key, code, language, stdin))

    def account_info(self, key: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base_url}/api/v1/account", headers={"X-API-KEY": key}, timeout=30
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


def api_env(cluster: K8sCluster, namespace: str, data_dir: Path) -> dict[str, str]:
    env = cluster.env
    env.update(
        {
            "CODERUN_EXECUTOR": "kubernetes",
            "CODERUN_KUBERNETES_NAMESPACE": namespace,
            "CODERUN_DATA_DIR": str(data_dir),
            "CODERUN_SUBMIT_RATE_LIMIT": "100000/minute",
            "CODERUN_LOG_FORMAT": "text",
        }
    )
    return env


def start_api(
    cluster: K8sCluster, namespace: str, data_dir: Path, log_path: Path, **extra_env: str
) -> ApiProcess:
    port = free_port()
    env = api_env(cluster, namespace, data_dir)
    env.update(extra_env)
    process = ApiProcess(
        argv=[CODERUN, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        log_path=log_path,
        base_url=f"http://127.0.0.1:{port}",
    )
    process.start()
    process.wait_ready()
    return process


def get_coderun(cluster: K8sCluster, namespace: str, name: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", "crun", "-n", namespace, name, "-o", "json", check=False)
    if out.returncode != 0:
        return None
    found: dict[str, Any] = json.loads(out.stdout)
    return found


def wait_coderun_final(
    cluster: K8sCluster, namespace: str, name: str, rounds: int = 600
) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        body = get_coderun(cluster, namespace, name)
        if body and (body.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return body
        return None

    found: dict[str, Any] = wait_until(final, f"CodeRun {name} final", rounds=rounds, pause=0.25)
    return found


def prepare_namespace(cluster: K8sCluster, prefix: str = "coderun-op") -> str:
    """A fresh namespace like the chart's: CRD applied, Pod Security "restricted", deny-all
    NetworkPolicy for sandbox pods."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("apply", "-f", str(CRD_FILE), "-f", str(POOL_CRD_FILE))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/coderuns.coderun.dev",
        "crd/coderunpools.coderun.dev",
        "--timeout=60s",
    )
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    apply_json(cluster, {**DENY_ALL, "metadata": {**DENY_ALL["metadata"], "namespace": namespace}})
    return namespace


def start_operator(
    cluster: K8sCluster, namespace: str, log_path: Path, **settings: str
) -> OperatorProcess:
    """`coderun operator -n namespace`, ready (liveness answers); settings as CODERUN_OPERATOR_*."""
    health_port, metrics_port, ready_port = free_port(), free_port(), free_port()
    env = operator_env(cluster, metrics_port=str(metrics_port), **settings)
    process = OperatorProcess(
        argv=[
            CODERUN,
            "operator",
            "-n",
            namespace,
            "--liveness",
            f"http://127.0.0.1:{health_port}/healthz",
            # Several operators run at once in one session: none may take the default ports.
            "--readiness",
            f"http://127.0.0.1:{ready_port}/readyz",
        ],
        env=env,
        log_path=log_path,
        health_url=f"http://127.0.0.1:{health_port}/healthz",
        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
    )
    process.start()
    process.wait_ready()
    return process


@dataclass
class Stack:
    """A namespace of its own (prepare_namespace) with an operator and an API serving it."""

    cluster: K8sCluster
    namespace: str
    operator: OperatorProcess
    api: ApiProcess


@contextlib.contextmanager
def own_stack(
    cluster: K8sCluster,
    base: Path,
    prefix: str,
    api_env: Mapping[str, str] | None = None,
    **settings: str,
) -> Iterator[Stack]:
    """An operator (with `settings`, as start_operator takes them) and an API (with
    `api_env` added to its environment) in a fresh namespace; both stopped and the namespace
    deleted at the end. Logs and data under `base`."""
    namespace = prepare_namespace(cluster, prefix=prefix)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(
            cluster.kubectl, "delete", "namespace", namespace, "--wait=false", check=False
        )
        operator = start_operator(cluster, namespace, base / "operator.log", **settings)
        cleanup.callback(operator.stop)
        api = start_api(cluster, namespace, base / "data", base / "api.log", **(api_env or {}))
        cleanup.callback(api.stop)
        yield Stack(cluster, namespace, operator, api)
