"""Start one sandboxed process under limits and watch it to the end.

This is the only place that starts processes. The parent never reads a file the child could have
written: output arrives over pipes (capped), input leaves through a sealed memfd, and the
child's exit, CPU time and memory come from the kernel (wait4, cgroup counters).
"""

from __future__ import annotations

import _thread
import fcntl
import json
import math
import os
import resource
import select
import signal
import time

from .cgroups import CgroupUnavailable, RunCgroup, own_oom_kills
from .container_usage import ContainerUsage, kill_all_but_self
from .contract import MAX_FILE_BYTES, utc_now
from .records import Record
from .syscall_filter import export_bpf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

# Nothing here imports subprocess, selectors, threading or contextlib, for the start-up
# budget of `coderun run` (coderun_sandbox/startup.py, rule 3). The child is started with
# os.posix_spawn (thread-safe, unlike fork with a preexec_fn) and watched with select.poll.

READ_CHUNK = 65_536
# After the main process exits, give pipes this long to reach EOF once the group is killed.
DRAIN_GRACE_S = 1.0
# How often a long-running program's CPU time is compared with its limit.
CPU_POLL_S = 0.05
# How long bubblewrap gets to notice its sandbox died before everything is killed directly.
KILL_GRACE_S = 1.0
MAX_OPEN_FILES = 256
# Descriptor numbers closed in a new child beyond the highest open in the parent (spawn).
CLOSE_MARGIN = 64
# The descriptors a bubblewrapped child is given besides 0-2, at these numbers (spawn's
# `pass_fds`, in this order): bubblewrap's status pipe, the pipe the sandbox marks its start
# on (isolation.START_SCRIPT), the seccomp program, and bubblewrap's options (--args).
SANDBOX_STATUS_FD = 3
SANDBOX_STARTED_FD = 4
SANDBOX_SECCOMP_FD = 5
SANDBOX_ARGS_FD = 6
# What the sandbox writes on SANDBOX_STARTED_FD once it is up, before the program exists.
START_MARK = b"1"
# Our own descriptors meant for a child are kept at or above this number, clear of the
# numbers a child is given (0-9), so that spawn's dup2s onto those clobber none of them.
LOWEST_OWN_FD = 10

_cgroup_warning_shown = False


class ProcessLimits(Record):
    """The OS limits applied to one process (wall and CPU time, memory, processes, output
    and file sizes), derived from a run's contract.RunLimits by the runner."""

    wall_s: float
    cpu_ms: int
    memory_bytes: int
    max_processes: int
    output_cap: int
    file_bytes: int = MAX_FILE_BYTES
    # stderr's own cap (judge mode's cases keep less of it); 0: the same as output_cap.
    error_cap: int = 0


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


class Outcome(Record):
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
        """The API's exitCode (docs/api.md): the status, or 128+signal as a shell reports it."""
        if self.term_signal is not None:
            return 128 + self.term_signal
        return self.returncode if self.returncode is not None else 0


def above_child_fds(fd: int) -> int:
    """`fd` itself, or a close-on-exec copy at LOWEST_OWN_FD or above in its place: a process
    started with stdin, stdout or stderr closed gets those numbers back from the kernel, and
    a child's descriptors are dup2'd onto exactly the low numbers."""
    if fd >= LOWEST_OWN_FD:
        return fd
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, LOWEST_OWN_FD)
    finally:
        os.close(fd)


def pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    return above_child_fds(read_end), above_child_fds(write_end)


