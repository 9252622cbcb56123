"""Hostile programs against the local sandbox, through the REST API on the local executor.

The same walls tests/sandbox tries on the runner directly, reached the way a client does:
submit, then wait for the final result.
"""

from __future__ import annotations

import errno
import json
import re
import time
from pathlib import Path
from typing import Any

from tests.api.helpers import Api
from tests.utils.hostile_programs import (
    FORGED_SETUP_FAILURE_PY,
    INOTIFY_HOG_PY,
    INOTIFY_VICTIM_PY,
    SELF_VIEW_PY,
    SYSCALLS_CPP,
)


def self_view(api: Api, key: str) -> dict[str, Any]:
    data = api.run(key, SELF_VIEW_PY)
    assert data["status"] == "success", data
    view: dict[str, Any] = json.loads(data["stdout"])
    return view


def test_seccomp_on_and_no_nested_user_namespace(api: Api) -> None:
    _, key = api.new_account()
    view = self_view(api, key)
    assert (view["seccomp"], view["no_new_privs"]) == ("2", "1")
    assert view["unshare_tool"] != 0
    assert view["unshare_call"] == [-1, errno.EPERM]


def test_refused_syscalls_and_foreign_abis_fail_with_an_errno(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, SYSCALLS_CPP, language="cpp")
    assert data["status"] == "success", data
    answers = dict(line.split() for line in data["stdout"].splitlines())
    assert answers.pop("clone3") == str(errno.ENOSYS)
    assert answers.pop("getpid") == "0"
    assert set(answers.values()) == {str(errno.EPERM)}, answers
    assert {"x32_getpid", "i386_getpid", "io_uring_setup", "clone_newnet"} <= set(answers)


def test_a_run_holding_every_inotify_instance_does_not_starve_another(api: Api) -> None:
    """Two accounts, two concurrent runs (the executor's two workers)."""
    limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    _, hog_key = api.new_account("hog@example.com")
    _, victim_key = api.new_account("victim@example.com")
    hog = api.submit(hog_key, INOTIFY_HOG_PY).json()["data"]["jobId"]
    time.sleep(1.0)  # the hog holds its instances from ~0.1 s to ~2.6 s into its run
    victim = api.submit(victim_key, INOTIFY_VICTIM_PY).json()["data"]["jobId"]
    hogged, got = api.wait_final(hog_key, hog), api.wait_final(victim_key, victim)
    assert hogged["stdout"].split()[:2] == ["held", str(limit)], hogged
    assert got["status"] == "success", got
    assert int(got["stdout"].split()[1]) >= 0, got


def test_the_host_view_names_no_host_path_and_no_host_configuration(api: Api) -> None:
    _, key = api.new_account()
    view = self_view(api, key)
    assert view["usr_local"] is False
    work = [line for line in view["mountinfo"].splitlines() if line.split()[4] == "/work"]
    assert len(work) == 1 and work[0].split()[3] == "/", work
    for shown in (view["mountinfo"], view["pid1_cmdline"]):
        # Work dirs are /dev/shm/coderun-<supervisor pid>-<start time>-<random>.
        assert "/dev/shm" not in shown, shown
        assert re.search(r"coderun-[0-9]+-", shown) is None, shown
    assert view["pid1_cmdline"].split("\0")[:3] == ["bwrap", "--args", "6"]


def test_a_program_cannot_blame_the_platform(api: Api) -> None:
    _, key = api.new_account()
    data = api.run(key, FORGED_SETUP_FAILURE_PY)
    assert (data["status"], data["sandboxErrorType"]) == ("failed", "RuntimeError"), data
    assert data["stderr"].startswith("bwrap: Can't mount proc")
