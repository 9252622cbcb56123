"""Start one sandboxed process under limits and watch it to the end.

This is the only place that forks. The parent never reads a file the child could have
written: output arrives over pipes (capped), input leaves through a sealed memfd, and the
child's exit, CPU time and memory come from the kernel (wait4, cgroup counters).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from .cgroups import CgroupUnavailable, RunCgroup, own_oom_kills
from .contract import MAX_FILE_BYTES, utc_now

READ_CHUNK = 65_536
# After the main process exits, give pipes this long to reach EOF once the group is killed.
DRAIN_GRACE_S = 1.0
# How often a long-running program's CPU time is compared with its limit.
CPU_POLL_S = 0.05
# How long bubblewrap gets to notice its sandbox died before everything is killed directly.
KILL_GRACE_S = 1.0
MAX_OPEN_FILES = 256
STATUS_FD_PLACEHOLDER = "{status_fd}"

_cgroup_warning_shown = False


class Limits(NamedTuple):
    wall_s: float
    cpu_ms: int
    memory_bytes: int
    max_processes: int
    output_cap: int
    file_bytes: int = MAX_FILE_BYTES


class Stream:
    """One captured output: the first `cap` bytes are kept, the rest only counted."""

    __slots__ = ("cap", "data", "total")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)

    def text(self) -> str:
        # Programs may print anything; invalid UTF-8 becomes U+FFFD instead of an error.
        return bytes(self.data).decode("utf-8", errors="replace")


class Outcome(NamedTuple):
    """What the kernel says happened to one process tree."""

    started_at: datetime
    finished_at: datetime
    wall_ms: int
    returncode: int | None  # exit status, or None if killed by a signal
    term_signal: int | None
    timed_out: bool
    cpu_ms: int
    peak_memory_kb: int | None
    oom_killed: bool
    stdout: Stream
    stderr: Stream
    # For sandboxes that report their own start-up (bubblewrap's --json-status-fd):
    # False means the sandbox failed before the program ran.
    sandbox_started: bool = True
    sandbox_exit_code: int | None = None
    cgroup_enforced: bool = True
    # True when a bubblewrap sandbox stood between us and the program.
    bubblewrapped: bool = False

    @property
    def exit_code(self) -> int:
        """The seed's exitCode: the status, or 128+signal as a shell reports it."""
        if self.term_signal is not None:
            return 128 + self.term_signal
        return self.returncode if self.returncode is not None else 0


def sealed_input(data: bytes) -> int:
    """A read-only descriptor holding `data`, for the child's stdin.

    A memfd is neither on disk nor in the work dir, so nothing the program does can swap it.
    """
    memfd = os.memfd_create("coderun-stdin", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(memfd, view) :]
        reader = os.open(f"/proc/self/fd/{memfd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(memfd)
    return reader


# Joins the cgroups named before "--", makes itself the OOM killer's first choice, then
# execs the rest. A shell and exec chain instead of subprocess's preexec_fn, which is unsafe
# in a threaded process (the API runs the runner from a thread pool): a child could deadlock
# between fork and exec on a lock another thread held. It writes "0" (itself) into each
# group's join file; see RunCgroup.join_files for why that is a v1 `tasks` file.
JOIN_SCRIPT = (
    "echo 1000 > /proc/self/oom_score_adj 2>/dev/null || true; "
    'while [ "$1" != "--" ]; do echo 0 > "$1" || exit 125; shift; done; shift; '
    'exec "$@"'
)


def launch_prefix(
    join_files: list[str],
    limits: Limits,
    uid: int | None,
    gid: int | None,
    nproc_by_rlimit: bool = False,
) -> list[str]:
    """argv that puts the command under our cgroups, rlimits and uid before it runs."""
    # A backstop a second above the limit: the verdict comes from cgroup CPU accounting
    # (polled below), which counts every thread and child, not from SIGXCPU.
    cpu_s = max(1, math.ceil(limits.cpu_ms / 1000)) + 1
    prefix = ["/bin/sh", "-c", JOIN_SCRIPT, "coderun-exec", *join_files, "--"]
    prefix += [
        "prlimit",
        f"--cpu={cpu_s}:{cpu_s + 1}",
        f"--fsize={limits.file_bytes}",
        "--core=0",
        f"--nofile={MAX_OPEN_FILES}",
    ]
    if nproc_by_rlimit or (not join_files and uid is not None):
        # No pids cgroup: RLIMIT_NPROC counts the sandbox user's processes instead.
        prefix.append(f"--nproc={limits.max_processes}")
    prefix.append("--")
    if uid is not None:
        prefix += [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid if gid is not None else uid}",
            "--clear-groups",
            "--",
        ]
    return prefix


