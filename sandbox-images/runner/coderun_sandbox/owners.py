"""Which process supervises a run, and whether a supervisor is still alive.

Cgroups and work dirs carry their supervisor's token in their names, so that the first run
of a later process can remove what a crashed one left behind. The start time makes a reused
pid a different owner.
"""

from __future__ import annotations

import os


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


def owner_token() -> str:
    """`<pid>-<start ticks>` of this process."""
    return f"{os.getpid()}-{_start_ticks(os.getpid())}"


def owner_alive(token: str) -> bool:
    """False only for a well-formed token whose process is gone; anything else is not ours
    to judge."""
    pid, _, ticks = token.partition("-")
    if not pid.isdigit() or not ticks.isdigit():
        return True
    return _start_ticks(int(pid)) == ticks