def sealed_input(data: bytes, name: str = "coderun-stdin") -> int:
    """A read-only descriptor holding `data`, at offset 0: the child's stdin, or what
    bubblewrap reads (its seccomp program and options).

    A memfd is neither on disk nor in the work dir, and no writable descriptor to it is left,
    so nothing the program does can swap it.
    """
    memfd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(memfd, view) :]
        reader = os.open(f"/proc/self/fd/{memfd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(memfd)
    return above_child_fds(reader)


# Enters the work dir, joins the cgroups named before "--", makes itself the OOM killer's
# first choice, then execs the rest. A shell and exec chain instead of code run between fork
# and exec: posix_spawn has no such hook, and one (subprocess's preexec_fn) is unsafe in a
# threaded process (the API runs the runner from a thread pool): a child could deadlock on
# a lock another thread held. It writes "0" (itself) into each group's join file; see
# RunCgroup.join_files for why that is a v1 `tasks` file.
JOIN_SCRIPT = (
    'cd -- "$1" || exit 125; shift; '
    "echo 1000 > /proc/self/oom_score_adj 2>/dev/null || true; "
    'while [ "$1" != "--" ]; do echo 0 > "$1" || exit 125; shift; done; shift; '
    'exec "$@"'
)


def launch_prefix(
    cwd: str,
    join_files: list[str],
    limits: ProcessLimits,
    uid: int | None,
    gid: int | None,
    nproc_by_rlimit: bool = False,
) -> list[str]:
    """argv that puts the command under our cgroups, rlimits and uid before it runs."""
    # A backstop a second above the limit: the verdict comes from cgroup CPU accounting
    # (polled below), which counts every thread and child, not from SIGXCPU.
    cpu_s = max(1, math.ceil(limits.cpu_ms / 1000)) + 1
    prefix = ["/bin/sh", "-c", JOIN_SCRIPT, "coderun-exec", cwd, *join_files, "--"]
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


def _make_cgroup(limits: ProcessLimits, use_cgroup: bool) -> RunCgroup | None:
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


def spawn(
    argv: list[str],
    env: dict[str, str],
    stdin_fd: int,
    stdout_fd: int,
    stderr_fd: int,
    pass_fds: tuple[int, ...] = (),
) -> int:
    """Start argv in a new session with the given standard descriptors, and `pass_fds` as
    its descriptors 3, 4, ... in that order; every other descriptor is closed in the child.
    All the descriptors given must be at LOWEST_OWN_FD or above (see `pipe`), so that the
    dup2s onto the low numbers clobber none of them.

    Our own descriptors are close-on-exec already (PEP 446); the close actions cover any the
    process inherited or a library opened without O_CLOEXEC, which would otherwise cross
    every namespace bubblewrap makes (bubblewrap closes nothing itself). They close every
    number above the passed ones up to CLOSE_MARGIN past the highest one open now, not just
    those listed: a descriptor another thread opens meanwhile takes the lowest free number,
    so it is among them too (closing a number that is not open is harmless). A dup2'd copy
    is not close-on-exec, which is how the given descriptors stay open.
    """
    given = (stdin_fd, stdout_fd, stderr_fd, *pass_fds)
    if min(given) < LOWEST_OWN_FD or 3 + len(pass_fds) > LOWEST_OWN_FD:
        raise ValueError(f"spawn: descriptors {given} would clobber one another")
    actions: list[tuple[int, ...]] = [
        (os.POSIX_SPAWN_DUP2, fd, number) for number, fd in enumerate(given)
    ]
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    # glibc refuses a close action at or above the descriptor limit.
    ceiling = min(highest + CLOSE_MARGIN, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in range(len(given), ceiling)]
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=actions,
        setsid=True,
        # Python ignores SIGPIPE and SIGXFSZ for itself; a program gets the default actions,
        # as subprocess's restore_signals gives, and no blocked signals.
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        setsigmask=(),
    )


