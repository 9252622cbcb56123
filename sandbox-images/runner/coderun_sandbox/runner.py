"""The runner: take (language, code, input), return its result (docs/api.md) with an honest verdict.

The one place where compiling, running, limiting, measuring and classifying happen. The
local executor calls `execute` in-process; the Kubernetes sandbox image runs the same
functions as its entrypoint (`python3 -m coderun_sandbox`), compile and run as two phases.
"""

from __future__ import annotations

import os
import time

from .cases import BUDGET_SPENT, FreshLocalDir, ResetPodDirs, case_of, not_run, snapshot_program
from .classify import Verdict, classify_compile, classify_run
from .contract import (
    CaseResult,
    CaseStatus,
    ErrorType,
    RunRequest,
    RunResult,
    Status,
    case_output_caps,
    cases_wall_budget_ms,
    utc_now,
)
from .isolation import (
    PROGRAM_ENV,
    BubblewrapIsolation,
    ContainerIsolation,
    Isolation,
    find_program,
)
from .judge import NOT_COMPILED, SKIPPED_AFTER_FAILURE, summarize
from .languages import Language, languages
from .process import Outcome, ProcessLimits, run_limited, sealed_input
from .records import Record
from .workdirs import private_workdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from .cases import CaseJudge

MB = 1024 * 1024
# The compiler's process cap: g++ and javac start a few helpers and many threads.
COMPILE_MAX_PROCESSES = 256


def write_source(workdir: str, language: Language, code: str, owner_uid: int | None) -> None:
    """Write the program into a work dir no untrusted process has touched yet."""
    target = os.path.join(workdir, language.source_file(code))
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as handle:
        handle.write(code)
    if owner_uid is not None:
        # make_private_dir made it 0700; hand it to the sandbox user only now it holds the source.
        os.chown(workdir, owner_uid, owner_uid)


def missing_tool(argv: list[str]) -> RunResult | None:
    """A SandboxError when the toolchain is not installed: the environment's fault, found
    before the program runs, rather than a RuntimeError from a failed exec."""
    tool = argv[0]
    if "/" in tool or find_program(tool, PROGRAM_ENV["PATH"]):
        return None
    return RunResult.failure(
        ErrorType.SANDBOX_ERROR,
        f"the sandbox lacks {tool!r}: this language's toolchain is not installed",
    )


class Phase(Record):
    argv: list[str]
    limits: ProcessLimits


def _launch(phase: Phase, workdir: str, isolation: Isolation, stdin: bytes) -> Outcome:
    uid = isolation.uid
    stdin_fd = sealed_input(stdin)
    try:
        return run_limited(
            isolation.wrap(phase.argv, workdir),
            cwd=isolation.cwd(workdir),
            env=dict(PROGRAM_ENV),
            stdin_fd=stdin_fd,
            limits=phase.limits,
            uid=uid,
            gid=uid,
            use_cgroup=isinstance(isolation, BubblewrapIsolation),
            status_fd_arg=isolation.reports_status,
            nproc_by_rlimit=isolation.nproc_by_rlimit,
            in_container=isinstance(isolation, ContainerIsolation),
        )
    finally:
        os.close(stdin_fd)


def compile_phase(request: RunRequest, workdir: str, isolation: Isolation) -> RunResult | None:
    """Compile in `workdir` (source already written). None on success, else the failed result."""
    language = languages()[request.language]
    if not language.compiled:
        return None
    limits = request.limits
    phase = Phase(
        language.compile_argv(request.code, limits.memory_limit_mb, request.compiler_options),
        ProcessLimits(
            wall_s=limits.compile_time_limit_ms / 1000,
            cpu_ms=limits.compile_time_limit_ms,
            memory_bytes=limits.compile_memory_limit_mb * MB,
            max_processes=COMPILE_MAX_PROCESSES,
            output_cap=limits.output_cap_bytes,
        ),
    )
    missing = missing_tool(phase.argv)
    if missing:
        return missing
    outcome = _launch(phase, workdir, isolation, b"")
    verdict = classify_compile(outcome, limits.compile_time_limit_ms)
    if verdict.status is Status.SUCCESS:
        return None
    return _judged(verdict, outcome, compiling=True)


def _judged(verdict: Verdict, outcome: Outcome, *, compiling: bool = False) -> RunResult:
    """The result of a finished process, compile step or program alike: its verdict, what
    it printed, and its time and memory (a compile step's wall time is compileTimeMs)."""
    return RunResult(
        status=verdict.status,
        error_type=verdict.error_type,
        error_message=verdict.message,
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        exit_code=outcome.exit_code,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        stdout_truncated=outcome.stdout.truncated,
        stderr_truncated=outcome.stderr.truncated,
        compile_time_ms=outcome.wall_ms if compiling else None,
        execution_time_ms=0 if compiling else outcome.wall_ms,
        cpu_time_ms=None if compiling else outcome.cpu_ms,
        memory_kb=None if compiling else outcome.peak_memory_kb,
    )


