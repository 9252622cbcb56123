"""The network gate script, run with this machine's python3 against real listeners on
loopback, and against real iptables rules in a private network namespace."""

from __future__ import annotations

import pytest
from coderun_operator.gate import CONNECT_TIMEOUT_ENV
from coderun_operator.pod_verdict import parse_result_line

from tests.operator.unit.gate_targets import (
    OLD_GATE_SCRIPT,
    OPENED,
    cores_loaded,
    failed_closed,
    netns_available,
    open_listener,
    refusing_port,
    run_gate,
    run_gate_in_netns,
    slow_listener,
)

# Every other SYN to the open port is dropped; the kernel resends it after its 1 s RTO.
EVERY_OTHER_SYN_LOST = [
    "-A INPUT -p tcp --syn --dport 7000 -m statistic --mode nth --every 2 --packet 0 -j DROP"
]
needs_netns = pytest.mark.skipif(
    not netns_available(), reason="needs root, unshare, ip and iptables"
)


def test_gate_opens_once_the_node_refuses() -> None:
    with refusing_port() as probe:
        done = run_gate(probe.getsockname()[1], timeout_s=5)
    assert done.returncode == OPENED, done.stdout + done.stderr


def test_gate_fails_closed_while_the_node_is_reachable() -> None:
    with open_listener() as port:
        done = run_gate(port, timeout_s=1)
    assert failed_closed(done)
    # The line the operator reads (gate.py writes the result key into the script's text).
    result = parse_result_line(done.stdout)
    assert result is not None, done.stdout
    assert result["sandboxErrorType"] == "SandboxError"
    assert "not locked down" in result["sandboxErrorMessage"]


def test_a_slow_node_does_not_open_the_gate() -> None:
    with slow_listener() as port:
        # The control: the old gate (one 0.25 s connect) takes this open port for a policy.
        assert run_gate(port, timeout_s=4, script=OLD_GATE_SCRIPT).returncode == OPENED
        done = run_gate(port, timeout_s=4)
    assert failed_closed(done), done.stdout + done.stderr


def test_a_loaded_host_does_not_open_the_gate() -> None:
    # Long enough for three full connect timeouts, so that a slow answer could open it. On
    # loopback, CPU load alone does not slow the kernel's handshake (the old gate passes
    # this too, docs/operator.md): the slow-queue and lost-SYN tests are the ones it fails.
    with open_listener() as port, cores_loaded(processes=4):
        for _ in range(3):
            done = run_gate(port, timeout_s=5)
            assert failed_closed(done), done.stdout + done.stderr


def test_an_error_that_no_policy_causes_fails_closed() -> None:
    # An address that cannot be resolved says nothing about the policy: never open on it.
    done = run_gate(10250, timeout_s=2, host="node.invalid")
    assert failed_closed(done), done.stdout + done.stderr


@needs_netns
def test_a_rejecting_policy_opens_the_gate() -> None:
    # kube-router's pod firewall ends in `-j REJECT` (icmp-port-unreachable): ECONNREFUSED.
    done = run_gate_in_netns(["-A OUTPUT -p tcp --dport 7000 -j REJECT"], timeout_s=10)
    assert done.returncode == OPENED, done.stdout + done.stderr


@needs_netns
def test_a_dropping_policy_opens_the_gate_after_repeated_timeouts() -> None:
    # Enforcers that DROP (Calico's default) answer nothing: three timeouts in a row.
    done = run_gate_in_netns(["-A OUTPUT -p tcp --dport 7000 -j DROP"], timeout_s=10)
    assert done.returncode == OPENED, done.stdout + done.stderr


@needs_netns
def test_lost_syns_on_an_open_port_do_not_open_the_gate() -> None:
    # Every other SYN to an open port is dropped: each connect succeeds on the kernel's
    # resend after 1 s. The old gate opened on the first of them.
    assert (
        run_gate_in_netns(EVERY_OTHER_SYN_LOST, timeout_s=4, script=OLD_GATE_SCRIPT).returncode
        == OPENED
    )
    done = run_gate_in_netns(EVERY_OTHER_SYN_LOST, timeout_s=6)
    assert failed_closed(done), done.stdout + done.stderr


@needs_netns
def test_one_timeout_between_successes_does_not_open_the_gate() -> None:
    # With the old 0.25 s connect, the dropped SYNs time out and the others connect, in
    # turn: one timeout at a time, never three in a row, so the count alone keeps it shut.
    quick = {CONNECT_TIMEOUT_ENV: "0.25"}
    done = run_gate_in_netns(EVERY_OTHER_SYN_LOST, timeout_s=4, overrides=quick)
    assert failed_closed(done), done.stdout + done.stderr
