"""Runner benchmark: the sandbox's per-run overhead against bare processes, in one command.

Medians over interleaved repetitions (bare, then sandboxed, then bare...), so that noise from
the machine's other work hits both sides alike. Ratios and differences, not absolutes, are
the numbers to compare between machines.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute

HELLO_PY = "print('Hello, World!')"
HELLO_CPP = '#include <iostream>\nint main(){ std::cout << "Hello, World!" << std::endl; }\n'
HELLO_JAVA = (
    "public class Main { public static void main(String[] a) "
    '{ System.out.println("Hello, World!"); } }\n'
)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def sandboxed(language: str, code: str) -> dict[str, object]:
    result = execute(RunRequest(language, code)).to_json_dict()
    assert result["status"] == "success", result
    return result


def bare(argv: list[str], cwd: Path | None = None) -> None:
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def python_overhead(rounds: int) -> list[str]:
    coderun = str(Path(sys.executable).with_name("coderun"))
    imports = "import coderun_api.cli, coderun_api.commands.run, coderun_sandbox.runner"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "hello.py")
        source.write_text(HELLO_PY)
        samples: dict[str, list[float]] = {"bare": [], "execute": [], "cli": [], "imports": []}
        for _ in range(rounds):
            samples["bare"].append(timed(lambda: bare(["/usr/bin/python3", "-c", HELLO_PY])))
            samples["execute"].append(timed(lambda: sandboxed("python", HELLO_PY)))
            samples["cli"].append(timed(lambda: bare([coderun, "run", str(source)])))
            samples["imports"].append(timed(lambda: bare([sys.executable, "-c", imports])))
    m = {k: median(v) for k, v in samples.items()}
    return [
        "| python hello world | median wall (ms) | vs bare |",
        "|---|---:|---:|",
        f"| bare `/usr/bin/python3 -c` | {m['bare']:.1f} | 1.00x |",
        f"| `execute()` in-process (what the API's local executor calls) | {m['execute']:.1f} "
        f"| {m['execute'] / m['bare']:.2f}x |",
        f"| `coderun run hello.py` (whole CLI process) | {m['cli']:.1f} "
        f"| {m['cli'] / m['bare']:.2f}x |",
        f"| `python -c 'import <the CLI's run path>'` (start-up and imports, no run) "
        f"| {m['imports']:.1f} | {m['imports'] / m['bare']:.2f}x |",
        "",
        f"**`coderun run` overhead per run (whole CLI process - bare): "
        f"{m['cli'] - m['bare']:.1f} ms median** (target < 50 ms). Of that, the sandbox itself "
        f"(`execute()` - bare: namespaces, cgroups, rlimits, pipes, work dir, verdict) is "
        f"{m['execute'] - m['bare']:.1f} ms, which is what every run through the API pays, and "
        f"the CLI's imports are {m['imports'] - m['bare']:.1f} ms.",
        f"Rounds: {rounds}, interleaved.",
    ]


def compiled(rounds: int) -> list[str]:
    rows = [
        "| language | step | bare median (ms) | sandboxed median (ms) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "main.cpp").write_text(HELLO_CPP)
        (work / "Main.java").write_text(HELLO_JAVA)
        cases = [
            (
                "cpp",
                HELLO_CPP,
                ["g++", "-std=c++17", "-O2", "-pipe", "-o", "main", "main.cpp"],
                ["./main"],
            ),
            (
                "java",
                HELLO_JAVA,
                ["javac", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "Main.java"],
                ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", ".", "Main"],
            ),
        ]
        for language, code, compile_argv, run_argv in cases:
            bare_c, bare_r, box_c, box_r = [], [], [], []
            for _ in range(rounds):
                bare_c.append(timed(lambda a=compile_argv: bare(a, work)))  # type: ignore[misc]
                bare_r.append(timed(lambda a=run_argv: bare(a, work)))  # type: ignore[misc]
                result = sandboxed(language, code)
                box_c.append(float(result["compileTimeMs"]))  # type: ignore[arg-type]
                box_r.append(float(result["executionTimeMs"]))  # type: ignore[arg-type]
            for step, b, s in (("compile", bare_c, box_c), ("run", bare_r, box_r)):
                rows.append(
                    f"| {language} | {step} | {median(b):.0f} | {median(s):.0f} "
                    f"| {median(s) / median(b):.2f}x |"
                )
    rows.append(
        f"\nRounds: {rounds} per language, interleaved. Sandboxed times are the "
        "runner's own `compileTimeMs` / `executionTimeMs`."
    )
    return rows


def main(rounds: int = 30) -> str:
    lines = [
        "## Runner (embedded default: bubblewrap + cgroups)",
        "",
        "Reproduce: `make bench` (or `.venv/bin/python -m bench --only runner`).",
        "",
    ]
    lines += python_overhead(rounds)
    lines += [
        "",
        "What the CLI number holds: `coderun run` is a fresh Python process each time, so it pays",
        "an interpreter start (as the bare baseline does), the imports of its run path, then one",
        "`execute()`. That path imports neither typing, argparse, json, subprocess nor tomllib",
        "(docs/architecture.md, 'Start-up of `coderun run`').",
    ]
    lines += ["", *compiled(max(3, rounds // 6))]
    return "\n".join(lines) + "\n"
