"""`coderun run`: JSON with the API's field names; exit 0 whatever the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_languages import coderun


def test_prints_result_json_and_exits_zero_on_failure_verdict(tmp_path: Path) -> None:
    source = tmp_path / "boom.py"
    source.write_text("import sys\nprint('partial')\nsys.exit(4)\n")
    done = coderun("run", str(source))
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["sandboxErrorType"] == "RuntimeError"
    assert result["exitCode"] == 4
    assert set(result) >= {
        "status",
        "stdout",
        "stderr",
        "exitCode",
        "sandboxErrorType",
        "sandboxErrorMessage",
        "startedAt",
        "finishedAt",
        "executionTimeMs",
    }


def test_output_is_json_indented_two_with_unicode_as_is(tmp_path: Path) -> None:
    source = tmp_path / "noisy.py"
    source.write_text("import sys\nsys.stdout.buffer.write(bytes(range(256)))\nprint('\"é\\t')\n")
    done = coderun("run", str(source))
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["status"] == "success" and parsed["stdout"].endswith('"é\t\n')
    assert done.stdout == json.dumps(parsed, ensure_ascii=False, indent=2) + "\n"


def test_input_from_stdin_and_limits(tmp_path: Path) -> None:
    source = tmp_path / "echo.js"
    source.write_text(
        "process.stdin.on('data', d => process.stdout.write(d.toString().toUpperCase()))"
    )
    done = coderun(
        "run",
        str(source),
        "--input",
        "-",
        "--time-limit-ms",
        "2000",
        "--memory-limit-mb",
        "128",
        stdin="shout\n",
    )
    assert json.loads(done.stdout)["stdout"] == "SHOUT\n"


@pytest.mark.parametrize(
    "content,args,message",
    [
        ("print(1)", ["--language", "cobol"], "supported: python, javascript, cpp, java"),
        ("   \n", [], "code is empty"),
        ("x" * (64 * 1024 + 1), [], "limit is 65536 bytes"),
        ("print('\x00')", [], "NUL byte"),
        ("print(1)", ["--time-limit-ms", "5"], "time limit must be between"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    source = tmp_path / "prog.py"
    source.write_text(content)
    done = coderun("run", str(source), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_unknown_suffix_needs_language(tmp_path: Path) -> None:
    source = tmp_path / "prog.txt"
    source.write_text("print(1)")
    done = coderun("run", str(source))
    assert done.returncode == 2 and "--language" in done.stderr
    assert json.loads(coderun("run", str(source), "-l", "python").stdout)["stdout"] == "1\n"


def test_oversized_input_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "prog.py"
    source.write_text("print(len(input()))")
    big = tmp_path / "big.txt"
    big.write_text("y" * (64 * 1024 + 10))
    done = coderun("run", str(source), "--input", str(big))
    assert done.returncode == 2 and "input is" in done.stderr


ARGV_CASES = [
    ["prog.py"],
    ["-"],
    ["prog.py", "--language", "python"],
    ["prog.py", "--language=python", "-i", "in.txt"],
    ["--input", "-", "prog.py", "-l", "cpp"],
    ["prog.py", "--time-limit-ms", "2000", "--memory-limit-mb=128"],
    ["prog.py", "--time-limit-ms", "1_000"],
    ["prog.py", "-l", "java", "-l", "python"],
    ["prog.py", "--language="],
    # Everything below is for argparse alone: the plain parser must decline it.
    [],
    ["a.py", "b.py"],
    ["prog.py", "--lang", "python"],
    ["prog.py", "-lpython"],
    ["prog.py", "-l=python"],
    ["prog.py", "--time-limit-ms", "-5"],
    ["prog.py", "--time-limit-ms", "soon"],
    ["prog.py", "--input"],
    ["prog.py", "--input", "--language"],
    ["prog.py", "--help"],
    ["--", "prog.py"],
    ["-x.py"],
]


@pytest.mark.parametrize("argv", ARGV_CASES, ids=" ".join)
def test_plain_parser_agrees_with_argparse_or_declines(argv: list[str]) -> None:
    """`coderun run` reads plain command lines without argparse (start-up time); whatever it
    accepts must mean what argparse would make of it, and everything else goes to argparse."""
    import argparse

    from coderun_api.commands import run as command

    parser = argparse.ArgumentParser(exit_on_error=False)
    command.add_arguments(parser)
    plain = command.parse_common(argv)
    if plain is None:
        return  # argparse answers these (usage, help or its own error)
    parsed = parser.parse_args(argv)
    assert plain == command.RunArgs(
        parsed.file, parsed.language, parsed.input, parsed.time_limit_ms, parsed.memory_limit_mb
    )


def test_plain_parser_takes_the_common_spellings() -> None:
    from coderun_api.commands import run as command

    accepted = [argv for argv in ARGV_CASES[:9] if command.parse_common(argv) is not None]
    assert accepted == ARGV_CASES[:9]


def test_help_and_mistakes_reach_argparse(tmp_path: Path) -> None:
    assert "--memory-limit-mb" in coderun("run", "--help").stdout
    done = coderun("run", "prog.py", "--time-limit-ms", "soon")
    assert done.returncode == 2 and "invalid int value: 'soon'" in done.stderr
    done = coderun("run", "a.py", "b.py")
    assert done.returncode == 2 and "unrecognized arguments: b.py" in done.stderr
