"""How often the network gate opens wrongly, and what it costs: the old gate against the new.

`python -m bench.gate [tries]` prints a Markdown section (copied into
docs/operator.md, "The network gate"). Real listeners on loopback and real iptables rules
in private network namespaces (root), as in tests/operator/unit/test_gate.py:

- wrong opens: the gate pointed at a port that is open, so every open is wrong, with both
  cores loaded by spinning processes, behind a slow accept queue, and with SYNs lost;
- cost: how long the gate takes to open where the policy holds, REJECT (kube-router) and
  DROP (Calico's default).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from coderun_operator.gate import GATE_SCRIPT

from tests.operator.unit.gate_targets import (
    OLD_GATE_SCRIPT,
    OPENED,
    cores_loaded,
    open_listener,
    run_gate,
    run_gate_in_netns,
    slow_listener,
)

GATES = (("old (one 0.25 s connect)", OLD_GATE_SCRIPT), ("new (3 in a row, 1.5 s)", GATE_SCRIPT))
# Each try: the gate probes an open port this long, then gives up. Long enough for three
# full connect timeouts of the new gate, so that it could open wrongly too.
WINDOW_S = 5.0
REJECT = ["-A OUTPUT -p tcp --dport 7000 -j REJECT"]
DROP = ["-A OUTPUT -p tcp --dport 7000 -j DROP"]
LOSSY = ["-A INPUT -p tcp --syn --dport 7000 -m statistic --mode random --probability 0.3 -j DROP"]


def wrong_opens(tries: int, attempt: Callable[[str], subprocess.CompletedProcess[str]]) -> str:
    cells = []
    for _, script in GATES:
        opened = sum(attempt(script).returncode == OPENED for _ in range(tries))
        cells.append(f"{opened}/{tries}")
    return " | ".join(cells)


def open_times_ms(tries: int, rules: list[str], script: str) -> str:
    took = []
    for _ in range(tries):
        started = time.monotonic()
        done = run_gate_in_netns(rules, timeout_s=30, script=script)
        took.append((time.monotonic() - started) * 1000)
        if done.returncode != OPENED:
            return f"did not open ({done.returncode})"
    return f"{statistics.median(took):.0f}"


def main(tries: int = 20) -> str:
    rows = []
    with open_listener() as port, cores_loaded(processes=4):
        rows.append(
            "| open port, both cores loaded (4 spinners) | "
            + wrong_opens(tries, lambda s: run_gate(port, WINDOW_S, script=s))
            + " |"
        )
    with slow_listener() as port:
        rows.append(
            "| open port behind a full accept queue (each connect ~1 s) | "
            + wrong_opens(max(tries // 4, 3), lambda s: run_gate(port, WINDOW_S, script=s))
            + " |"
        )
    rows.append(
        "| open port losing 30 % of SYNs (netns) | "
        + wrong_opens(tries, lambda s: run_gate_in_netns(LOSSY, WINDOW_S, script=s))
        + " |"
    )
    # Every try pays the namespace's set-up (unshare, ip, iptables, a python3): measured
    # alone with a "gate" that exits at once, so the gate's own cost is the difference.
    baseline = open_times_ms(tries, [], "import sys; sys.exit(0)")
    cost = [
        f"| {label}, REJECT (kube-router) | {open_times_ms(tries, REJECT, script)} |"
        for label, script in GATES
    ] + [
        f"| {label}, DROP (Calico's default) | {open_times_ms(max(tries // 4, 3), DROP, script)} |"
        for label, script in GATES
    ]
    return "\n".join(
        [
            f"Wrong opens (gate pointed at an open port, {WINDOW_S:.0f} s per try):",
            "",
            "| target | " + " | ".join(label for label, _ in GATES) + " |",
            "|---|---|---|",
            *rows,
            "",
            f"Time to open where the policy holds (median ms of {tries} tries, including a "
            f"namespace set-up of {baseline} ms):",
            "",
            "| gate, policy | ms |",
            "|---|---|",
            *cost,
        ]
    )


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
