"""The optional fields of a submission, as keyword arguments of `submit` and `run`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from .models import Compare, SubmitRequest, TestCase, Tolerance


class SubmitOptions(TypedDict, total=False):
    test_cases: Sequence[TestCase]
    compare: Compare
    tolerance: Tolerance
    stop_on_first_failure: bool
    command_line_arguments: Sequence[str]
    compiler_options: Sequence[str]
    callback_url: str


class SubmitArguments(SubmitOptions, total=False):
    """The keyword arguments of `submit` and `run`: the submission's optional fields and
    the Idempotency-Key of its request (a new UUID where absent or None)."""

    idempotency_key: str | None


def build_request(code: str, language: str, input: str, options: SubmitOptions) -> SubmitRequest:
    test_cases = options.get("test_cases")
    arguments = options.get("command_line_arguments")
    compiler_options = options.get("compiler_options")
    return SubmitRequest(
        code=code,
        language=language,
        input=input,
        test_cases=list(test_cases) if test_cases is not None else None,
        compare=options.get("compare"),
        tolerance=options.get("tolerance"),
        stop_on_first_failure=options.get("stop_on_first_failure"),
        command_line_arguments=list(arguments) if arguments is not None else None,
        compiler_options=list(compiler_options) if compiler_options is not None else None,
        callback_url=options.get("callback_url"),
    )
