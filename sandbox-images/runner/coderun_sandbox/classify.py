"""Turn what the kernel reported about a run into its verdict (docs/api.md). Pure: no I/O.

Order matters: the kernel's own evidence (OOM kill counter, our timer, CPU accounting)
outranks anything the program printed, so a program cannot talk its way into a verdict.
Runtime OOM markers (Java's OutOfMemoryError, V8's heap exhaustion) are read only from an
abnormal exit, and only move a free failure to another free failure (RuntimeError -> MLE),
so forging one gains nothing. The sentences are verdict_messages', shared with the pod's
classifier (coderun_operator.pod_verdict).
"""

from __future__ import annotations

import signal

from . import verdict_messages as messages
from .contract import ErrorType, Status
from .process import Outcome
from .records import Record


class Verdict(Record):
    status: Status
    error_type: ErrorType | None
    message: str

    @classmethod
    def failed(cls, error_type: ErrorType, message: str) -> Verdict:
        return cls(Status.FAILED, error_type, message)


SUCCESS = Verdict(Status.SUCCESS, None, "")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def sandbox_setup_failed(outcome: Outcome) -> bool:
    """Whether the sandbox never came up. Told by a mark only the sandbox's start-up writes
    (isolation.START_SCRIPT), on a pipe the program never holds, so no output, exit code or
    signal of a program can make its own failure look like the platform's."""
    return not outcome.sandbox_started


def sandbox_failed(outcome: Outcome) -> Verdict:
    # Before the program ran, stderr holds only bubblewrap's own message.
    detail = outcome.stderr.text().strip()[:500]
    return Verdict.failed(ErrorType.SANDBOX_ERROR, messages.sandbox_failed_to_start(detail))


def classify_run(
    outcome: Outcome, time_limit_ms: int, memory_limit_mb: int, oom_markers: tuple[str, ...]
) -> Verdict:
    if sandbox_setup_failed(outcome):
        return sandbox_failed(outcome)
    if outcome.oom_killed:
        return Verdict.failed(ErrorType.MLE, messages.memory_exceeded(memory_limit_mb))
    if outcome.timed_out or outcome.cpu_ms > time_limit_ms or outcome.term_signal == signal.SIGXCPU:
        message = messages.time_exceeded(time_limit_ms, outcome.cpu_ms, outcome.wall_ms)
        return Verdict.failed(ErrorType.TLE, message)
    abnormal = outcome.exit_code != 0
    said = outcome.stderr.text() + outcome.stdout.text()[-4096:]
    if abnormal and any(marker in said for marker in oom_markers):
        return Verdict.failed(ErrorType.MLE, messages.runtime_heap_exhausted(memory_limit_mb))
    if outcome.term_signal is not None:
        return Verdict.failed(
            ErrorType.RUNTIME_ERROR,
            f"the program was killed by {signal_name(outcome.term_signal)} "
            f"(exit code {outcome.exit_code})",
        )
    if abnormal:
        # Inside bubblewrap a signal death reaches us as 128+signal, as from a shell.
        code = outcome.exit_code
        how = f" ({signal_name(code - 128)})" if 128 < code < 128 + 65 else ""
        return Verdict.failed(ErrorType.RUNTIME_ERROR, f"the program exited with code {code}{how}")
    return SUCCESS


def classify_compile(outcome: Outcome, compile_time_limit_ms: int) -> Verdict:
    if sandbox_setup_failed(outcome):
        return sandbox_failed(outcome)
    if outcome.oom_killed:
        return Verdict.failed(ErrorType.COMPILATION_ERROR, messages.compiler_out_of_memory())
    if outcome.timed_out or outcome.term_signal == signal.SIGXCPU:
        return Verdict.failed(
            ErrorType.COMPILATION_ERROR, messages.compile_timed_out(compile_time_limit_ms)
        )
    if outcome.exit_code != 0:
        detail = (outcome.stderr.text() or outcome.stdout.text()).strip()
        return Verdict.failed(ErrorType.COMPILATION_ERROR, messages.compile_failed(detail))
    return SUCCESS
