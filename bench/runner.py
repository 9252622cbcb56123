"""Runner benchmark: the sandbox's per-run overhead against bare processes, in one command.

Medians over interleaved repetitions (bare, then sandboxed, then bare...), so that noise from
the machine's other work hits both sides alike. Ratios and differences, not absolutes, are
the numbers to compare between machines.
"""

from __future__ import annotations

import os
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


# What each start-up rule keeps off `coderun run` (coderun_sandbox/startup.py): fresh
# interpreters importing the run path, alone and with what a rule avoids done as well, so
# that nothing else of a run blurs a few milliseconds.
RUN_PATH = "import coderun_api.cli, coderun_api.commands.run, coderun_sandbox.runner"
ARGPARSE = (
    "import argparse; parser = argparse.ArgumentParser(); run = parser.add_subparsers()"
    ".add_parser('run'); run.add_argument('file'); run.add_argument('--language', '-l'); "
    "run.add_argument('--time-limit-ms', type=int); parser.parse_args(['run', 'x.py'])"
)
# rule -> what it avoids, done after the run path's imports
STARTUP_RULES = {
    "records.Record, not typing (2)": "import typing",
    "posix_spawn and poll, not subprocess (3)": "import subprocess",
    "parse_common, not argparse (4)": ARGPARSE,
    "the language table as Python, not TOML (6)": "import tomllib",
    "the syscall filter's cache, not libseccomp's binding (7)": "import pyseccomp",
    "a path file, not the editable finder (8)": "import importlib.util, pathlib",
    "none: json is imported": "import json",
}
# Rule 5 the other way round: the interpreter's shutdown is what os._exit skips.
FAST_EXIT = "import os; os._exit(0)"


def child_cpu_ms(argv: list[str]) -> float:
    """The CPU time (user + system) of one process: less shaken by a loaded machine than its
    wall time, which the other processes' turns on the cores stretch."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, argv
    return (usage.ru_utime + usage.ru_stime) * 1000


def startup_rules(rounds: int) -> list[str]:
    codes = {"alone": RUN_PATH, "fast exit": f"{RUN_PATH}; {FAST_EXIT}"}
    codes |= {rule: f"{RUN_PATH}; {avoided}" for rule, avoided in STARTUP_RULES.items()}
    samples: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(rounds):
        for name, code in codes.items():
            samples[name].append(child_cpu_ms([sys.executable, "-c", code]))
    m = {name: median(values) for name, values in samples.items()}
    rows = [
        "| start-up rule (coderun_sandbox/startup.py) | what it keeps off each run (CPU ms) |",
        "|---|---:|",
        *(f"| {rule} | {m[rule] - m['alone']:.1f} |" for rule in STARTUP_RULES),
        f"| os._exit, not the interpreter's shutdown (5) | {m['alone'] - m['fast exit']:.1f} |",
        "",
        f"The run path's imports alone: {m['alone']:.1f} CPU ms. Rounds: {rounds}, interleaved; "
        "a row is the median CPU time (user + system) of a fresh `python -c` importing the run "
        "path and doing what the rule avoids, less that of the imports alone (rule 5: the "
        "imports alone less the imports ending in os._exit).",
    ]
    return rows


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
        "`execute()`. Its start-up budget (docs/architecture.md, 'Start-up budget of `coderun",
        "run`') keeps what each rule below saves off every run:",
        "",
        *startup_rules(rounds),
    ]
    lines += ["", *compiled(max(3, rounds // 6))]
    return "\n".join(lines) + "\n"