def run_phase(
    request: RunRequest,
    workdir: str,
    isolation: Isolation,
    *,
    input_text: str | None = None,
    caps: tuple[int, int] | None = None,
) -> RunResult:
    """Run the program once: on the request's input, or (a test case) on `input_text`
    with `caps` as its (stdout, stderr) caps."""
    language = languages()[request.language]
    limits = request.limits
    stdout_cap, stderr_cap = caps or (limits.output_cap_bytes, limits.output_cap_bytes)
    phase = Phase(
        [*language.run_argv(request.code, limits.memory_limit_mb), *request.arguments],
        ProcessLimits(
            # The time limit bounds the CPU time of all the program's processes and the wall
            # time of the run alike, with no hidden grace: a success never ran longer than
            # the limit the caller was promised, sleeping or waiting included.
            wall_s=limits.time_limit_ms / 1000,
            cpu_ms=limits.time_limit_ms,
            memory_bytes=limits.memory_limit_mb * MB,
            max_processes=language.max_processes,
            output_cap=stdout_cap,
            error_cap=stderr_cap,
        ),
    )
    missing = missing_tool(phase.argv)
    if missing:
        return missing
    text = request.input if input_text is None else input_text
    outcome = _launch(phase, workdir, isolation, text.encode("utf-8", "surrogatepass"))
    verdict = classify_run(
        outcome, limits.time_limit_ms, limits.memory_limit_mb, language.oom_markers
    )
    return _judged(verdict, outcome)


def run_cases(
    request: RunRequest,
    isolation: Isolation,
    fresh_dir: Callable[[], AbstractContextManager[str]],
    on_case: CaseJudge | None = None,
) -> tuple[CaseResult, ...]:
    """Run every case (in order) and return their records.

    A case that fails does not stop the others unless `request.stop_on_failure`; the cases
    it stops are skipped. Cases not started once the cases' wall budget is spent
    (contract.cases_wall_budget_ms) fail with TLE, unrun.
    """
    stdout_cap, stderr_cap = case_output_caps(len(request.cases))
    budget_ms = cases_wall_budget_ms(len(request.cases), request.limits.time_limit_ms)
    began = time.monotonic()
    results: list[CaseResult] = []
    stopped = False
    for index, text in enumerate(request.cases):
        if stopped:
            results.append(CaseResult.skipped(index, SKIPPED_AFTER_FAILURE))
            continue
        if (time.monotonic() - began) * 1000 >= budget_ms:
            results.append(
                CaseResult(
                    case_index=index,
                    status=CaseStatus.FAILED,
                    error_type=ErrorType.TLE,
                    error_message=BUDGET_SPENT.format(budget=budget_ms),
                )
            )
            continue
        with fresh_dir() as workdir:
            ran = run_phase(
                request, workdir, isolation, input_text=text, caps=(stdout_cap, stderr_cap)
            )
        case = case_of(index, ran)
        if on_case is not None:
            case = on_case(case)
        results.append(case)
        stopped = request.stop_on_failure and case.status is not CaseStatus.SUCCESS
    return tuple(results)


def run_in_pod(
    request: RunRequest, workdir: str, isolation: Isolation, scratch: tuple[str, ...] = ("/tmp",)
) -> RunResult:
    """The sandbox pod's run container: the request's one run, or each of its cases in the
    pod's emptied work dir and `scratch` dirs (ResetPodDirs). The compile container, or
    write_source for interpreted languages, has left the program in `workdir`, and no case
    has run yet when it is read."""
    if not request.cases:
        return run_phase(request, workdir, isolation)
    language = languages()[request.language]
    files = snapshot_program(workdir, language, request.code)
    started = utc_now()
    cases = run_cases(request, isolation, lambda: ResetPodDirs(files, workdir, scratch))
    result = summarize(RunResult(status=Status.SUCCESS, started_at=started), cases)
    return result.replace(finished_at=utc_now())


def execute(
    request: RunRequest, isolation: Isolation | None = None, on_case: CaseJudge | None = None
) -> RunResult:
    """Compile and run one program (once, or once per test case); always returns a final
    result. `on_case` judges each case as it ends (the trusted side's, run_cases).

    Raises InvalidRequest for a request that cannot be run (the caller's input to fix).
    """
    request.validate(languages())
    isolation = isolation or BubblewrapIsolation()
    missing = isolation.available()
    if missing:
        return RunResult.failure(ErrorType.SANDBOX_ERROR, missing)
    started = utc_now()
    try:
        # A uid of its own for this run (uids.py), then a work dir handed to it.
        with isolation.for_run() as isolation, private_workdir(isolation.uid) as workdir:
            language = languages()[request.language]
            write_source(workdir, language, request.code, isolation.uid)
            failed = compile_phase(request, workdir, isolation)
            if failed is not None:
                if request.cases:
                    return failed.replace(test_cases=not_run(request, NOT_COMPILED))
                return failed
            compile_ms = round((utc_now() - started).total_seconds() * 1000)
            if request.cases:
                files = snapshot_program(workdir, language, request.code)
                cases = run_cases(
                    request, isolation, lambda: FreshLocalDir(files, isolation.uid), on_case
                )
                result = summarize(RunResult(status=Status.SUCCESS, started_at=started), cases)
                result = result.replace(finished_at=utc_now())
            else:
                result = run_phase(request, workdir, isolation)
            return result.replace(compile_time_ms=compile_ms) if language.compiled else result
    except OSError as error:
        return RunResult.failure(
            ErrorType.SANDBOX_ERROR,
            f"the sandbox could not run the program: {error}",
            started_at=started,
            finished_at=utc_now(),
        )
    except Exception as error:  # a bug of ours: report it, never leave the job hanging
        return RunResult.failure(
            ErrorType.INTERNAL_ERROR,
            f"internal error in the runner: {type(error).__name__}",
            started_at=started,
            finished_at=utc_now(),
        )


__all__ = ["ContainerIsolation", "compile_phase", "execute", "run_phase", "write_source"]
