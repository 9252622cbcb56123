"""Judge mode in the sandbox: one compiled program, run once per test case. This module
holds the cases' pieces (the program's snapshot, the fresh work dirs, a case's record);
runner.py runs them (`run_cases`, `run_in_pod`).

Each case is its own process under the full run limits (time, memory, processes, no
network), started in a fresh work dir that holds only the compiled program: a case never
sees a file an earlier case wrote, and what an earlier case left takes no memory from the
next (docs/api.md, "Test cases"). The program's files are read once, right after the
compile step and before any case ran, so no case can change what the next one runs.

The runner knows only the cases' inputs. Expected outputs stay on the trusted side
(coderun_api), which judges each case after its process ended: locally through `on_case`,
called in the API process between cases (so stopOnFirstFailure stops at a wrong answer
too), on Kubernetes from the pod's result (coderun_sandbox.judge).
"""

from __future__ import annotations

import os
import stat

from .contract import (
    MAX_FILE_BYTES,
    CaseResult,
    CaseStatus,
    RunRequest,
    RunResult,
    Status,
)
from .languages import Language
from .records import Record
from .workdirs import private_workdir, remove_tree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    # The trusted side's verdict on a case that just ended (the identity when there is none).
    CaseJudge = Callable[[CaseResult], CaseResult]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
BUDGET_SPENT = "not run: the cases' total time budget of {budget} ms was spent"


class ProgramFile(Record):
    name: str
    data: bytes
    executable: bool


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(
        name.endswith(pattern[1:]) if pattern.startswith("*") else name == pattern
        for pattern in patterns
    )


def snapshot_program(workdir: str, language: Language, code: str) -> tuple[ProgramFile, ...]:
    """The compiled program's files, read from the compile step's work dir: regular files
    at its top level named by the language's `artifacts`, opened without following links
    and never larger than a program may write. Interpreted languages: the source."""
    if not language.compiled:
        return (
            ProgramFile(language.source_file(code), code.encode("utf-8", "surrogatepass"), False),
        )
    patterns = language.artifact_names(code)
    files = []
    for entry in sorted(os.listdir(workdir)):
        if not _matches(entry, patterns):
            continue
        fd = os.open(os.path.join(workdir, entry), _READ_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                continue
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            files.append(ProgramFile(entry, b"".join(chunks), bool(info.st_mode & 0o100)))
        finally:
            os.close(fd)
    return tuple(files)


def place_program(workdir: str, files: tuple[ProgramFile, ...]) -> None:
    """Write the program's files into an empty work dir (new files: O_EXCL, no links)."""
    for item in files:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(os.path.join(workdir, item.name), flags, 0o755 if item.executable else 0o644)
        try:
            view = memoryview(item.data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


class FreshLocalDir:
    """A case's work dir on the embedded executor: a new private work dir (its own tmpfs as
    root) holding the program, handed to the run's uid, removed after the case."""

    def __init__(self, files: tuple[ProgramFile, ...], owner_uid: int | None) -> None:
        self.files = files
        self.owner_uid = owner_uid
        self.inner = private_workdir(owner_uid)

    def __enter__(self) -> str:
        path = self.inner.__enter__()
        try:
            place_program(path, self.files)
            if self.owner_uid is not None:
                os.chown(path, self.owner_uid, self.owner_uid)
        except BaseException:
            self.inner.__exit__(None, None, None)
            raise
        return path

    def __exit__(self, *exc_info: object) -> None:
        self.inner.__exit__(*exc_info)


class ResetPodDirs:
    """A case's work dir in a sandbox pod: the pod's writable places (the work dir and
    /tmp, memory-backed emptyDirs) emptied, then the program written back into the work
    dir. The program runs as the runner's uid there, so emptying them follows no link and
    first makes each directory the program left writable again (workdirs.remove_tree)."""

    def __init__(self, files: tuple[ProgramFile, ...], workdir: str, scratch: tuple[str, ...]):
        self.files = files
        self.workdir = workdir
        self.scratch = scratch

    def __enter__(self) -> str:
        for path in (self.workdir, *self.scratch):
            if os.path.isdir(path):
                remove_tree(path, keep_root=True, writable=True)
        place_program(self.workdir, self.files)
        return self.workdir

    def __exit__(self, *exc_info: object) -> None:
        pass  # the next case (or the pod's end) clears it


# What a case's record takes over from its run's result as it is: every field the two
# share but the status (a case's has its own type: it can also be skipped).
_FROM_RUN = tuple(f for f in CaseResult._fields if f in RunResult._fields and f != "status")


def case_of(index: int, result: RunResult) -> CaseResult:
    """A case's record from its run's result (the runner's verdict: no expected output)."""
    status = CaseStatus.SUCCESS if result.status is Status.SUCCESS else CaseStatus.FAILED
    shared = {field: getattr(result, field) for field in _FROM_RUN}
    return CaseResult(case_index=index, status=status, **shared)


def not_run(request: RunRequest, message: str) -> tuple[CaseResult, ...]:
    """Every case skipped: the submission failed before its cases (a compile error)."""
    return tuple(CaseResult.skipped(index, message) for index in range(len(request.cases)))
