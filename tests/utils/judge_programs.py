"""Programs and requests for judge-mode tests on both executors (tests/api/test_judge*.py,
tests/operator/test_judge_k8s.py)."""

from __future__ import annotations

import secrets
from typing import Any

# Reads two integers, prints their sum.
CPP_SUM = """#include <iostream>
int main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; return 0; }
"""

# One python program whose stdin says what each case does.
PY_ACTIONS = r"""
import os, sys
action = sys.stdin.read().strip()
if action == "spin":
    while True:
        pass
if action == "big":
    hog = b"x" * (400 * 1024 * 1024)  # written, so it is resident: over the 256 MB limit
    print(len(hog))
if action == "medium":
    hog = b"x" * (150 * 1024 * 1024)  # fits alone; not beside what a previous case held
    print(len(hog))
if action == "write":
    for path in ("left.txt", "/tmp/left.txt", os.path.expanduser("~/left-home.txt")):
        try:
            with open(path, "w") as handle:
                handle.write("left by an earlier case")
        except OSError:
            pass
seen = [p for p in ("left.txt", "/tmp/left.txt", os.path.expanduser("~/left-home.txt"))
        if os.path.exists(p)]
print("saw " + " ".join(seen) if seen else "clean")
"""

# Echoes its stdin exactly (comparison modes).
PY_ECHO = "import sys\nsys.stdout.write(sys.stdin.read())\n"
# A submit body whose second case is a wrong answer, with stopOnFirstFailure: the verdicts
# are success, failed (WrongAnswer), skipped on both executors.
STOP_AT_WRONG_ANSWER: dict[str, object] = {
    "code": PY_ECHO,
    "language": "python",
    "testCases": [
        {"input": "a", "expectedOutput": "a"},
        {"input": "b", "expectedOutput": "not b"},
        {"input": "c", "expectedOutput": "c"},
    ],
    "stopOnFirstFailure": True,
}

SECRET_PREFIX = "CODERUN-SECRET-"

# Searches everywhere a program can look for anything that looks like an expected output
# (SECRET_PREFIX + hex) and prints every one it finds, so that a leak would pass the case:
# its environment, argv, stdin, every file it can read (its work dir, /tmp, /dev/shm, /run,
# /var, /home, /etc and the rest of /), and /proc (other processes' environ, cmdline, open
# descriptors and memory, which the runner's non-dumpable PID 1 refuses). The prefix is put
# together at run time so that its own source and memory do not count. It reports what it
# searched on stderr.
SECRET_HUNTER = r"""
import os, re, sys, time
START = time.monotonic()
# Within the 3 s limit even on a loaded machine: it stops looking and reports in time.
BUDGET = 1.2

def out_of_time():
    return time.monotonic() - START > BUDGET
prefix = "CODERUN" + "-SECRET-"
pattern = re.compile(re.escape(prefix.encode()) + rb"[0-9a-f]{32}")
found = set()
counts = {"files": 0, "dirs": 0, "procs": 0, "fds": 0, "mem_regions": 0, "denied": 0}

def scan(data):
    for match in pattern.findall(data):
        found.add(match.decode())

def read_file(path, limit=1 << 20):
    # Non-blocking: a pipe or FIFO with a writer would otherwise hang the search.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        counts["denied"] += 1
        return
    try:
        scan(os.read(fd, limit))
        counts["files"] += 1
    except OSError:
        counts["denied"] += 1
    finally:
        os.close(fd)

scan("\0".join(f"{k}={v}" for k, v in os.environ.items()).encode())
scan("\0".join(sys.argv).encode())
scan(sys.stdin.buffer.read() if not sys.stdin.closed else b"")
me = str(os.getpid())
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    if pid == me or out_of_time():
        continue
    counts["procs"] += 1
    for name in ("environ", "cmdline"):
        read_file(f"/proc/{pid}/{name}")
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            counts["fds"] += 1
            read_file(f"/proc/{pid}/fd/{fd}", 1 << 16)
    except OSError:
        counts["denied"] += 1
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
            for line in maps:
                span, perms = line.split()[:2]
                if "r" not in perms:
                    continue
                lo, hi = (int(x, 16) for x in span.split("-"))
                try:
                    mem.seek(lo)
                    scan(mem.read(min(hi - lo, 1 << 20)))
                    counts["mem_regions"] += 1
                except (OSError, ValueError, OverflowError):
                    pass
    except OSError:
        counts["denied"] += 1
roots = [os.getcwd(), "/tmp", "/dev/shm", "/run", "/var", "/home", "/root", "/etc", "/work", "/"]
seen_dirs = set()
for root in roots:
    for directory, subdirs, files in os.walk(root, onerror=lambda e: None):
        if out_of_time():
            break
        skip = directory.startswith(("/proc", "/sys")) or (
            directory.startswith("/dev") and not directory.startswith("/dev/shm")
        )
        if skip or directory in seen_dirs:
            subdirs[:] = []
            continue
        seen_dirs.add(directory)
        counts["dirs"] += 1
        for name in files:
            if out_of_time():
                break
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                read_file(path)
print("\n".join(sorted(found)))
print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
"""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(16)


def hunter_cases() -> tuple[list[dict[str, Any]], str, str]:
    """(testCases, the secret only in case 0's stdin, the secret only in case 1's expected
    output). Case 0 shows the hunter finds what it may see (its stdin); case 1 that it
    finds nothing of an expected output, nor of the earlier case's input."""
    visible, hidden = new_secret(), new_secret()
    cases = [
        {"input": visible, "expectedOutput": visible},
        {"input": "", "expectedOutput": hidden},
    ]
    return cases, visible, hidden


def ten_sum_cases() -> list[dict[str, Any]]:
    """10 cases for CPP_SUM: 8 with the right sum, cases 3 and 7 with a wrong one."""
    cases = []
    for i in range(10):
        right = str(2 * i + 1)
        cases.append({"input": f"{i} {i + 1}\n", "expectedOutput": "0" if i in (3, 7) else right})
    return cases
