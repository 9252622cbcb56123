"""The network gate: runs first in every sandbox container, then becomes the runner.

NetworkPolicy enforcers that program iptables (kube-router here) apply a new pod's rules a
moment after the pod has its IP: measured on the test node, a fresh pod could reach its
node for about 0.9 s. Untrusted code must never run in that window. Each sandbox container
therefore starts with this gate: it connects to the kubelet port on the pod's own node
(reachable from any unfiltered pod, on every cluster) until the policy visibly blocks it,
then `exec`s the runner (`python3 -m coderun_sandbox compile|run`), which keeps PID 1. If
the policy never takes hold (no enforcer, or no policy), the gate fails closed with a
SandboxError result line, and neither the compiler nor the program starts.

What counts as "blocked" is the whole point: one slow connect is not evidence. A loaded
node can take longer than a short timeout to answer on an open port (a lost SYN is resent
only after the kernel's 1 s initial RTO), and a gate that opened on that would run the
program with network. So the gate opens only after `FAILURES_IN_A_ROW` consecutive
attempts were each refused (kube-router REJECTs: ECONNREFUSED), unreachable, or timed out
after `CONNECT_TIMEOUT_S` (enforcers that DROP, like Calico's default). The timeout is above
the 1 s retransmission, so an open port that lost one SYN still connects. A successful
connect, or any other error (a bad address, no descriptors), is no evidence and starts the
count again; at the deadline the gate fails closed. docs/operator.md has the measurements.

The gate is a wrapper rather than an init container of its own: the kubelet notices a
finished container only at its next relist (up to a second), so an extra container costs
about a second per run; by the time the container starts the gate usually passes at once.

Runs with python3 from the sandbox image, standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coderun_sandbox.contract import RESULT_KEY

# Consecutive blocked attempts that prove the policy holds.
FAILURES_IN_A_ROW = 3
# Per attempt: above Linux's 1 s initial SYN retransmission, so that an open port on a
# loaded node, or one that lost a SYN, still answers within it.
CONNECT_TIMEOUT_S = 1.5
# Pause between attempts: the policy usually lands within a second.
PAUSE_S = 0.05

# The environment the script reads: the Job builder sets it (`gate_env`). The script is
# shipped as text and runs before the runner, standard library only, so it imports
# nothing of ours: these names and the result key are written into its text here.
HOST_ENV = "CODERUN_GATE_HOST"
PORT_ENV = "CODERUN_GATE_PORT"
TIMEOUT_ENV = "CODERUN_GATE_TIMEOUT_S"
FAILURES_ENV = "CODERUN_GATE_FAILURES"
CONNECT_TIMEOUT_ENV = "CODERUN_GATE_CONNECT_TIMEOUT_S"
PAUSE_ENV = "CODERUN_GATE_PAUSE_S"

GATE_SCRIPT = f"""
import errno, json, os, socket, sys, time
host = os.environ[{HOST_ENV!r}]
port = int(os.environ[{PORT_ENV!r}])
limit = float(os.environ[{TIMEOUT_ENV!r}])
needed = int(os.environ[{FAILURES_ENV!r}])
connect_s = float(os.environ[{CONNECT_TIMEOUT_ENV!r}])
pause_s = float(os.environ[{PAUSE_ENV!r}])
# What a policy does to a connect: REJECT (refused, unreachable, prohibited) or DROP (timeout).
BLOCKED = {{errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM}}
started = time.monotonic()
blocked = 0
while time.monotonic() - started < limit:
    try:
        socket.create_connection((host, port), timeout=connect_s).close()
        blocked = 0
    except TimeoutError:
        blocked += 1
    except OSError as error:
        blocked = blocked + 1 if error.errno in BLOCKED else 0
    if blocked >= needed:
        if len(sys.argv) > 1:
            os.execvp("python3", ["python3", "-m", "coderun_sandbox", *sys.argv[1:]])
        sys.exit(0)
    time.sleep(pause_s)
message = ("the sandbox network is not locked down: after %d s this pod could still reach "
           "its node at %s:%d (is a deny-all NetworkPolicy installed and enforced?)"
           % (limit, host, port))
print(json.dumps({{{RESULT_KEY!r}: {{"status": "failed", "sandboxErrorType": "SandboxError",
                                    "sandboxErrorMessage": message}}}}), flush=True)
sys.exit(1)
""".strip()


def gate_settings(timeout_s: float) -> Mapping[str, str]:
    """The gate's fixed parameters as the environment the script reads (host and port aside)."""
    return {
        TIMEOUT_ENV: str(timeout_s),
        FAILURES_ENV: str(FAILURES_IN_A_ROW),
        CONNECT_TIMEOUT_ENV: str(CONNECT_TIMEOUT_S),
        PAUSE_ENV: str(PAUSE_S),
    }


def gate_env(port: int, timeout_s: float) -> list[dict[str, Any]]:
    """The container env entries the gate reads: it probes `port` (the kubelet's) on the
    pod's own node, for at most `timeout_s`."""
    return [
        {"name": HOST_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": PORT_ENV, "value": str(port)},
        *({"name": k, "value": v} for k, v in gate_settings(timeout_s).items()),
    ]


def gated_command(phase: str) -> list[str]:
    """The container command: the gate, then the runner's `phase` in the same process."""
    return ["python3", "-I", "-S", "-c", GATE_SCRIPT, phase]
