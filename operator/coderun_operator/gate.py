"""The network gate: runs first in every sandbox container, then becomes the runner.

NetworkPolicy enforcers that program iptables (kube-router here) apply a new pod's rules a
moment after the pod has its IP: measured on the test node, a fresh pod could reach its
node for about 0.9 s. Untrusted code must never run in that window. Each sandbox container
therefore starts with this gate: it connects to the kubelet port on the pod's own node
(reachable from any unfiltered pod, on every cluster) until that fails, then `exec`s the
runner (`python3 -m coderun_sandbox compile|run`), which keeps PID 1. If the policy never
takes hold (no enforcer, or no policy), the gate fails closed with a SandboxError result
line, and neither the compiler nor the program starts.

The gate is a wrapper rather than an init container of its own: the kubelet notices a
finished container only at its next relist (up to a second), so an extra container costs
about a second per run; by the time the container starts the gate usually passes at once.

Runs with python3 from the sandbox image, standard library only.
"""

from __future__ import annotations

GATE_SCRIPT = """
import json, os, socket, sys, time
host = os.environ["CODERUN_GATE_HOST"]
port = int(os.environ["CODERUN_GATE_PORT"])
limit = float(os.environ["CODERUN_GATE_TIMEOUT_S"])
started = time.monotonic()
while time.monotonic() - started < limit:
    try:
        socket.create_connection((host, port), timeout=0.25).close()
    except OSError:
        if len(sys.argv) > 1:
            os.execvp("python3", ["python3", "-m", "coderun_sandbox", *sys.argv[1:]])
        sys.exit(0)
    time.sleep(0.05)
message = ("the sandbox network is not locked down: after %d s this pod could still reach "
           "its node at %s:%d (is a deny-all NetworkPolicy installed and enforced?)"
           % (limit, host, port))
print(json.dumps({"coderunResult": {"status": "failed", "sandboxErrorType": "SandboxError",
                                    "sandboxErrorMessage": message}}), flush=True)
sys.exit(1)
""".strip()


def gated_command(phase: str) -> list[str]:
    """The container command: the gate, then the runner's `phase` in the same process."""
    return ["python3", "-I", "-S", "-c", GATE_SCRIPT, phase]