def run_limited(
    argv: Sequence[str],
    *,
    cwd: str,
    env: dict[str, str],
    stdin_fd: int,
    limits: ProcessLimits,
    uid: int | None = None,
    gid: int | None = None,
    use_cgroup: bool = True,
    status_fd_arg: bool = False,
    nproc_by_rlimit: bool = False,
    in_container: bool = False,
) -> Outcome:
    """Run argv to completion or to its limits.

    With `status_fd_arg`, argv is bubblewrap's (isolation.BubblewrapIsolation.wrap) and gets
    its descriptors (SANDBOX_*_FD, `_bubblewrap_fds`). With `in_container` (a
    sandbox pod, no per-run cgroup), CPU and memory are measured and enforced on the
    container's own cgroup (container_usage.py), and whatever the program leaves running is
    killed wherever it was re-parented.

    The wall limit has no grace: a run that was still going when `limits.wall_s` had passed
    is timed out, even when it ended before we got to look.
    """
    if status_fd_arg:
        become_subreaper()
    cgroup = _make_cgroup(limits, use_cgroup)
    # The local fallback without any group of ours (not root) only watches for OOM kills.
    oom_before = own_oom_kills() if cgroup is None and not in_container else None
    usage: ContainerUsage | None = None
    memory_exceeded = False
    stdout = Stream(limits.output_cap)
    stderr = Stream(limits.error_cap or limits.output_cap)
    status = Stream(4096)
    start_mark = Stream(64)
    timed_out = False
    opened: list[int] = []  # every descriptor of ours still open; closed in `finally`
    pid = -1
    try:
        out_r, out_w = pipe()
        opened += (out_r, out_w)
        err_r, err_w = pipe()
        opened += (err_r, err_w)
        child_fds: tuple[int, ...] = ()
        watched: dict[int, Stream] = {}
        if status_fd_arg:
            argv, child_fds, status_r, mark_r = _bubblewrap_fds(list(argv), opened)
            watched = {status_r: status, mark_r: start_mark}
        prefix = launch_prefix(
            cwd, cgroup.join_files() if cgroup else [], limits, uid, gid, nproc_by_rlimit
        )
        command = prefix + list(argv)
        if in_container:
            usage = _container_usage()
        started = utc_now()
        t0 = time.monotonic()
        with _launch_lock:  # so _sweep_orphans never mistakes this child for an orphan
            pid = spawn(command, env, stdin_fd, out_w, err_w, child_fds)
            _launched.add(pid)
        for fd in (out_w, err_w, *child_fds):
            os.close(fd)
            opened.remove(fd)
        pidfd = os.pidfd_open(pid)
        opened.append(pidfd)
        poller = select.poll()
        streams: dict[int, Stream] = {out_r: stdout, err_r: stderr, **watched}
        for fd in (*streams, pidfd):
            poller.register(fd, select.POLLIN)
        deadline = t0 + limits.wall_s
        wait_status: int | None = None
        rusage: resource.struct_rusage | None = None
        finished = started
        wall_ms = 0
        drain_until = math.inf
        while streams or wait_status is None:
            now = time.monotonic()
            stopping = wait_status is None and not (timed_out or memory_exceeded)
            if stopping and _over_memory(usage, limits):
                memory_exceeded = True
                _kill_tree(pid, cgroup, usage)
                deadline = math.inf
            elif stopping and (now >= deadline or _over_cpu(cgroup or usage, limits, now - t0)):
                timed_out = True
                inner = _sandbox_init_pid(status) if status_fd_arg else None
                if inner is not None:
                    # Killing the sandbox's PID-namespace init takes every process in it down,
                    # and lets bubblewrap reap it, so no zombie is handed to the host's init.
                    _signal(inner, signal.SIGKILL)
                    deadline = now + KILL_GRACE_S
                else:
                    _kill_tree(pid, cgroup, usage)
                    deadline = math.inf
            elif wait_status is None and timed_out and now >= deadline:
                _kill_tree(pid, cgroup, usage)
                deadline = math.inf
            if wait_status is not None and now >= drain_until:
                break
            wake_at = deadline if wait_status is None else drain_until
            if wait_status is None and cgroup is not None and not timed_out:
                # Poll CPU only once the program could be near its limit.
                wake_at = min(wake_at, max(now + CPU_POLL_S, t0 + limits.cpu_ms / 2000))
            elif wait_status is None and usage is not None and not timed_out:
                # No kernel limit at the program's own size here: sample memory all along.
                wake_at = min(wake_at, now + CPU_POLL_S)
            timeout_ms = None if wake_at == math.inf else max(0, math.ceil((wake_at - now) * 1000))
            for fd, _ in poller.poll(timeout_ms):
                if fd == pidfd:
                    _, wait_status, rusage = os.wait4(pid, 0)
                    finished = utc_now()
                    wall_ms = round((time.monotonic() - t0) * 1000)
                    if wall_ms > limits.wall_s * 1000 and not memory_exceeded:
                        # It ended past the limit (we were late to look): not a success.
                        timed_out = True
                    poller.unregister(pidfd)
                    # Anything the program left running (daemons, grandchildren) dies now,
                    # so the pipes reach EOF and nothing runs on unmeasured.
                    _kill_tree(pid, cgroup, usage)
                    drain_until = time.monotonic() + DRAIN_GRACE_S
                    continue
                # One read per wake-up, so it never blocks. POLLHUP (every writer gone) wakes
                # us too: the read then returns what is left, and b"" once it is drained.
                chunk = os.read(fd, READ_CHUNK)
                if chunk:
                    streams[fd].feed(chunk)
                else:
                    poller.unregister(fd)
                    del streams[fd]
        with _launch_lock:
            _launched.discard(pid)
        if status_fd_arg:
            _reap_orphan(_sandbox_init_pid(status))
            _sweep_orphans()
        assert wait_status is not None and rusage is not None
        cpu_ms = round((rusage.ru_utime + rusage.ru_stime) * 1000)
        peak_kb: int | None = rusage.ru_maxrss
        oom = False
        if cgroup is not None:
            cpu_ms = max(cpu_ms, cgroup.cpu_time_ms() or 0)
            peak = cgroup.peak_memory_bytes()
            peak_kb = peak // 1024 if peak is not None else peak_kb
            oom = cgroup.oom_killed()
        elif usage is not None:
            cpu_ms = max(cpu_ms, usage.cpu_time_ms() or 0)
            peak = usage.peak_memory_bytes()
            peak_kb = peak // 1024 if peak is not None else peak_kb
            # The kernel's limit here is the program's plus the runner's allowance, so a
            # peak between the two is judged by us, as the kernel would judge it locally.
            over = peak is not None and peak > limits.memory_bytes
            oom = memory_exceeded or over or usage.oom_killed()
        elif oom_before is not None:
            oom = (own_oom_kills() or 0) > oom_before
        # Only the mark says the sandbox came up: bubblewrap reports its child before the
        # mounts that can still fail, and stderr is the program's to write.
        sandbox_started = start_mark.data.startswith(START_MARK) if status_fd_arg else True
        sandbox_exit = _sandbox_exit_code(status) if status_fd_arg else None
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
        for fd in opened:
            try:
                os.close(fd)
            except OSError:
                pass
        if pid > 0 and pid in _launched:
            # We are leaving on an exception with the child possibly alive: kill and reap it.
            _kill_tree(pid, cgroup, usage)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            with _launch_lock:
                _launched.discard(pid)
        if cgroup is not None:
            cgroup.destroy()


