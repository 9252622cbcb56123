"""The syscall policy every sandboxed program runs under, on both executors.

Default allow, and refuse with an errno the kernel surfaces a program has no business with
and recent local privilege escalations went through. A refused call fails like any other
(the program sees EPERM/ENOSYS, never a kill), so the verdict follows from what the program
does next.

    refused                                  errno   why
    ---------------------------------------  ------  ------------------------------------------
    unshare, setns, clone with any           EPERM   new namespaces: in a user namespace of its
      CLONE_NEW* flag                                own a program holds every capability over
                                                     nf_tables, mounts, ...
    clone3                                   ENOSYS  its flags are in memory seccomp cannot
                                                     read; glibc falls back to clone on ENOSYS
    io_uring_setup, io_uring_enter,          EPERM   a large, often exploited surface; the
      io_uring_register                              runtimes fall back to threads
    mount, umount2, pivot_root, chroot,      EPERM   the file system view is the sandbox's
      fsopen, fsconfig, fsmount, fspick,
      move_mount, open_tree, mount_setattr
    bpf, perf_event_open, userfaultfd        EPERM   kernel attack surface (the verifier, perf,
                                                     widening races)
    keyctl, add_key, request_key             EPERM   keyrings are per uid and outlive the run
    kexec_load, kexec_file_load,             EPERM   replacing the kernel, loading modules
      init_module, finit_module, delete_module
    ptrace, process_vm_readv,                EPERM   reading or steering another process
      process_vm_writev
    open_by_handle_at                        EPERM   opens files by handle, around every
                                                     mount (the "shocker" escape)
    any call of a non-native ABI             EPERM   each ABI is another syscall table with
      (i386 int 0x80, x32)                           bugs of its own

Built with libseccomp (never hand-assembled BPF): Debian's `python3-seccomp` in the sandbox
images, `pyseccomp` (the same API over ctypes) in the project's venv. The library is
imported only when a filter is first needed (its import would be most of a `coderun run`'s
start-up: coderun_sandbox/startup.py), and the compiled program is kept per process and in
our package's __pycache__, tagged with this file's bytes and the machine's architecture.

Locally the program is passed to bubblewrap (`--seccomp FD`, `export_bpf`); in a pod the
runner loads it into itself just before it starts the program (`install_on_self`): a seccomp
filter needs no privilege once no_new_privs is set, and it is inherited across exec.
"""

from __future__ import annotations

import errno
import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Every CLONE_NEW* flag clone(2) takes (CLONE_NEWTIME's bit is CSIGNAL's in clone(2)'s first
# argument, so it can only come through clone3 or unshare, both refused whole).
CLONE_NEW_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
REFUSED = (
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "open_by_handle_at",
)
# Refused with ENOSYS, as if the kernel predated them, so that callers take their fallback.
UNAVAILABLE = ("clone3",)
PR_SET_NO_NEW_PRIVS = 38
CACHE_FORMAT = 1

_bpf: bytes | None = None


def _library() -> Any:
    try:
        import seccomp  # Debian's python3-seccomp, in the sandbox images
    except ImportError:
        import pyseccomp as seccomp  # PyPI, in the project's venv
    return seccomp


def build_filter() -> Any:
    """The policy as a libseccomp filter (`seccomp.SyscallFilter`) for this machine's ABI."""
    seccomp = _library()
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    # Only the native ABI is in the filter, so every other one (i386 through int 0x80; x32,
    # whose calls carry __X32_SYSCALL_BIT under x86_64's own audit arch, which libseccomp
    # checks for when x32 is absent) takes the bad-arch action, an errno instead of a kill.
    rules.set_attr(seccomp.Attr.ACT_BADARCH, refuse)
    for name in REFUSED:
        rules.add_rule(refuse, name)
    for name in UNAVAILABLE:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    # One rule per flag: libseccomp compares (arg & mask) == value, so "any of these bits"
    # is one masked comparison each.
    for flag in CLONE_NEW_FLAGS.values():
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    return rules


class _Memfd:
    """A file object for libseccomp's export, which writes to `fileno()`."""

    def __init__(self) -> None:
        self.fd = os.memfd_create("coderun-seccomp", os.MFD_CLOEXEC)

    def fileno(self) -> int:
        return self.fd


def compile_bpf() -> bytes:
    """The policy compiled by libseccomp (struct sock_filter[])."""
    sink = _Memfd()
    try:
        build_filter().export_bpf(sink)
        size = os.lseek(sink.fd, 0, os.SEEK_END)
        return os.pread(sink.fd, size, 0)
    finally:
        os.close(sink.fd)


def cache_path() -> str:
    """`__pycache__/syscall_filter.py.<format>.bpf.marshal` beside this file. That directory
    is as trusted as our code (a writer there could replace the .pyc files), which is why the
    compiled filter may be kept there and nowhere else."""
    directory, name = os.path.split(__file__)
    return os.path.join(directory, "__pycache__", f"{name}.{CACHE_FORMAT}.bpf.marshal")


def _read_cache(key: bytes) -> bytes | None:
    """The compiled filter kept for exactly `key`; None for no, another or a damaged cache."""
    try:
        with open(cache_path(), "rb") as handle:
            stored = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == key:
        return stored[1] if isinstance(stored[1], bytes) else None
    return None


def _write_cache(key: bytes, bpf: bytes) -> None:
    """Keep `bpf` for `key`, like bytecode: quietly nothing where that cannot be written."""
    cached = cache_path()
    temporary = f"{cached}.{os.urandom(6).hex()}.tmp"  # unique per writer, thread or process
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(marshal.dumps((key, bpf)))
        os.replace(temporary, cached)  # readers see the old cache or the new, never half
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _cache_key() -> bytes | None:
    """What the compiled program follows from: this file (the policy) and the architecture
    (the program checks it first). None without our source, where nothing is cached."""
    try:
        with open(__file__, "rb") as handle:
            return handle.read() + b"\0" + os.uname().machine.encode()
    except OSError:
        return None


def export_bpf(write_cache: bool | None = None) -> bytes:
    """The compiled filter, as bubblewrap's `--seccomp FD` reads it. Compiled once per
    process, or read from the cache made from this same policy on this architecture."""
    global _bpf
    if _bpf is None:
        key = _cache_key()
        cached = _read_cache(key) if key is not None else None
        if cached is not None:
            _bpf = cached
        else:
            _bpf = compile_bpf()
            writable = write_cache if write_cache is not None else not sys.dont_write_bytecode
            if key is not None and writable:
                _write_cache(key, _bpf)
    return _bpf


def install_on_self() -> None:
    """Set no_new_privs, then load the filter into the calling thread; it holds for every
    process started from here on. Raises OSError if the kernel refuses."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
    build_filter().load()


if __name__ == "__main__":
    # `python -m coderun_sandbox.syscall_filter`: write the compiled filter's cache (`make
    # bytecode`), as a regular install leaves bytecode. Only the local executor reads it: in
    # a pod the runner loads the filter into itself with libseccomp (install_on_self).
    export_bpf(write_cache=True)
