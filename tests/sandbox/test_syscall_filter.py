"""The syscall filter and the ban on user namespaces, each tried by a real program.

Every refused call must fail with its errno (never kill the program), so the verdict is the
program's own: each program here goes on and ends `success`.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from coderun_sandbox.contract import RunRequest
from coderun_sandbox.isolation import BubblewrapIsolation
from coderun_sandbox.runner import execute
from coderun_sandbox.syscall_filter import REFUSED, compile_bpf, export_bpf

from tests.utils.hostile_programs import SELF_VIEW_PY, SYSCALLS_CPP

from .conftest import RunFn


def self_view(result: dict[str, Any]) -> dict[str, Any]:
    assert result["status"] == "success", result
    view: dict[str, Any] = json.loads(result["stdout"])
    return view


def test_the_program_runs_under_the_filter_without_new_privileges(run: RunFn) -> None:
    view = self_view(run("python", SELF_VIEW_PY))
    assert (view["seccomp"], view["no_new_privs"]) == ("2", "1")


def test_no_user_namespace_by_the_tool_or_the_call(run: RunFn) -> None:
    view = self_view(run("python", SELF_VIEW_PY))
    assert view["unshare_tool"] != 0
    assert view["unshare_call"] == [-1, errno.EPERM]


def test_every_refused_call_fails_with_its_errno_and_the_program_goes_on(run: RunFn) -> None:
    result = run("cpp", SYSCALLS_CPP)
    assert result["status"] == "success", result
    answers = dict(line.split() for line in result["stdout"].splitlines())
    expected = {name: str(errno.EPERM) for name in answers}
    expected["clone3"] = str(errno.ENOSYS)  # so that glibc falls back to clone
    expected["getpid"] = "0"  # the native ABI's ordinary calls still work
    assert answers == expected


class _WithoutSeccomp(BubblewrapIsolation):
    """bubblewrap without its --seccomp option, to try --disable-userns on its own."""

    def __init__(self, disable_userns: bool) -> None:
        super().__init__()
        self.disable_userns = disable_userns

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        args = super().wrap(argv, workdir)
        at = args.index("--seccomp")
        del args[at : at + 2]
        if not self.disable_userns:
            args.remove("--disable-userns")
        return args


def test_disable_userns_alone_stops_nested_user_namespaces() -> None:
    """Each wall holds without the other: with the filter off, --disable-userns still stops
    `unshare -U`, which works in the same sandbox without it (the control)."""
    code = "import subprocess\nprint(subprocess.run(['unshare', '-U', 'true']).returncode)"
    walled = execute(RunRequest("python", code), isolation=_WithoutSeccomp(True)).to_json_dict()
    assert walled["status"] == "success", walled
    assert walled["stdout"] != "0\n", walled
    open_ = execute(RunRequest("python", code), isolation=_WithoutSeccomp(False)).to_json_dict()
    assert open_["stdout"] == "0\n", open_


def test_the_compiled_filter_is_the_policy_and_is_cached() -> None:
    assert export_bpf() == compile_bpf()
    # One BPF instruction is 8 bytes; the policy needs at least one comparison per call.
    assert len(export_bpf()) % 8 == 0 and len(export_bpf()) // 8 > len(REFUSED)
