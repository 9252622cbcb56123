"""Judge mode: does a program's output match the expected output? Pure string functions.

Runs on the trusted side only (coderun_api, after the case's process ended): the expected
output never enters a sandbox. Modes (docs/api.md, "Comparison modes"):

- `exact`: byte for byte;
- `trimmed` (the default): trailing whitespace on each line and trailing blank lines are
  ignored (so "\\r\\n" line ends and a missing last newline do not matter);
- `tokens`: the whitespace-separated tokens are equal;
- `float`: as `tokens`, but two numeric tokens are equal when they differ by at most the
  absolute tolerance or by at most the relative tolerance times the expected value.
"""

from __future__ import annotations

import enum
import math
import re

from .records import Record

DEFAULT_ABSOLUTE_TOLERANCE = 1e-6
DEFAULT_RELATIVE_TOLERANCE = 1e-6
# A decimal number as judges print them; "nan", "inf" and hex floats are compared as text.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# How much of a differing line a verdict message quotes.
QUOTE_CHARS = 60


class CompareMode(enum.StrEnum):
    EXACT = "exact"
    TRIMMED = "trimmed"
    TOKENS = "tokens"
    FLOAT = "float"


class Tolerance(Record):
    absolute: float = DEFAULT_ABSOLUTE_TOLERANCE
    relative: float = DEFAULT_RELATIVE_TOLERANCE


class Comparison(Record):
    matched: bool
    # For a mismatch: where, for a person (quotes at most QUOTE_CHARS of each side).
    detail: str = ""


def _quote(text: str) -> str:
    return repr(text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…")


def trimmed_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _compare_lines(actual: list[str], expected: list[str]) -> Comparison:
    for number, (got, want) in enumerate(zip(actual, expected, strict=False), start=1):
        if got != want:
            return Comparison(False, f"line {number}: expected {_quote(want)}, got {_quote(got)}")
    lines, wanted = len(actual), len(expected)
    if lines < wanted:
        return Comparison(
            False,
            f"the output ends after {lines} lines; "
            f"line {lines + 1} should be {_quote(expected[lines])}",
        )
    if lines > wanted:
        return Comparison(
            False,
            f"{lines - wanted} more lines than expected, "
            f"from line {wanted + 1}: {_quote(actual[wanted])}",
        )
    return Comparison(True)


def numbers_close(got: str, want: str, tolerance: Tolerance) -> bool:
    if got == want:
        return True
    if not (_NUMBER.fullmatch(got) and _NUMBER.fullmatch(want)):
        return False
    a, b = float(got), float(want)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    difference = abs(a - b)
    return difference <= tolerance.absolute or difference <= tolerance.relative * abs(b)


def _compare_tokens(
    actual: list[str], expected: list[str], tolerance: Tolerance | None
) -> Comparison:
    for number, (got, want) in enumerate(zip(actual, expected, strict=False), start=1):
        same = got == want if tolerance is None else numbers_close(got, want, tolerance)
        if not same:
            return Comparison(False, f"token {number}: expected {_quote(want)}, got {_quote(got)}")
    if len(actual) != len(expected):
        return Comparison(False, f"expected {len(expected)} tokens, got {len(actual)}")
    return Comparison(True)


def compare_output(
    actual: str, expected: str, mode: CompareMode, tolerance: Tolerance | None = None
) -> Comparison:
    """Whether `actual` matches `expected` under `mode` (tolerance: float mode only)."""
    if mode is CompareMode.EXACT:
        # Splitting at "\n" loses nothing: equal lines mean equal strings.
        return _compare_lines(actual.split("\n"), expected.split("\n"))
    if mode is CompareMode.TRIMMED:
        return _compare_lines(trimmed_lines(actual), trimmed_lines(expected))
    if mode is CompareMode.TOKENS:
        return _compare_tokens(actual.split(), expected.split(), None)
    return _compare_tokens(actual.split(), expected.split(), tolerance or Tolerance())
