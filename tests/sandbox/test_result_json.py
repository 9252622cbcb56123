"""The result's JSON, written without the json module, is byte-equal to json.dumps'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coderun_sandbox.contract import ErrorType, RunResult, Status, dumps_flat

from .test_languages import coderun

AWKWARD = [
    "",
    'quote " backslash \\ slash /',
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "é ü 漢字 😀 \u2028 \u2029 \ufffd",
    "\ud800 lone surrogate",
    "x" * 70_000,
]


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize("indent", [None, 2])
def test_strings_escape_as_json_dumps_does(text: str, indent: int | None) -> None:
    data = {"text": text, text[:10]: 1}
    assert dumps_flat(data, indent) == json.dumps(data, ensure_ascii=False, indent=indent)


def test_every_result_value_kind() -> None:
    result = RunResult.failure(
        ErrorType.RUNTIME_ERROR, "exit 3", stdout="a\nb", exit_code=-3, stdout_truncated=True
    )
    data = result.to_json_dict()
    assert {type(v) for v in data.values()} == {str, int, bool, type(None)}
    assert result.to_json(indent=2) == json.dumps(data, ensure_ascii=False, indent=2)
    assert json.loads(result.to_json()) == data
    assert dumps_flat({}) == "{}"
    with pytest.raises(TypeError, match="not a flat JSON value"):
        dumps_flat({"x": 1.5})
    assert RunResult(Status.SUCCESS).to_json_dict()["status"] == "success"


def test_cli_output_is_what_json_dumps_prints(tmp_path: Path) -> None:
    source = tmp_path / "noisy.py"
    source.write_text("import sys\nsys.stdout.buffer.write(bytes(range(256)))\nprint('\"é\\t')\n")
    done = coderun("run", str(source))
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["status"] == "success"
    assert done.stdout == json.dumps(parsed, ensure_ascii=False, indent=2) + "\n"
