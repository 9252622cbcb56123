"""What the sandbox shows of the host: only the toolchains' files, no host configuration,
and nothing that names the host's work dir, the supervisor or bubblewrap's options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from coderun_sandbox.workdirs import workdir_base

from tests.utils.hostile_programs import SELF_VIEW_PY

from .conftest import RunFn


def self_view(run: RunFn) -> dict[str, Any]:
    result = run("python", SELF_VIEW_PY)
    assert result["status"] == "success", result
    view: dict[str, Any] = json.loads(result["stdout"])
    return view


def host_traces() -> list[str]:
    """Strings that would give the host away: the work dirs' base, the supervisor's token
    in work dir names (`coderun-<pid>-`), bubblewrap's own options."""
    return [
        workdir_base(),
        Path(workdir_base()).name,
        f"coderun-{os.getpid()}-",
        "--bind",
        "--ro-bind",
    ]


def test_no_usr_local_and_no_host_configuration(run: RunFn) -> None:
    assert Path("/usr/local/etc").is_dir()  # the host has it; the sandbox must not
    view = self_view(run)
    assert view["usr_local"] is False
    assert "local" not in view["usr"] and "src" not in view["usr"]


def test_mountinfo_does_not_name_the_host_work_dir(run: RunFn) -> None:
    mountinfo = self_view(run)["mountinfo"]
    work = [line for line in mountinfo.splitlines() if line.split()[4] == "/work"]
    assert len(work) == 1 and work[0].split()[3] == "/", work  # the root of its own tmpfs
    assert [trace for trace in host_traces() if trace in mountinfo] == []


def test_pid_1_shows_no_bubblewrap_option_nor_host_path(run: RunFn) -> None:
    cmdline = self_view(run)["pid1_cmdline"].split("\0")
    assert cmdline[:3] == ["bwrap", "--args", "6"], cmdline
    assert [trace for trace in host_traces() if trace in "\0".join(cmdline)] == []


def test_the_four_toolchains_run_with_only_this_view(run: RunFn) -> None:
    programs = {
        "python": "import ssl, zoneinfo; print(zoneinfo.ZoneInfo('Europe/Paris').key)",
        "javascript": "console.log(new Intl.DateTimeFormat('en', {timeZone: 'Asia/Tokyo'})"
        ".resolvedOptions().timeZone)",
        "cpp": '#include <bits/stdc++.h>\nint main(){ std::thread t([]{ std::puts("thread"); });'
        " t.join(); }",
        "java": "public class Main { public static void main(String[] a) throws Exception {"
        ' Thread t = new Thread(() -> System.out.println("thread")); t.start(); t.join(); } }',
    }
    expected = {
        "python": "Europe/Paris\n",
        "javascript": "Asia/Tokyo\n",
        "cpp": "thread\n",
        "java": "thread\n",
    }
    for language, code in programs.items():
        result = run(language, code)
        assert (result["status"], result["stdout"]) == ("success", expected[language]), result


WITHOUT_MOUNTS = """
import warnings
warnings.simplefilter("default")
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute
print(execute(RunRequest("python", "print('ran')")).stdout, end="")
"""


def test_root_that_cannot_mount_still_runs_and_says_what_it_lost() -> None:
    """Root without CAP_SYS_ADMIN (a container's root): work dirs stay plain directories."""
    done = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", sys.executable],
        input=WITHOUT_MOUNTS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "ran\n", done
    assert "work dirs cannot be mounted" in done.stderr, done.stderr
