"""The words of each verdict (`sandboxErrorMessage`), for both classifiers.

The local classifier (classify.py) judges a process from what the kernel reported; the
operator's (coderun_operator.pod_verdict) judges a pod from its status and its runner's
result line. Where both reach the same verdict they say it with the same sentence, built
here. Plain functions, no imports: `coderun run` loads this module on every run.
"""

from __future__ import annotations


def memory_exceeded(limit_mb: int) -> str:
    """MLE: the kernel killed something over the limit (the run's cgroup, or the pod's)."""
    return f"memory limit exceeded: the program used more than {limit_mb} MB"


def memory_peak_exceeded(peak_kb: int, limit_mb: int) -> str:
    """MLE: the measured peak of all the program's processes was over the limit."""
    return (
        f"memory limit exceeded: the program's peak was {peak_kb // 1024} MB, "
        f"more than {limit_mb} MB"
    )


def runtime_heap_exhausted(limit_mb: int) -> str:
    """MLE: the language runtime said it ran out of heap (Java, V8), on an abnormal exit."""
    return f"memory limit exceeded: the runtime ran out of its heap (limit {limit_mb} MB)"


def time_exceeded(limit_ms: int, cpu_ms: int, wall_ms: int) -> str:
    return (
        f"time limit exceeded: the program ran longer than {limit_ms} ms "
        f"(CPU {cpu_ms} ms, wall {wall_ms} ms)"
    )


def deadline_passed(reason: str) -> str:
    """TLE: the pod's activeDeadlineSeconds backstop ended the run."""
    return f"time limit exceeded: the sandbox pod passed its deadline ({reason})"


def compiler_out_of_memory() -> str:
    return "compilation failed: the compiler ran out of memory"


def compile_timed_out(limit_ms: int) -> str:
    return f"compilation failed: it took longer than {limit_ms} ms"


def compile_failed(detail: str) -> str:
    """CompilationError with what the compiler printed (nothing: the bare sentence)."""
    return "compilation failed" + (f":\n{detail}" if detail else "")


def sandbox_failed_to_start(detail: str) -> str:
    return "the sandbox failed to start: " + detail
