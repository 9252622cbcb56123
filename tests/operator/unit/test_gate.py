"""The network gate script, run here with this machine's python3 against loopback only."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from coderun_operator.gate import GATE_SCRIPT


def run_gate(port: int, timeout_s: int = 1) -> subprocess.CompletedProcess[str]:
    """The gate without a phase argument: exits 0 where it would exec the runner."""
    env = {
        "CODERUN_GATE_HOST": "127.0.0.1",
        "CODERUN_GATE_PORT": str(port),
        "CODERUN_GATE_TIMEOUT_S": str(timeout_s),
    }
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", GATE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gate_opens_once_the_node_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        done = run_gate(port)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gate_fails_closed_while_the_node_is_reachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        done = run_gate(listener.getsockname()[1], timeout_s=1)
    assert done.returncode == 1
    result = json.loads(done.stdout)["coderunResult"]
    assert result["sandboxErrorType"] == "SandboxError"
    assert "not locked down" in result["sandboxErrorMessage"]