def _make_cgroup(limits: Limits, use_cgroup: bool) -> RunCgroup | None:
    global _cgroup_warning_shown
    if not use_cgroup:
        return None
    try:
        return RunCgroup.create(limits.memory_bytes, limits.max_processes)
    except CgroupUnavailable as error:
        if not _cgroup_warning_shown:
            _cgroup_warning_shown = True
            import warnings

            warnings.warn(
                f"{error}: memory and process limits are NOT enforced (run as root to enforce)",
                RuntimeWarning,
                stacklevel=3,
            )
        return None


def run_limited(
    argv: Sequence[str],
    *,
    cwd: str,
    env: dict[str, str],
    stdin_fd: int,
    limits: Limits,
    uid: int | None = None,
    gid: int | None = None,
    use_cgroup: bool = True,
    status_fd_arg: bool = False,
    nproc_by_rlimit: bool = False,
) -> Outcome:
    """Run argv to completion or to its limits.

    With `status_fd_arg`, a pipe is passed to the child and STATUS_FD_PLACEHOLDER in argv is
    replaced by its number (for bubblewrap's --json-status-fd).
    """
    if status_fd_arg:
        become_subreaper()
    cgroup = _make_cgroup(limits, use_cgroup)
    # Without a group of our own (inside a pod), watch the container's group instead.
    oom_before = own_oom_kills() if cgroup is None else None
    status_r, status_w = os.pipe() if status_fd_arg else (-1, -1)
    stdout = Stream(limits.output_cap)
    stderr = Stream(limits.output_cap)
    status = Stream(4096)
    timed_out = False
    try:
        started = utc_now()
        t0 = time.monotonic()
        pass_fds: tuple[int, ...] = ()
        if status_fd_arg:
            pass_fds = (status_w,)
        prefix = launch_prefix(
            cgroup.join_files() if cgroup else [], limits, uid, gid, nproc_by_rlimit
        )
        with _launch_lock:  # so _sweep_orphans never mistakes this child for an orphan
            proc = subprocess.Popen(
                prefix + [a.replace(STATUS_FD_PLACEHOLDER, str(status_w)) for a in argv],
                cwd=cwd,
                env=env,
                stdin=stdin_fd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=pass_fds,
                close_fds=True,
                start_new_session=True,
            )
            _launched.add(proc.pid)
        if status_fd_arg:
            os.close(status_w)
            status_w = -1
        assert proc.stdout is not None and proc.stderr is not None
        pidfd = os.pidfd_open(proc.pid)
        selector = selectors.DefaultSelector()
        streams: dict[int, Stream] = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
        if status_fd_arg:
            streams[status_r] = status
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        selector.register(pidfd, selectors.EVENT_READ)
        deadline = t0 + limits.wall_s
        wait_status: int | None = None
        rusage: resource.struct_rusage | None = None
        finished = started
        wall_ms = 0
        drain_until = math.inf
        while streams or wait_status is None:
            now = time.monotonic()
            if wait_status is None and (now >= deadline or _over_cpu(cgroup, limits, now - t0)):
                timed_out = True
                inner = _sandbox_init_pid(status) if status_fd_arg else None
                if inner is not None:
                    # Killing the sandbox's PID-namespace init takes every process in it down,
                    # and lets bubblewrap reap it, so no zombie is handed to the host's init.
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(inner, signal.SIGKILL)
                    deadline = now + KILL_GRACE_S
                else:
                    _kill_tree(proc.pid, cgroup)
                    deadline = math.inf
            elif wait_status is None and timed_out and now >= deadline:
                _kill_tree(proc.pid, cgroup)
                deadline = math.inf
            if wait_status is not None and now >= drain_until:
                break
            wake_at = deadline if wait_status is None else drain_until
            if wait_status is None and cgroup is not None and not timed_out:
                # Poll CPU only once the program could be near its limit.
                wake_at = min(wake_at, max(now + CPU_POLL_S, t0 + limits.cpu_ms / 2000))
            timeout = None if wake_at == math.inf else max(0.0, wake_at - now)
            for key, _ in selector.select(timeout=timeout):
                fd = int(key.fd)
                if fd == pidfd:
                    _, wait_status, rusage = os.wait4(proc.pid, 0)
                    proc.returncode = os.waitstatus_to_exitcode(wait_status)
                    finished = utc_now()
                    wall_ms = round((time.monotonic() - t0) * 1000)
                    selector.unregister(pidfd)
                    # Anything the program left running (daemons, grandchildren) dies now,
                    # so the pipes reach EOF.
                    _kill_tree(proc.pid, cgroup)
                    drain_until = time.monotonic() + DRAIN_GRACE_S
                    continue
                try:
                    chunk = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if chunk:
                    streams[fd].feed(chunk)
                else:
                    selector.unregister(fd)
                    del streams[fd]
        selector.close()
        os.close(pidfd)
        with _launch_lock:
            _launched.discard(proc.pid)
        if status_fd_arg:
            _reap_orphan(_sandbox_init_pid(status))
            _sweep_orphans()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
        assert wait_status is not None and rusage is not None
        cpu_ms = round((rusage.ru_utime + rusage.ru_stime) * 1000)
        peak_kb: int | None = rusage.ru_maxrss
        oom = False
        if cgroup is not None:
            cpu_ms = max(cpu_ms, cgroup.cpu_time_ms() or 0)
            peak = cgroup.peak_memory_bytes()
            peak_kb = peak // 1024 if peak is not None else peak_kb
            oom = cgroup.oom_killed()
        elif oom_before is not None:
            oom = (own_oom_kills() or 0) > oom_before
        sandbox_started, sandbox_exit = _parse_status(status) if status_fd_arg else (True, None)
        return Outcome(
            started_at=started,
            finished_at=finished,
            wall_ms=wall_ms,
            returncode=os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None,
            term_signal=os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None,
            timed_out=timed_out,
            cpu_ms=cpu_ms,
            peak_memory_kb=peak_kb,
            oom_killed=oom,
            stdout=stdout,
            stderr=stderr,
            sandbox_started=sandbox_started,
            sandbox_exit_code=sandbox_exit,
            cgroup_enforced=cgroup is not None,
            bubblewrapped=status_fd_arg,
        )
    finally:
        for fd in (status_r, status_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if cgroup is not None:
            cgroup.destroy()


def _over_cpu(cgroup: RunCgroup | None, limits: Limits, elapsed_s: float) -> bool:
    if cgroup is None or elapsed_s * 1000 < limits.cpu_ms / 2:
        return False
    used = cgroup.cpu_time_ms()
    return used is not None and used > limits.cpu_ms


def _kill_tree(pid: int, cgroup: RunCgroup | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()


_subreaper_set = False
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our sandboxes come to us, not to the host's init.

    bubblewrap's outer process can exit before reaping the sandbox's init; on hosts whose
    PID 1 does not reap, that would leave a zombie per run. We reap it by pid (never with
    waitpid(-1), which could steal another thread's child).
    """
    global _subreaper_set
    if not _subreaper_set:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _subreaper_set = True


_launch_lock = threading.Lock()
_launched: set[int] = set()


def _sweep_orphans() -> None:
    """Reap sandbox zombies handed to us as subreaper whose own parent died first.

    That happens when a process that ran sandboxes is killed (its bubblewrap children die
    with it and are re-parented here). Only exited bubblewrap processes we did not start
    ourselves are reaped, each by pid, so no other thread's child is ever taken.
    """
    children: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.scandir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"{task.path}/children") as handle:
                children.update(int(p) for p in handle.read().split())
    with _launch_lock:
        candidates = children - _launched
    for pid in candidates:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2 :].split()[0]
        if state == "Z" and comm == "bwrap":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _reap_orphan(pid: int | None) -> None:
    if pid is None:
        return
    deadline = time.monotonic() + DRAIN_GRACE_S
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not ours (already reaped by bubblewrap)
        if done:
            return
        time.sleep(0.002)


def _status_items(status: Stream) -> list[dict[str, Any]]:
    """bubblewrap writes one JSON object per line: child-pid when the sandbox is up, then
    exit-code. The program cannot write to this pipe: it is not among its descriptors."""
    items = []
    for line in status.text().replace("}{", "}\n{").splitlines():
        with contextlib.suppress(ValueError):
            items.append(json.loads(line))
    return items


def _sandbox_init_pid(status: Stream) -> int | None:
    pids = [int(item["child-pid"]) for item in _status_items(status) if "child-pid" in item]
    return pids[0] if pids else None


def _parse_status(status: Stream) -> tuple[bool, int | None]:
    items = _status_items(status)
    codes = [int(item["exit-code"]) for item in items if "exit-code" in item]
    return any("child-pid" in item for item in items), codes[-1] if codes else None
