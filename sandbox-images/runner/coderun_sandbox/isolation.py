"""How a process is isolated from the host.

`BubblewrapIsolation` is the embedded default: each run gets fresh namespaces (no network at
all, own PID space, private /tmp, read-only system, nothing of the host's home, the project
or the server's environment), the syscall filter (syscall_filter.py), no further user
namespaces, and a uid of its own (uids.py). `ContainerIsolation` is used inside the
Kubernetes sandbox pod, where the container runtime already provides those walls and the pod
spec the limits.
"""

from __future__ import annotations

import os

# Where the program finds its work dir, whatever the host path is (a pod's too).
from .contract import SANDBOX_WORKDIR
from .process import SANDBOX_SECCOMP_FD, SANDBOX_STARTED_FD, SANDBOX_STATUS_FD, START_MARK
from .uids import UidLease

# The only environment a program sees: fixed, nothing inherited from the caller. No
# /usr/local: the sandbox does not have it (see RO_PATHS).
PROGRAM_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": SANDBOX_WORKDIR,
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}
TMP_SIZE_BYTES = 16 * 1024 * 1024
# System paths visible read-only: what the four toolchains read, found by tracing them (g++
# needs include/ and libexec/, node and Python's zoneinfo the time zones, glibc the locale
# aliases). Not /usr whole: /usr/local holds the host's own configuration and site packages
# (a .pth file there runs in every python3), /usr/share and /usr/src what nobody here reads.
# /etc is bound piecewise for the same reason.
RO_PATHS = (
    "/usr/bin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/include",
    "/usr/share/zoneinfo",
    "/usr/share/locale/locale.alias",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/java-17-openjdk",
    "/etc/ssl/certs/java",
)
MERGED_USR_LINKS = ("bin", "lib", "lib64")
# The command bubblewrap starts: it marks on SANDBOX_STARTED_FD that the sandbox is up (every
# mount made, the syscall filter loaded), closes that pipe, then becomes the program. Only
# the runner reads the pipe and the program never holds it, so a program cannot say that
# its sandbox failed: bubblewrap's own start-up errors are told apart by that mark, not by
# what stderr says. dash takes single-digit descriptors only, hence the fixed numbers.
START_SCRIPT = (
    f"printf {START_MARK.decode()} >&{SANDBOX_STARTED_FD} || exit 125; "
    f'exec {SANDBOX_STARTED_FD}>&-; exec "$@"'
)

_shared_uid_warned = False


def find_program(name: str, search_path: str) -> str | None:
    """shutil.which for an executable name, without importing shutil on every run."""
    if "/" in name:
        return name if os.access(name, os.X_OK) and not os.path.isdir(name) else None
    for directory in search_path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


class BubblewrapIsolation:
    name = "bubblewrap"
    reports_status = True
    # Only as a fallback when no pids cgroup can be made (decided per run in process.py).
    nproc_by_rlimit = False

    def __init__(self, bwrap: str = "bwrap") -> None:
        self.bwrap = bwrap
        self._uid: int | None = None

    @property
    def uid(self) -> int | None:
        """The uid this run's programs have (see `for_run`); None: the caller's own."""
        return self._uid

    def for_run(self) -> _RunUid:
        """`with isolation.for_run() as run_isolation`: this isolation with a uid leased
        for one run (compile and run phases), released at exit."""
        return _RunUid(self)

    def available(self) -> str | None:
        """None when usable, otherwise what is missing."""
        if find_program(self.bwrap, os.environ.get("PATH", os.defpath)) is None:
            return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        return None

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        """bubblewrap's command line for `argv`: [bwrap, options..., "--", command...].

        process.run_limited passes the options through a memfd (`--args`), so that the
        sandbox's PID 1 (bubblewrap's reaper) shows none of them, nor the host path of the
        work dir, in /proc/1/cmdline.
        """
        args = [
            self.bwrap,
            "--unshare-all",  # user, ipc, pid, net, uts, cgroup namespaces: no network at all
            # Explicit, as --disable-userns requires: no user namespace inside, so no
            # capability set over a namespace of its own (nf_tables, mounts, ...).
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",  # no TIOCSTI into a terminal of ours
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            "--json-status-fd",
            str(SANDBOX_STATUS_FD),
            "--seccomp",
            str(SANDBOX_SECCOMP_FD),
        ]
        for path in RO_PATHS:
            args += ["--ro-bind-try", path, path]
        for link in MERGED_USR_LINKS:
            if os.path.islink(f"/{link}"):
                args += ["--symlink", f"usr/{link}", f"/{link}"]
            elif os.path.isdir(f"/{link}"):
                args += ["--ro-bind", f"/{link}", f"/{link}"]
        args += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(TMP_SIZE_BYTES),
            "--tmpfs",
            "/tmp",
            "--bind",
            workdir,
            SANDBOX_WORKDIR,
            "--chdir",
            SANDBOX_WORKDIR,
            "--clearenv",
        ]
        for key, value in PROGRAM_ENV.items():
            args += ["--setenv", key, value]
        return [*args, "--", "/bin/sh", "-c", START_SCRIPT, "coderun-start", *argv]

    def cwd(self, workdir: str) -> str:
        return workdir


class _RunUid:
    """The lease behind `BubblewrapIsolation.for_run`. Without root there is no uid to
    switch to: programs run as the caller, which is said once per process."""

    def __init__(self, isolation: BubblewrapIsolation) -> None:
        self.isolation = isolation
        self.lease = UidLease()

    def __enter__(self) -> BubblewrapIsolation:
        if os.geteuid() != 0:
            _warn_shared_uid()
            return self.isolation
        uid = self.lease.__enter__()
        # A copy, so that one isolation object serves concurrent runs, each with its uid.
        run = object.__new__(type(self.isolation))
        run.__dict__.update(self.isolation.__dict__)
        run._uid = uid
        return run

    def __exit__(self, *exc_info: object) -> None:
        self.lease.__exit__(*exc_info)


def _warn_shared_uid() -> None:
    global _shared_uid_warned
    if not _shared_uid_warned:
        _shared_uid_warned = True
        import warnings

        warnings.warn(
            "not running as root: sandboxed programs run as this process's own uid, so "
            "concurrent runs share its per-user kernel limits (processes, inotify "
            "instances, ...) with each other and with this process",
            RuntimeWarning,
            stacklevel=3,
        )


class ContainerIsolation:
    """Inside the sandbox pod: the container is the wall; the program runs directly."""

    name = "container"
    reports_status = False
    # The operator gives every run its own uid, so RLIMIT_NPROC counts this run alone.
    nproc_by_rlimit = True

    @property
    def uid(self) -> int | None:
        return None

    def for_run(self) -> ContainerIsolation:
        """The pod is the run: its uid was chosen by the operator."""
        return self

    def __enter__(self) -> ContainerIsolation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def available(self) -> str | None:
        return None

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        return argv

    def cwd(self, workdir: str) -> str:
        return workdir


Isolation = BubblewrapIsolation | ContainerIsolation
