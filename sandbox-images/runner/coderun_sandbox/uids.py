"""A uid of its own for every local run, leased from a range for as long as the run lasts.

The kernel keeps some limits per user: inotify instances and watches, user namespaces,
RLIMIT_NPROC, pending signals, SysV and POSIX queues. Runs that shared one uid shared those,
so one run could use them up for every other (128 inotify instances are a few lines of C).
The Kubernetes path gives each pod its own uid; this is the same for the local executor.

A lease is a `flock` on one file per uid, in a directory only root can enter. flock locks
belong to an open file description, so two threads of one process exclude each other as
two processes do, and the kernel drops the lock when its holder dies, however it died: a
crashed API leaks no uid. A uid is leased only once the run before it is over: its processes
are dead (their PID namespace and cgroup are gone), its work dir unmounted, and keyrings,
the one per-uid object that outlives processes, are refused by the syscall filter.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import stat

# The default range lies above every account's subordinate ids (login.defs's SUB_UID_MAX,
# 600100000 by default), so no user's namespace can map a uid a sandbox runs as, and away
# from the Kubernetes executor's (2000000 up) on machines that run both.
DEFAULT_UID_BASE = 700_000_000
DEFAULT_UID_COUNT = 4096
DEFAULT_LOCK_DIR = "/run/coderun/uids"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class NoFreeUid(OSError):
    """Every uid of the range is leased: more concurrent runs than uids."""


def uid_range() -> range:
    """The uids sandboxes run as (CODERUN_SANDBOX_UID_BASE, CODERUN_SANDBOX_UID_COUNT)."""
    base = int(os.environ.get("CODERUN_SANDBOX_UID_BASE", DEFAULT_UID_BASE))
    count = int(os.environ.get("CODERUN_SANDBOX_UID_COUNT", DEFAULT_UID_COUNT))
    if base < 1000 or count < 1 or base + count > 2**32 - 2:
        raise ValueError(f"sandbox uid range {base}+{count} must lie within 1000..2^32-2")
    return range(base, base + count)


def lock_dir() -> str:
    return os.environ.get("CODERUN_SANDBOX_UID_LOCK_DIR", DEFAULT_LOCK_DIR)


def _open_lock_dir(path: str) -> int:
    """The lock directory, made 0700 if missing; refused unless root's alone, since whoever
    can create files there could hold every lease."""
    try:
        os.makedirs(path, 0o700, exist_ok=True)
    except FileExistsError:
        pass
    fd = os.open(path, _DIR_FLAGS)
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        raise PermissionError(f"{path} must belong to uid {os.geteuid()}, writable by it alone")
    return fd


# The lock directory's descriptor, by path, opened once per process.
_dir_fds: dict[str, int] = {}
_dir_lock = _thread.allocate_lock()


def _lock_dir_fd() -> int:
    path = lock_dir()
    with _dir_lock:
        if path not in _dir_fds:
            _dir_fds[path] = _open_lock_dir(path)
        return _dir_fds[path]


class UidLease:
    """`with UidLease() as uid`: a uid no other run on this machine holds until exit."""

    def __init__(self) -> None:
        self.uid = -1
        self._fd = -1

    def __enter__(self) -> int:
        dir_fd = _lock_dir_fd()
        uids = uid_range()
        # A random first slot: concurrent runs rarely try the same uid, so a lease is
        # usually one open and one flock.
        start = int.from_bytes(os.urandom(4), "little") % len(uids)
        for step in range(len(uids)):
            uid = uids[(start + step) % len(uids)]
            fd = os.open(str(uid), _LOCK_FLAGS, 0o600, dir_fd=dir_fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return uid
        raise NoFreeUid(f"all {len(uids)} sandbox uids are in use")

    def __exit__(self, *exc_info: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # drops the flock
            self._fd = -1
