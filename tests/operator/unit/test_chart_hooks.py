"""The chart's hook Jobs fail with a sentence that names the API server they tried and the
setting to change (their log is where a failed `helm install` points), not a traceback.

Real parts: the hook's `main` as a process, with a kubeconfig at a loopback port that
nothing serves (refused at once, and the packet never leaves the machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.fixtures.services import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_a_refused_api_server_is_named_with_the_setting(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    for args in (
        ["apply-crd", str(ROOT / "crds" / "coderun.dev_coderuns.yaml")],
        ["cleanup", "some-namespace"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "coderun_operator.chart_hooks", *args],
            env={**env, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done
        assert f"cannot connect to the Kubernetes API server at {server}" in done.stderr
        assert "kubernetesApi.host and kubernetesApi.port" in done.stderr
        assert "Traceback" not in done.stderr, done.stderr
