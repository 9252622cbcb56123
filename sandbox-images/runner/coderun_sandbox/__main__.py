"""Entrypoint of the Kubernetes sandbox images.

    python3 -m coderun_sandbox compile   # init container: write the source, compile it
    python3 -m coderun_sandbox run       # main container: run it, print the result

The request arrives in environment variables set by the operator (CODERUN_LANGUAGE,
CODERUN_CODE, CODERUN_INPUT, CODERUN_TIME_LIMIT_MS, CODERUN_MEMORY_LIMIT_MB), so the trusted
side never writes into a volume the program can touch. The result is one JSON line on this
process's stdout, which becomes the container log the operator reads. The program cannot
write there: its stdout/stderr are pipes to us, and we are PID 1 and not dumpable, so it can
neither open /proc/1/fd/1 nor signal us.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from datetime import datetime

from .contract import (
    RUNNER_STARTED_AT,
    ErrorType,
    InvalidRequest,
    Limits,
    RunRequest,
    RunResult,
    iso_utc,
    ms_between,
    utc_now,
)
from .isolation import SANDBOX_WORKDIR, ContainerIsolation
from .languages import languages
from .runner import compile_phase, run_phase, write_source

RESULT_KEY = "coderunResult"
PR_SET_DUMPABLE = 4


def harden_self() -> None:
    """Make this process unreadable and unkillable for the program it starts."""
    libc = ctypes.CDLL(None, use_errno=True)
    # Not dumpable: /proc/self/{fd,environ,mem} become root-owned and ptrace is refused.
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # As PID 1, only signals we have handlers for are delivered from inside the container:
    # keep none (Python installs one for SIGINT).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)


def request_from_env() -> RunRequest:
    env = os.environ
    return RunRequest(
        language=env.get("CODERUN_LANGUAGE", ""),
        code=env.get("CODERUN_CODE", ""),
        input=env.get("CODERUN_INPUT", ""),
        limits=Limits(
            time_limit_ms=int(env.get("CODERUN_TIME_LIMIT_MS", "3000")),
            memory_limit_mb=int(env.get("CODERUN_MEMORY_LIMIT_MB", "256")),
            compile_time_limit_ms=int(env.get("CODERUN_COMPILE_TIME_LIMIT_MS", "10000")),
        ),
    )


def emit(payload: dict[str, object], runner_started: datetime) -> None:
    # ASCII only: a program's output travels inside this line, and characters such as
    # U+2028, U+2029 or U+0085 count as line breaks to some readers (str.splitlines), which
    # would cut the result line in two. Escaped, nothing a program prints can frame it.
    # The runner's own start (to the millisecond) goes on every line: the operator's only
    # sub-second clock for when the sandbox began the job (contract.RUNNER_STARTED_AT).
    stamped = {**payload, RUNNER_STARTED_AT: iso_utc(runner_started)}
    sys.stdout.write(json.dumps({RESULT_KEY: stamped}, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def confine_syscalls() -> str | None:
    """Load the syscall policy into this process, so the compiler or program inherits it.

    On top of the pod's RuntimeDefault profile, which differs between runtimes (containerd's
    allows io_uring): the same policy as the local sandbox. None when it holds, else why not.
    """
    try:
        from .syscall_filter import install_on_self  # here, so a missing module fails closed

        install_on_self()
    except Exception as error:  # no library, an old kernel, a refusing runtime: all fatal
        return f"the syscall filter could not be installed: {type(error).__name__}: {error}"
    return None


def main(argv: list[str]) -> int:
    phase = argv[1] if len(argv) > 1 else ""
    if phase not in ("compile", "run"):
        print("usage: python3 -m coderun_sandbox compile|run", file=sys.stderr)
        return 2
    runner_started = utc_now()
    harden_self()
    request = request_from_env()
    workdir = os.environ.get("CODERUN_WORKDIR", SANDBOX_WORKDIR)
    for key in [k for k in os.environ if k.startswith("CODERUN_")]:
        del os.environ[key]
    isolation = ContainerIsolation()
    try:
        request.validate(list(languages()))
    except InvalidRequest as error:
        invalid = RunResult.failure(ErrorType.SANDBOX_ERROR, f"invalid request: {error}")
        emit(invalid.to_json_dict(), runner_started)
        return 1
    if phase == "compile":
        write_source(workdir, languages()[request.language], request.code, None)
        refused = confine_syscalls()
        if refused is not None:
            emit(RunResult.failure(ErrorType.SANDBOX_ERROR, refused).to_json_dict(), runner_started)
            return 1
        failed = compile_phase(request, workdir, isolation)
        if failed is not None:
            emit(failed.to_json_dict(), runner_started)
            return 1
        # As the embedded executor counts it (runner.execute): from the sandbox's start,
        # source and set-up included, to the compiler's exit.
        compile_ms = ms_between(runner_started, utc_now())
        emit({"compiled": True, "compileTimeMs": compile_ms}, runner_started)
        return 0
    language = languages()[request.language]
    if not language.compiled:
        # No init container for interpreted languages: the work dir is still fresh here.
        write_source(workdir, language, request.code, None)
    # Fail closed: without the filter the program does not run at all.
    refused = confine_syscalls()
    result = (
        RunResult.failure(ErrorType.SANDBOX_ERROR, refused)
        if refused is not None
        else run_phase(request, workdir, isolation)
    )
    emit(result.to_json_dict(), runner_started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
