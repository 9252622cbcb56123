"""Limits that mean what docs/api.md says, through the REST API on the embedded executor.

The time limit (3 s by default) bounds the wall time of a run as well as its CPU time, with
no hidden grace: a program that sleeps past it is TLE, one that sleeps well inside it is a
success, and a success never reports more than the limit. `memoryKb` counts all of a
program's processes together (the run's cgroup peak), as it does on Kubernetes.
"""

from __future__ import annotations

from coderun_sandbox.contract import DEFAULT_TIME_LIMIT_MS

from tests.api.helpers import Api
from tests.utils.hostile_programs import children_holding

# Four children hold 40 MiB each at the same time: 160 MiB together, well inside 256 MB.
FOUR_CHILDREN_40_MIB = children_holding(4, 40, hold_s=0.8)


def test_sleeping_past_the_time_limit_is_tle(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, "import time\ntime.sleep(3.3)\nprint('woke')\n")
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "TLE"), data
    assert data["stdout"] == ""
    assert data["cpuTimeMs"] < DEFAULT_TIME_LIMIT_MS  # the wall limit ended it, not CPU


def test_sleeping_inside_the_time_limit_succeeds_within_it(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, "import time\ntime.sleep(2.5)\nprint('woke')\n")
    assert data["status"] == "success", data
    assert data["stdout"] == "woke\n"
    # runTimeMs is the program's own wall time (docs/api.md): the limit bounds it.
    assert 2500 <= data["runTimeMs"] <= DEFAULT_TIME_LIMIT_MS, data


def test_memory_of_all_processes_counts_together(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, FOUR_CHILDREN_40_MIB)
    assert data["status"] == "success", data
    # The largest single process is ~50 MiB; together they peak above 160 MiB.
    assert data["memoryKb"] >= 160 * 1024, data
