"""/readyz of an API on the Kubernetes executor whose API-server address is wrong says why,
naming the address and the setting to change, not only the exception's type: a wrong address
is the usual cause, and whoever runs the install must see which setting to fix.

Real parts: `coderun serve` as a process, a kubeconfig pointing at 127.0.0.1, and either a
port nobody listens on or a real TLS server whose certificate the kubeconfig's CA did not
sign (both made here with the openssl command line).
"""

from __future__ import annotations

import base64
import contextlib
import socketserver
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.server import Server
from tests.fixtures import environment
from tests.fixtures.services import free_port
from tests.operator.harness import wait_until
from tests.utils.listener import serving


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _kubeconfig(path: Path, server: str, ca: Path) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "wrong",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "wrong", "context": {"cluster": "wrong", "user": "u"}}],
        "current-context": "wrong",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def _tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 serving `cert`: it completes handshakes and nothing more."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class Handshake(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError), context.wrap_socket(self.request, server_side=True):
                pass  # the client refuses our certificate during the handshake

    server = socketserver.TCPServer(("127.0.0.1", 0), Handshake)
    with serving(server):
        yield int(server.server_address[1])


@contextlib.contextmanager
def _api(tmp_path: Path, kubeconfig: Path) -> Iterator[Server]:
    env = environment.serve_env(
        tmp_path / "data",
        CODERUN_EXECUTOR="kubernetes",
        CODERUN_KUBERNETES_NAMESPACE="coderun-sandbox",
        KUBECONFIG=str(kubeconfig),
    )
    env.pop("KUBERNETES_SERVICE_HOST", None)  # the kubeconfig above, not an in-cluster config
    server = Server(env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _reason(server: Server) -> dict[str, Any]:
    """/readyz once the executor has an answer from the address (not just "connecting")."""

    def answered() -> dict[str, Any] | None:
        response = httpx.get(server.base + "/readyz", timeout=10)
        body: dict[str, Any] = response.json()
        executor = str((body.get("data") or {}).get("executor", ""))
        if response.status_code == 503 and "connecting" not in executor:
            return body
        assert response.status_code == 503, body  # never ready at a wrong address
        return None

    found: dict[str, Any] = wait_until(answered, "a reason in /readyz", rounds=300, pause=0.2)
    return found


def test_a_closed_port_is_named_with_the_setting_to_change(tmp_path: Path) -> None:
    ca, _ = _self_signed(tmp_path, "ca")
    port = free_port()  # bound and closed again: nobody listens there
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}", ca)
    with _api(tmp_path, kubeconfig) as server:
        body = _reason(server)
    executor = body["data"]["executor"]
    assert body["message"] == "not ready"
    assert f"127.0.0.1:{port}" in executor, executor
    assert "cannot connect" in executor, executor
    assert "kubernetesApi.host" in executor and "KUBERNETES_SERVICE_HOST" in executor, executor
    assert executor != "unavailable: RuntimeError"


def test_a_server_with_the_wrong_certificate_is_named(tmp_path: Path) -> None:
    ca, _ = _self_signed(tmp_path, "cluster-ca")
    other_cert, other_key = _self_signed(tmp_path, "some-other-server")
    with _tls_server(other_cert, other_key) as port:
        kubeconfig = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}", ca)
        with _api(tmp_path, kubeconfig) as server:
            body = _reason(server)
    executor = body["data"]["executor"]
    assert f"127.0.0.1:{port}" in executor, executor
    assert "certificate does not verify" in executor, executor
    assert "kubernetesApi.host" in executor, executor


@pytest.mark.parametrize("status", [401, 403, 404])
def test_http_refusals_say_which_fix(status: int) -> None:
    """The API server answered, but no: credentials, RBAC, or the CRD."""
    from coderun_operator.api_server import describe_failure
    from kubernetes.client.exceptions import ApiException

    text = describe_failure(ApiException(status=status), "https://h:6443", "list CodeRuns in x")
    assert "https://h:6443" in text
    assert {401: "token", 403: "RBAC", 404: "CRD"}[status] in text
