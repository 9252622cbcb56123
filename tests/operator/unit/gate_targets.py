"""Real things for the network gate to probe, and a way to run the gate's script against them.

Everything is on loopback or inside a private network namespace (`unshare -n`), so no test
touches this machine's own network. Shared by tests/operator/unit/test_gate.py and the gate
measurement (bench/gate.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from coderun_operator.gate import GATE_SCRIPT, HOST_ENV, PORT_ENV, TIMEOUT_ENV, gate_settings

from tests.utils.listener import accepted

# The control: a naive gate, one connect with a 0.25 s timeout, that the first failure of
# any kind opens. The tests show it opening where the real gate stays shut.
OLD_GATE_SCRIPT = f"""
import json, os, socket, sys, time
host = os.environ[{HOST_ENV!r}]
port = int(os.environ[{PORT_ENV!r}])
limit = float(os.environ[{TIMEOUT_ENV!r}])
started = time.monotonic()
while time.monotonic() - started < limit:
    try:
        socket.create_connection((host, port), timeout=0.25).close()
    except OSError:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
""".strip()

OPENED, CLOSED = 0, 1  # the gate's exit codes without a phase: 0 where it would exec the runner


def failed_closed(done: subprocess.CompletedProcess[str]) -> bool:
    """The gate refused to start the runner, and said why in its SandboxError line."""
    return done.returncode == CLOSED and "not locked down" in done.stdout


def gate_env(port: int, timeout_s: float, host: str = "127.0.0.1") -> dict[str, str]:
    return {HOST_ENV: host, PORT_ENV: str(port), **gate_settings(timeout_s)}


def run_gate(
    port: int,
    timeout_s: float,
    *,
    host: str = "127.0.0.1",
    script: str = GATE_SCRIPT,
    overrides: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The gate's script without a phase argument, as the container runs it (-I -S)."""
    env = {**gate_env(port, timeout_s, host), **(overrides or {})}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )


def refusing_port() -> socket.socket:
    """A bound socket that does not listen: every connect to it is refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    return probe


@contextmanager
def open_listener() -> Iterator[int]:
    """An open port whose server accepts every connection at once, as a kubelet does (a
    listener that never accepted would fill its queue, and then SYNs would be dropped)."""
    with _listener(backlog=128, pause_s=0.0) as port:
        yield port


@contextmanager
def slow_listener(accept_every_s: float = 0.6) -> Iterator[int]:
    """An open port whose server accepts one connection every `accept_every_s`.

    Its accept queue holds one connection (backlog 0), so while one waits there the kernel
    drops the next SYN, and the client's resend comes only after the 1 s initial RTO: each
    connect takes about a second and always succeeds, like a busy node's kubelet.
    """
    with _listener(backlog=0, pause_s=accept_every_s) as port:
        yield port


@contextmanager
def _listener(backlog: int, pause_s: float) -> Iterator[int]:
    """A loopback port that accepts (and closes) a connection, then waits `pause_s`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        for connection, _ in accepted(listener, stop):
            connection.close()
            if pause_s:
                stop.wait(pause_s)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        acceptor.join()
        listener.close()


@contextmanager
def cores_loaded(processes: int | None = None) -> Iterator[None]:
    """Every core busy with a spinning process (the load other tenants' runs put on a node)."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(processes or os.cpu_count() or 2)
    ]
    time.sleep(0.3)  # let them all start spinning
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


# Exits SETUP_FAILED when the namespace could not be set up, never a code the gate uses.
SETUP_FAILED = 70
NETNS_DRIVER = """
import socket, subprocess, sys
setup = [["ip", "link", "set", "lo", "up"]] + [["iptables", *r.split()] for r in sys.argv[2:]]
for argv in setup:
    if subprocess.run(argv).returncode != 0:
        sys.exit(70)
listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen(1024)
gate = subprocess.run([sys.executable, "-I", "-S", "-c", sys.stdin.read()])
sys.exit(gate.returncode)
"""


def netns_available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("unshare", "ip", "iptables"))


def run_gate_in_netns(
    rules: list[str],
    timeout_s: float,
    *,
    script: str = GATE_SCRIPT,
    port: int = 7000,
    overrides: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The gate in a private network namespace with a listener on `port` and `rules` (each
    an iptables argument string) in front of it: a policy enforcer made of the same parts."""
    return subprocess.run(
        ["unshare", "-n", sys.executable, "-c", NETNS_DRIVER, str(port), *rules],
        input=script,
        env={**os.environ, **gate_env(port, timeout_s), **(overrides or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
