"""Private work dirs: made fresh for each run, removed without trusting what is inside.

As root, a work dir is the root of a tmpfs of its own (size-limited, nosuid, nodev): the
sandbox's /proc/self/mountinfo then shows it as "/" of a file system named "coderun-work",
not as the host path (which names the supervisor's pid and start time), and removal is one
unmount that opens nothing inside. Otherwise (not root, or a sweep of plain directories) a
program owns the contents, so removal never follows a link, never recurses on the Python
stack (a program can nest directories thousands deep) and never trusts a path twice: it
walks directory descriptors. Work dirs are named after the supervising process, so that the
first run of a later process removes those a crashed supervisor left behind.
"""

from __future__ import annotations

import os
import stat
from errno import EINVAL

from .contract import MAX_MEMORY_LIMIT_MB
from .owners import owner_alive, owner_token
from .uids import uid_range

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container
    from typing import Any

PREFIX = "coderun-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8
# A backstop: a run's memory cgroup, which tmpfs pages are charged to, stops it first. The
# inode cap bounds what empty files cost, which a v1 memory cgroup may not count.
WORKDIR_SIZE_BYTES = MAX_MEMORY_LIMIT_MB * 1024 * 1024
WORKDIR_INODES = 65_536


def workdir_base() -> str:
    """Host directory for run work dirs. /dev/shm is tmpfs: what a program writes there is
    charged to its own memory cgroup, so filling "the disk" ends as MLE, not a full host disk."""
    configured = os.environ.get("CODERUN_WORKDIR_BASE")
    if configured:
        return configured
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else "/tmp"


def make_private_dir(base: str) -> str:
    """A new 0700 directory `coderun-<owner>-<random>` (mkdir fails rather than reuse one)."""
    owner = owner_token()
    while True:
        path = os.path.join(base, f"{PREFIX}{owner}-{os.urandom(8).hex()}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def _libc() -> Any:
    import ctypes  # only as root, where every run imports it anyway (process.become_subreaper)

    return ctypes.CDLL(None, use_errno=True)


def _failed(call: str, path: str) -> OSError:
    import ctypes

    code = ctypes.get_errno()
    return OSError(code, f"{call}: {os.strerror(code)}", path)  # EPERM: PermissionError, ...


def mount_tmpfs(path: str) -> None:
    """Make the empty directory `path` the root of a new tmpfs, 0700 and root's."""
    options = f"size={WORKDIR_SIZE_BYTES},nr_inodes={WORKDIR_INODES},mode=0700,uid=0,gid=0"
    flags = MS_NOSUID | MS_NODEV
    if _libc().mount(b"coderun-work", os.fsencode(path), b"tmpfs", flags, options.encode()):
        raise _failed("mount", path)


def unmount(path: str) -> bool:
    """Detach the file system mounted at `path`; False if nothing is mounted there. The path
    is the host's, above anything a program made (it sees the mount from inside), and
    UMOUNT_NOFOLLOW refuses a link in its place."""
    if _libc().umount2(os.fsencode(path), MNT_DETACH | UMOUNT_NOFOLLOW) == 0:
        return True
    error = _failed("umount2", path)
    if error.errno == EINVAL:  # not a mount point
        return False
    raise error


def remove_tree(path: str, *, keep_root: bool = False, writable: bool = False) -> None:
    """Delete the directory `path` and everything in it, following no symlink.

    With `keep_root`, `path` itself stays (emptied). With `writable`, each subdirectory is
    made 0700 before it is entered: a program running as our own uid (a sandbox pod) may
    have left one without permissions, which its owner can still change.

    Iterative, holding one descriptor at a time: each directory is read once (its files
    unlinked, its subdirectories noted), then each subdirectory is entered with O_NOFOLLOW
    relative to its parent's descriptor, and left through ".." once empty. Nothing else runs
    in the tree by then (the sandbox's processes are dead), so ".." is where it came from.
    """
    fd = os.open(path, _DIR_FLAGS)
    try:
        # One (name in parent, subdirectories still to remove) per level below `path`.
        levels: list[tuple[str, list[str]]] = [("", _unlink_files(fd))]
        while True:
            name, pending = levels[-1]
            if pending:
                child = pending.pop()
                try:
                    if writable:
                        # scandir said a directory, not a link; nothing else runs by now.
                        os.chmod(child, 0o700, dir_fd=fd)
                    sub = os.open(child, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue
                os.close(fd)
                fd = sub
                levels.append((child, _unlink_files(fd)))
                continue
            levels.pop()
            if not levels:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    if not keep_root:
        os.rmdir(path)


def _unlink_files(fd: int) -> list[str]:
    """Unlink every non-directory in the directory `fd`; return its subdirectories' names."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:
                    pass
    return subdirs


def sweep_dead_owners(base: str, owner_uids: Container[int]) -> int:
    """Remove the work dirs of supervisors that died mid-run; returns how many went.

    Only our own kind: a real directory (not a link), named like ours, owned by a uid we give
    work dirs to, whose supervisor is gone. A work dir still mounted is unmounted first.
    """
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        pid, _, rest = entry.name.removeprefix(PREFIX).partition("-")
        ticks = rest.partition("-")[0]
        if owner_alive(f"{pid}-{ticks}") or not pid.isdigit():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode) and info.st_uid in owner_uids:
                if os.geteuid() == 0:
                    unmount(entry.path)
                remove_tree(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


_swept = False
_unmounted_warned = False


def _warn_unmounted(error: OSError) -> None:
    global _unmounted_warned
    if not _unmounted_warned:
        _unmounted_warned = True
        import warnings

        warnings.warn(
            f"work dirs cannot be mounted ({error}): they are plain directories, and the "
            "sandbox's /proc/self/mountinfo shows their host path",
            RuntimeWarning,
            stacklevel=3,
        )


class _WorkdirOwners:
    """The uids a work dir of ours can belong to: ours, or one a sandbox is leased."""

    def __contains__(self, uid: object) -> bool:
        return uid == os.geteuid() or uid in uid_range()


class private_workdir:  # lower case: used like a function, in a `with` statement
    """`with private_workdir(uid) as path`: a fresh directory only this run can see, removed
    afterwards without following links. A class, not @contextlib.contextmanager, because
    contextlib is not otherwise on `coderun run`'s import path.

    `owner_uid` is the uid the directory is handed to once the source is in it (see
    runner.write_source); with it (as root), the directory is a tmpfs of its own.
    """

    def __init__(self, owner_uid: int | None) -> None:
        self.owner_uid = owner_uid
        self.path = ""
        self.mounted = False

    def __enter__(self) -> str:
        global _swept
        base = workdir_base()
        if not _swept:
            _swept = True
            sweep_dead_owners(base, _WorkdirOwners())
        self.path = make_private_dir(base)
        if self.owner_uid is not None:
            try:
                mount_tmpfs(self.path)
                self.mounted = True
            except PermissionError as error:  # root without CAP_SYS_ADMIN (a container)
                _warn_unmounted(error)
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.mounted:
                unmount(self.path)
                os.rmdir(self.path)
            else:
                remove_tree(self.path)
        except OSError as error:  # the run's result still stands; say what is left behind
            import warnings

            warnings.warn(f"could not remove work dir {self.path}: {error}", RuntimeWarning, 2)
