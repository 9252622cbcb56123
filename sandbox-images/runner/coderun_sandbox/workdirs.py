"""Private work dirs: made fresh for each run, removed without trusting what is inside.

A program owns its work dir's contents, so removal never follows a link, never recurses on
the Python stack (a program can nest directories thousands deep) and never trusts a path
twice: it walks directory descriptors. Work dirs are named after the supervising process,
so that the first run of a later process removes those a crashed supervisor left behind.
"""

from __future__ import annotations

import os
import stat

from .owners import owner_alive, owner_token

PREFIX = "coderun-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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


def remove_tree(path: str) -> None:
    """Delete the directory `path` and everything in it, following no symlink.

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


def sweep_dead_owners(base: str, owner_uids: tuple[int, ...]) -> int:
    """Remove the work dirs of supervisors that died mid-run; returns how many went.

    Only our own kind: a real directory (not a link), named like ours, owned by a uid we give
    work dirs to, whose supervisor is gone.
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
                remove_tree(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


_swept = False


class private_workdir:  # lower case: used like the function it replaced
    """`with private_workdir(uid) as path`: a fresh directory only this run can see, removed
    afterwards without following links. A class, not @contextlib.contextmanager, because
    contextlib is not otherwise on `coderun run`'s import path.

    `owner_uid` is the uid the directory is handed to once the source is in it (see
    runner.write_source): the sweep recognises work dirs by it.
    """

    def __init__(self, owner_uid: int | None) -> None:
        self.owner_uid = owner_uid
        self.path = ""

    def __enter__(self) -> str:
        global _swept
        base = workdir_base()
        if not _swept:
            _swept = True
            uids = (os.geteuid(),) + ((self.owner_uid,) if self.owner_uid is not None else ())
            sweep_dead_owners(base, uids)
        self.path = make_private_dir(base)
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        try:
            remove_tree(self.path)
        except OSError as error:  # the run's result still stands; say what is left behind
            import warnings

            warnings.warn(f"could not remove work dir {self.path}: {error}", RuntimeWarning, 2)
