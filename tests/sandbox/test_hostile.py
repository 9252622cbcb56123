"""Hostile programs: each one tries to escape, starve or fool the sandbox.

After each, a normal run still works; test_hygiene checks that nothing leaked.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.listener import Listener

from .conftest import RunFn, leftovers


def host_addresses() -> list[str]:
    """Loopback plus this machine's own non-loopback IPv4 address(es)."""
    found = {"127.0.0.1"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        # connect() on UDP sends nothing; it only picks the outgoing interface address.
        try:
            probe.connect(("10.255.255.255", 1))
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(found)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    opened = [Listener(a) for a in host_addresses()]
    yield opened
    for listener in opened:
        listener.close()


def assert_still_works(run: RunFn) -> None:
    result = run("python", "print(6 * 7)")
    assert (result["status"], result["stdout"]) == ("success", "42\n"), result


def test_no_network_not_even_host_loopback(run: RunFn, listeners: list[Listener]) -> None:
    # Our own listeners work from the host: the block below is the sandbox's doing.
    for listener in listeners:
        socket.create_connection((listener.address, listener.port), timeout=5).close()
    deadline = time.monotonic() + 10
    while any(lst.accepted < 1 for lst in listeners) and time.monotonic() < deadline:
        time.sleep(0.01)
    before = [listener.accepted for listener in listeners]
    assert before == [1] * len(listeners)
    targets = [(lst.address, lst.port) for lst in listeners]
    code = f"""
import socket
for target in {targets!r}:
    try:
        socket.create_connection(tuple(target), timeout=1)
        print("CONNECTED", target)
    except OSError as error:
        print("blocked", type(error).__name__)
"""
    result = run("python", code)
    assert result["status"] == "success", result
    assert "CONNECTED" not in result["stdout"]
    assert result["stdout"].count("blocked") == len(targets)
    assert [listener.accepted for listener in listeners] == before


def test_cannot_read_runner_environment_or_host_files(
    run: RunFn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("CODERUN_TEST_CANARY", canary)
    host_file = Path.home() / f".coderun-canary-{uuid.uuid4().hex}"
    host_file.write_text(canary)
    project_file = Path(__file__).resolve()
    try:
        code = f"""
import os
print(sorted(os.environ))
for path in [{str(host_file)!r}, {str(tmp_path)!r}, {str(project_file)!r}, "/etc/shadow",
             "/etc/passwd", "/root", "/proc/1/environ"]:
    try:
        with open(path) as f: print("READ", path, f.read()[:80])
    except OSError as e:
        print("denied", path, type(e).__name__)
"""
        result = run("python", code)
    finally:
        host_file.unlink()
    assert result["status"] == "success", result
    assert canary not in result["stdout"] + result["stderr"]
    assert "CODERUN_TEST_CANARY" not in result["stdout"]
    assert "READ" not in result["stdout"].replace("READ /proc/1/environ", "")
    env_line = result["stdout"].splitlines()[0]
    assert env_line == str(sorted(["HOME", "LANG", "LC_ALL", "PATH", "PWD", "TMPDIR"]))


def test_cannot_see_other_processes(run: RunFn) -> None:
    code = """
import os
pids = [p for p in os.listdir('/proc') if p.isdigit()]
cmds = []
for p in pids:
    try:
        cmds.append(open(f'/proc/{p}/cmdline','rb').read().replace(b'\\0', b' ').decode())
    except OSError:
        pass
print(len(pids)); print(cmds)
"""
    result = run("python", code)
    assert result["status"] == "success", result
    count, cmds = result["stdout"].splitlines()
    assert int(count) <= 3  # the namespace's init and the program itself
    assert "pytest" not in cmds and "coderun" not in cmds.replace("coderun-", "")


def test_killing_the_parent_does_not_change_the_verdict(run: RunFn) -> None:
    code = """
import os, signal
print("output before")
for pid in (os.getppid(), 1, -1):
    try: os.kill(pid, signal.SIGKILL)
    except OSError as e: print("kill", pid, type(e).__name__)
print("still here")
"""
    result = run("python", code)
    # kill(-1) takes the program itself down; whatever happens, the runner reports it.
    assert result["status"] in ("success", "failed")
    assert "output before" in result["stdout"]
    assert_still_works(run)


def test_fake_result_on_stdout_is_just_output(run: RunFn) -> None:
    forged = '{"status": "failed", "sandboxErrorType": "MLE"}'
    result = run("python", f"print({forged!r})")
    assert result["status"] == "success"
    assert result["stdout"] == forged + "\n"


def test_fork_bomb_is_contained(run: RunFn) -> None:
    result = run(
        "python",
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        time_limit_ms=1500,
    )
    assert result["status"] == "failed"
    assert result["sandboxErrorType"] in ("TLE", "RuntimeError", "MLE"), result
    assert_still_works(run)
    assert leftovers()["processes"] == []


def test_thread_bomb_is_contained(run: RunFn) -> None:
    code = """
import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); n += 1
except RuntimeError as e:
    print("stopped at", n, e)
"""
    result = run("python", code, time_limit_ms=1500)
    assert "stopped at" in result["stdout"], result
    assert int(result["stdout"].split()[2]) < 200
    assert_still_works(run)


def test_huge_output_is_capped_and_flagged(run: RunFn) -> None:
    result = run(
        "python", "import sys\nwhile True: sys.stdout.write('x' * 4096)", time_limit_ms=1000
    )
    assert result["sandboxErrorType"] == "TLE"
    assert result["stdoutTruncated"] is True
    assert len(result["stdout"]) == 64 * 1024
    assert_still_works(run)


def test_filling_the_disk_stops_at_a_limit(run: RunFn) -> None:
    free_before = shutil.disk_usage("/").free
    code = """
import os
chunk = b'x' * (1 << 20)
for where in ('/work', '/tmp'):
    written = 0
    try:
        for i in range(100000):
            with open(f'{where}/fill{i}', 'wb') as f:
                for _ in range(8): f.write(chunk); written += 1
    except OSError as e:
        print(where, 'stopped after', written, 'MB:', type(e).__name__, flush=True)
"""
    result = run("python", code, time_limit_ms=3000)
    assert result["status"] == "failed" or "stopped after" in result["stdout"], result
    assert result["sandboxErrorType"] in (None, "MLE", "RuntimeError", "TLE"), result
    # Nothing reached the host disk (a generous margin for the machine's other users).
    assert shutil.disk_usage("/").free > free_before - 200 * 1024 * 1024
    assert_still_works(run)


def test_nothing_survives_for_the_next_run(run: RunFn) -> None:
    marker = uuid.uuid4().hex
    first = run(
        "python",
        f"""
import os, subprocess
for d in ('/work', '/tmp', '/dev/shm'):
    try: open(f'{{d}}/{marker}', 'w').write('x'); print('wrote', d)
    except OSError as e: print('cannot write', d)
subprocess.Popen(['sleep', '60'], start_new_session=True)
""",
    )
    assert "wrote /work" in first["stdout"], first
    second = run(
        "python",
        f"""
import os
for d in ('/work', '/tmp', '/dev/shm'):
    print(d, os.path.exists(f'{{d}}/{marker}'))
print(len([p for p in os.listdir('/proc') if p.isdigit()]))
""",
    )
    assert "True" not in second["stdout"], second
    assert leftovers()["processes"] == []


def test_invalid_utf8_output_is_replaced_not_fatal(run: RunFn) -> None:
    result = run("python", "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')")
    assert result["status"] == "success"
    assert result["stdout"] == "ok \ufffd\ufffd end\n"


def test_runs_as_unprivileged_user_without_capabilities(run: RunFn) -> None:
    result = run(
        "python",
        "import os\nprint(os.getuid())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
    )
    uid, cap_eff = result["stdout"].split()
    assert uid != "0"
    assert int(cap_eff, 16) == 0


def test_system_is_read_only(run: RunFn) -> None:
    result = run("python", "open('/usr/bin/evil', 'w')")
    assert result["sandboxErrorType"] == "RuntimeError"
    assert "Read-only file system" in result["stderr"] or "Permission denied" in result["stderr"]
    assert not os.path.exists("/usr/bin/evil")


def test_descriptors_of_the_runner_do_not_reach_the_program(
    run: RunFn, tmp_path: Path, listeners: list[Listener]
) -> None:
    """A descriptor the runner's process holds without close-on-exec (inherited from its own
    parent, or opened by a library) is closed before the program starts: bubblewrap closes
    nothing itself, and such a descriptor would cross every namespace."""
    canary = tmp_path / "runner-secret"
    canary.write_text("RUNNER-SECRET-CONTENTS")
    held = os.open(canary, os.O_RDONLY)
    sock = socket.create_connection((listeners[0].address, listeners[0].port))
    sock_fd = sock.fileno()
    os.set_inheritable(held, True)
    os.set_inheritable(sock_fd, True)
    try:
        result = run(
            "python",
            f"""
import os
fds = sorted(int(n) for n in os.listdir('/proc/self/fd'))
print(fds)
for fd in ({held}, {sock_fd}):
    try:
        print(os.read(fd, 100))
    except OSError as e:
        print('closed', fd, e.errno)
""",
        )
    finally:
        os.close(held)
        sock.close()
    assert result["status"] == "success", result
    lines = result["stdout"].splitlines()
    # 0-2 and the descriptor listdir itself opened: nothing of the runner's.
    assert lines[0] == "[0, 1, 2, 3]", lines[0]
    assert lines[1:] == [f"closed {held} 9", f"closed {sock_fd} 9"]
    assert "RUNNER-SECRET" not in result["stdout"]
