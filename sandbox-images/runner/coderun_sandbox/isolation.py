"""How a process is isolated from the host.

`BubblewrapIsolation` is the embedded default: each run gets fresh namespaces (no network at
all, own PID space, private /tmp, read-only system, nothing of the host's home, the project
or the server's environment). `ContainerIsolation` is used inside the Kubernetes sandbox
pod, where the container runtime already provides those walls and the pod spec the limits.
"""

from __future__ import annotations

import os

from .process import STATUS_FD_PLACEHOLDER

# Where the program finds its work dir, whatever the host path is.
SANDBOX_WORKDIR = "/work"
# The only environment a program sees: fixed, nothing inherited from the caller.
PROGRAM_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": SANDBOX_WORKDIR,
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}
# The uid programs run as when the runner is root (the kernel's overflow user, owns nothing).
SANDBOX_UID = int(os.environ.get("CODERUN_SANDBOX_UID", "65534"))
TMP_SIZE_BYTES = 16 * 1024 * 1024
# System paths visible read-only. /etc is not bound whole: only what toolchains need.
RO_PATHS = (
    "/usr",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/java-17-openjdk",
    "/etc/ssl/certs/java",
)
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


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

    def __init__(self, bwrap: str = "bwrap") -> None:
        self.bwrap = bwrap

    @property
    def uid(self) -> int | None:
        return SANDBOX_UID if os.geteuid() == 0 else None

    @property
    def reports_status(self) -> bool:
        return True

    @property
    def nproc_by_rlimit(self) -> bool:
        # Only as a fallback when no pids cgroup can be made (decided per run in process.py).
        return False

    def available(self) -> str | None:
        """None when usable, otherwise what is missing."""
        if find_program(self.bwrap, os.environ.get("PATH", os.defpath)) is None:
            return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        return None

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-all",  # user, ipc, pid, net, uts, cgroup namespaces: no network at all
            "--die-with-parent",
            "--new-session",  # no TIOCSTI into a terminal of ours
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            "--json-status-fd",
            STATUS_FD_PLACEHOLDER,
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
        return [*args, "--", *argv]

    def cwd(self, workdir: str) -> str:
        return workdir


class ContainerIsolation:
    """Inside the sandbox pod: the container is the wall; the program runs directly."""

    name = "container"

    @property
    def uid(self) -> int | None:
        return None

    @property
    def reports_status(self) -> bool:
        return False

    @property
    def nproc_by_rlimit(self) -> bool:
        # The operator gives every run its own uid, so RLIMIT_NPROC counts this run alone.
        return True

    def available(self) -> str | None:
        return None

    def wrap(self, argv: list[str], workdir: str) -> list[str]:
        return argv

    def cwd(self, workdir: str) -> str:
        return workdir


Isolation = BubblewrapIsolation | ContainerIsolation