def _container_usage() -> ContainerUsage | None:
    usage = ContainerUsage()
    if usage.measurable:
        return usage
    import warnings

    warnings.warn(
        "the container's cgroup is not readable: CPU and memory are measured per process "
        "only (wait4), so processes the program re-parents are not counted",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def _over_cpu(
    meter: RunCgroup | ContainerUsage | None, limits: ProcessLimits, elapsed_s: float
) -> bool:
    """Whether every process of the program together has used more CPU than its limit."""
    if meter is None or elapsed_s * 1000 < limits.cpu_ms / 2:
        return False
    used = meter.cpu_time_ms()
    return used is not None and used > limits.cpu_ms


def _over_memory(usage: ContainerUsage | None, limits: ProcessLimits) -> bool:
    """Whether the program's processes together hold more memory than its limit (pods only:
    a per-run cgroup's own limit makes the kernel judge that)."""
    if usage is None:
        return False
    used = usage.memory_bytes()
    return used is not None and used > limits.memory_bytes


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_tree(pid: int, cgroup: RunCgroup | None, usage: ContainerUsage | None = None) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if cgroup is not None:
        cgroup.kill_all()
    if usage is not None:
        # A setsid grandchild has left our process group; in a pod it is still ours to kill.
        kill_all_but_self()


_subreaper_set = False
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our sandboxes come to us, not to the host's init.

    bubblewrap's outer process can exit before reaping the sandbox's init; on hosts whose
    PID 1 does not reap, that would leave a zombie per run. We reap it by pid (never with
    waitpid(-1), which could steal another thread's child). A host's PID 1 need not reap (a
    container's often does not), so even a one-shot `coderun run` needs this (ctypes is
    loaded only here)."""
    global _subreaper_set
    if not _subreaper_set:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _subreaper_set = True


_launch_lock = _thread.allocate_lock()
_launched: set[int] = set()


def _sweep_orphans() -> None:
    """Reap sandbox zombies handed to us as subreaper whose own parent died first.

    That happens when a process that ran sandboxes is killed (its bubblewrap children die
    with it and are re-parented here). Only exited bubblewrap processes we did not start
    ourselves are reaped, each by pid, so no other thread's child is ever taken.
    """
    children: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        tasks = []
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children.update(int(p) for p in handle.read().split())
        except OSError:
            continue
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
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


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


def _status_members(status: Stream, member: str) -> list[int]:
    """One integer member of bubblewrap's status objects, in order. bubblewrap writes one JSON
    object per line: `{ "child-pid": 12 }` when the sandbox is up (with namespace ids), then
    `{ "exit-code": 0 }`. The program cannot write to this pipe: it is not among its
    descriptors."""
    values = []
    for line in status.text().replace("}{", "}\n{").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        value = item.get(member) if isinstance(item, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            values.append(value)
    return values


def _sandbox_init_pid(status: Stream) -> int | None:
    pids = _status_members(status, "child-pid")
    return pids[0] if pids else None


def _sandbox_exit_code(status: Stream) -> int | None:
    codes = _status_members(status, "exit-code")
    return codes[-1] if codes else None


def _bubblewrap_fds(
    argv: list[str], opened: list[int]
) -> tuple[list[str], tuple[int, ...], int, int]:
    """What a bubblewrap sandbox is started with: `argv` with its options moved into a
    memfd (`--args`, so that /proc/1/cmdline inside shows none of them), and the child's
    descriptors in SANDBOX_*_FD order. Returns (argv, child descriptors, status pipe's read
    end, start mark pipe's read end); every descriptor opened is added to `opened`."""
    status_r, status_w = pipe()
    opened += (status_r, status_w)
    mark_r, mark_w = pipe()
    opened += (mark_r, mark_w)
    seccomp = sealed_input(export_bpf(), "coderun-seccomp")
    opened.append(seccomp)
    end = argv.index("--")
    options = sealed_input(b"".join(os.fsencode(a) + b"\0" for a in argv[1:end]), "coderun-args")
    opened.append(options)
    command = [argv[0], "--args", str(SANDBOX_ARGS_FD), *argv[end:]]
    return command, (status_w, mark_w, seccomp, options), status_r, mark_r
