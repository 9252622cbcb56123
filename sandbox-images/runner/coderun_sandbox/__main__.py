"""Entrypoint of the Kubernetes sandbox images.

    python3 -m coderun_sandbox compile   # compile container: write the source, compile it
    python3 -m coderun_sandbox run       # run container: run it, print the result

Each container starts (behind the network gate, gate.py), hardens itself, says it is ready
(a READY line on its log and, where CODERUN_READY_FILE names one, a file the pod's
startupProbe looks for), then waits for its one request on stdin: the operator attaches to
the container (pods/attach, `stdin: true`, `stdinOnce: true`) and writes it framed
(contract.frame_request). A pool pod waits like this for minutes, a cold pod for a moment;
both get the request the same way. The trusted side therefore never writes into a volume
the program can touch, and no size limit of environment variables applies.

Once a whole request has arrived the runner logs RECEIVED (an operator restarted after that
follows the log instead of delivering again); a stream that ends first logs INCOMPLETE and
nothing runs. The attach stream never reaches the program: fd 0 is replaced by /dev/null
before anything starts, and the program's stdin is a sealed copy of its own input.

The result is one JSON line on this process's stdout, which becomes the container log the
operator reads. The program cannot write there: its stdout/stderr are pipes to us, and we
are PID 1 and not dumpable, so it can neither open /proc/1/fd/1 nor signal us.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from datetime import datetime

from .contract import (
    COMPILED,
    INCOMPLETE_KEY,
    READY_KEY,
    RECEIVED_KEY,
    RESULT_KEY,
    RUNNER_STARTED_AT,
    ErrorType,
    IncompleteRequest,
    InvalidRequest,
    RunRequest,
    RunResult,
    SandboxEnv,
    iso_utc,
    log_line,
    ms_between,
    read_framed_request,
    utc_now,
)
from .isolation import ContainerIsolation
from .languages import languages
from .runner import compile_phase, run_in_pod, write_source

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


def read_request() -> RunRequest:
    """The one request, read from fd 0 (unbuffered: nothing past its frame is consumed).

    Then fd 0 becomes /dev/null, so the attach stream is held by no one but the container
    runtime, whatever the program later inherits or opens."""
    try:
        return read_framed_request(lambda size: os.read(0, size))
    finally:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)


def mark_ready(ready_file: str | None) -> None:
    emit_mark(READY_KEY, {})
    if ready_file:
        # No untrusted code has run in this pod yet, so nothing can have put a link here.
        fd = os.open(ready_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)


def unmark_ready(ready_file: str | None) -> None:
    """Leave /tmp as the program should find it: empty."""
    if ready_file:
        with contextlib.suppress(OSError):
            os.unlink(ready_file)


def emit_mark(key: str, payload: dict[str, object]) -> None:
    """A progress line (READY, RECEIVED, INCOMPLETE) beside the result line; the operator
    reads it from the log (contract.*_KEY)."""
    sys.stdout.write(log_line(key, payload))
    sys.stdout.flush()


def emit(payload: dict[str, object], runner_started: datetime) -> None:
    # The result line (contract.log_line: ASCII only, so no output can frame it).
    # The runner's own start (to the millisecond) goes on every line: the operator's only
    # sub-second clock for when the sandbox began the job (contract.RUNNER_STARTED_AT).
    stamped = {**payload, RUNNER_STARTED_AT: iso_utc(runner_started)}
    sys.stdout.write(log_line(RESULT_KEY, stamped))
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
    harden_self()
    env = SandboxEnv.from_env(os.environ)
    workdir, ready_file = env.workdir, env.ready_file
    for key in [k for k in os.environ if k.startswith("CODERUN_")]:
        del os.environ[key]
    isolation = ContainerIsolation()
    mark_ready(ready_file)
    try:
        request = read_request()
    except IncompleteRequest as error:
        # Not a result line: nothing ran, and the operator must not take this for a verdict.
        emit_mark(INCOMPLETE_KEY, {"message": str(error)})
        return 3
    except InvalidRequest as error:
        invalid = RunResult.failure(ErrorType.SANDBOX_ERROR, f"invalid request: {error}")
        emit(invalid.to_json_dict(), utc_now())
        return 1
    finally:
        unmark_ready(ready_file)
    # The run begins now (for a pool pod, the container started long before).
    runner_started = utc_now()
    emit_mark(RECEIVED_KEY, {RUNNER_STARTED_AT: iso_utc(runner_started)})
    try:
        request.validate(languages())
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
        # As the embedded executor counts it (runner.execute): from the sandbox's start on
        # this run, source and set-up included, to the compiler's exit.
        compile_ms = ms_between(runner_started, utc_now())
        emit({COMPILED: True, "compileTimeMs": compile_ms}, runner_started)
        return 0
    language = languages()[request.language]
    if not language.compiled:
        # No compile container for interpreted languages: the work dir is still fresh here.
        write_source(workdir, language, request.code, None)
    # Fail closed: without the filter the program does not run at all.
    refused = confine_syscalls()
    result = (
        RunResult.failure(ErrorType.SANDBOX_ERROR, refused)
        if refused is not None
        else run_in_pod(request, workdir, isolation, (env.scratch_dir,))  # once, or once per case
    )
    emit(result.to_json_dict(), runner_started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
