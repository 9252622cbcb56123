"""Hostile programs against the local sandbox's walls, shared by the runner and API tests.

Each prints what it found in a form the tests parse; none of them is trusted to tell the
truth about anything but what the kernel answered it.
"""

from __future__ import annotations

# Every refused call, made with arguments that would succeed (or fail with another errno)
# without the syscall filter. Prints `name errno` per call, 0 for a success.
SYSCALLS_CPP = r"""
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static void report(const char *name, long result) {
    std::printf("%s %d\n", name, result < 0 ? errno : 0);
}

int main() {
    errno = 0;
    report("x32_getpid", syscall(0x40000000 + 39));  // __X32_SYSCALL_BIT + getpid
    long i386;
    __asm__ volatile("int $0x80" : "=a"(i386) : "a"(20) : "memory");  // i386 getpid
    std::printf("i386_getpid %ld\n", i386 < 0 ? -i386 : 0);
    unsigned long long clone_args[8] = {0, 0, 0, 0, SIGCHLD, 0, 0, 0};
    long child = syscall(435, clone_args, sizeof clone_args);  // clone3
    if (child == 0) _exit(0);
    report("clone3", child);
    unsigned char uring_params[120] = {0};
    report("io_uring_setup", syscall(425, 4, uring_params));
    report("unshare", syscall(SYS_unshare, 0x10000000));  // CLONE_NEWUSER
    child = syscall(SYS_clone, 0x40000000 | SIGCHLD, 0, 0, 0, 0);  // CLONE_NEWNET
    if (child == 0) _exit(0);
    report("clone_newnet", child);
    report("setns", syscall(SYS_setns, -1, 0));
    report("mount", syscall(SYS_mount, (char *)1, (char *)1, (char *)1, 0, 0));
    report("umount2", syscall(SYS_umount2, (char *)1, 0));
    report("fsopen", syscall(430, "tmpfs", 0));
    report("bpf", syscall(SYS_bpf, -1, 0, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, (void *)1, 0, -1, -1, 0));
    report("keyctl", syscall(SYS_keyctl, 0, -3, 0));  // KEYCTL_GET_KEYRING_ID, session
    report("add_key", syscall(SYS_add_key, "user", "coderun", "x", 1, -2));
    report("userfaultfd", syscall(SYS_userfaultfd, 1));  // UFFD_USER_MODE_ONLY
    report("ptrace", syscall(SYS_ptrace, 0, 0, 0, 0));  // PTRACE_TRACEME
    char buffer[8], source[8] = "coderun";
    struct iovec local = {buffer, 8}, remote = {source, 8};
    report("process_vm_readv", syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0));
    report("finit_module", syscall(SYS_finit_module, -1, "", 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
    std::printf("getpid %d\n", getpid() > 0 ? 0 : errno);
    return 0;
}
"""

# What the sandbox shows of itself: the seccomp mode, whether a new user namespace can be
# made (by the unshare tool and by the call itself), what PID 1 and the mount table say.
SELF_VIEW_PY = r"""
import ctypes, json, os, subprocess
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
tool = subprocess.run(["unshare", "-Urn", "true"], capture_output=True, text=True)
libc = ctypes.CDLL(None, use_errno=True)
call = libc.unshare(0x10000000)  # CLONE_NEWUSER (os.unshare is Python 3.12+)
print(json.dumps({
    "seccomp": status["Seccomp"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "unshare_tool": tool.returncode,
    "unshare_call": [call, ctypes.get_errno()],
    "uid": os.getuid(),
    "workdir_uid": os.stat("/work").st_uid,
    "pid1_cmdline": open("/proc/1/cmdline", "rb").read().decode(errors="replace"),
    "mountinfo": open("/proc/self/mountinfo").read(),
    "usr_local": os.path.exists("/usr/local"),
    "usr": sorted(os.listdir("/usr")),
}))
"""

# Takes every inotify instance the kernel allows its user, says how many, and holds them.
INOTIFY_HOG_PY = r"""
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
held = 0
while libc.inotify_init1(0) >= 0:
    held += 1
print("held", held, "errno", ctypes.get_errno(), flush=True)
time.sleep(2.5)
"""

# Needs one inotify instance; prints the descriptor or the errno.
INOTIFY_VICTIM_PY = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("inotify", fd if fd >= 0 else -ctypes.get_errno())
"""

# Claims, on stderr and by its exit code, that bubblewrap failed to set the sandbox up.
FORGED_SETUP_FAILURE_PY = (
    "import sys\n"
    'sys.stderr.write("bwrap: Can\'t mount proc on /newroot/proc: Operation not permitted\\n")\n'
    "sys.exit(1)\n"
)


def grandchildren_spinning(count: int, main_sleep_s: float) -> str:
    """`count` double-forked, setsid grandchildren that spin for 10 s while main sleeps
    `main_sleep_s` and prints "main done". Re-parented once their parents exit, they are
    none of main's children: wait4 of main sees none of their CPU."""
    return f"""\
import os, time
for _ in range({count}):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            end = time.time() + 10
            while time.time() < end:
                pass
            os._exit(0)
        os._exit(0)
time.sleep({main_sleep_s})
print("main done")
"""


def children_holding(count: int, mib: int, hold_s: float = 1) -> str:
    """`count` children that each touch `mib` MiB and hold it for `hold_s` at the same
    time, then exit; main waits for them and prints "done"."""
    return f"""\
import os, time
pids = []
for _ in range({count}):
    pid = os.fork()
    if pid == 0:
        block = bytearray({mib} << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep({hold_s})
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print("done")
"""


# Sets up an io_uring (syscall 425 on x86_64) and prints `io_uring_setup <fd> <errno>`,
# then its seccomp mode (2: a filter is loaded).
IO_URING_PY = """\
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 8, params)
print("io_uring_setup", fd, ctypes.get_errno())
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")][0])
"""
