"""`coderun submit FILE --url URL` as a user runs it: the real executable against the real
server, the key from CODERUN_API_KEY; usage errors exit 2, refusals 1 with the server's text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.clients.conftest import ClientServer
from tests.fixtures.services import free_port

CODERUN = str(Path(sys.executable).with_name("coderun"))


def submit(*args: str, key: str | None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CODERUN_API_KEY"}
    if key is not None:
        env["CODERUN_API_KEY"] = key
    return subprocess.run(
        [CODERUN, "submit", *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_submit_prints_the_final_result(server: ClientServer, api_key: str, tmp_path: Path) -> None:
    program = tmp_path / "rev.py"
    program.write_text("print(input()[::-1])\n")
    given = tmp_path / "in.txt"
    given.write_text("olleh\n")
    done = submit(str(program), "--url", server.base, "--input", str(given), key=api_key)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["stdout"], result["language"]) == (
        "success",
        "hello\n",
        "python",
    )

    cpp = tmp_path / "spin.cpp"
    cpp.write_text("int main(){for(;;){}}\n")
    done = submit(str(cpp), "--url", server.base, key=api_key)
    assert done.returncode == 0, done.stderr  # a verdict is not a failure of the command
    assert json.loads(done.stdout)["sandboxErrorType"] == "TLE"

    done = submit(
        "-", "--url", server.base, "-l", "javascript", key=api_key, stdin="console.log(6*7)"
    )
    assert json.loads(done.stdout)["stdout"] == "42\n"


def test_usage_errors_exit_2_and_say_what_to_fix(server: ClientServer, tmp_path: Path) -> None:
    program = tmp_path / "a.py"
    program.write_text("print(1)\n")
    cases = [
        ((str(program), "--url", server.base), None, "CODERUN_API_KEY"),
        ((str(program),), "nr_live_x", "--url"),
        ((str(program), "--url", "localhost:8000"), "nr_live_x", "http://"),
        ((str(tmp_path / "missing.py"), "--url", server.base), "nr_live_x", "missing.py"),
        ((str(tmp_path / "notes.txt"), "--url", server.base), "nr_live_x", "--language"),
        (("-", "--url", server.base, "-l", "python", "-i", "-"), "nr_live_x", "stdin"),
    ]
    for args, key, hint in cases:
        done = submit(*args, key=key)
        assert done.returncode == 2, (args, done.stderr)
        assert hint in done.stderr, (args, done.stderr)
        assert done.stdout == ""


def test_refusals_exit_1_with_the_servers_message(
    server: ClientServer, api_key: str, tmp_path: Path
) -> None:
    program = tmp_path / "a.py"
    program.write_text("print(1)\n")
    done = submit(str(program), "--url", server.base, "-l", "ruby", key=api_key)
    assert done.returncode == 1
    assert (
        "400: unsupported language 'ruby'; supported: python, javascript, cpp, java" in done.stderr
    )
    done = submit(str(program), "--url", server.base, key="nr_live_" + "x" * 43)
    assert done.returncode == 1 and "401" in done.stderr and "X-API-KEY" in done.stderr
    nobody = f"http://127.0.0.1:{free_port()}"
    done = submit(str(program), "--url", nobody, key=api_key)
    assert done.returncode == 1 and "cannot reach" in done.stderr


def test_coderun_run_still_loads_no_http_client(tmp_path: Path) -> None:
    """`coderun run` has a start-up budget: submit's imports must stay off its path (the
    interpreter's own import log of a real `coderun run`)."""
    program = tmp_path / "a.py"
    program.write_text("print(1)\n")
    start = f"import sys; sys.argv = ['coderun', 'run', {str(program)!r}]; from coderun_api.cli import console; console()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", start],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"status": "success"' in done.stdout, done.stdout + done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "coderun_sandbox.runner" in imported  # the log is real
    assert not {"httpx", "coderun_client", "coderun_api.commands.submit"} & imported
