"""`coderun run FILE`: run one program in the local sandbox and print the result as JSON.

Exits 0 whatever the verdict; non-zero only for bad usage (the message says what to fix).

This is a short-lived command whose start-up is most of its overhead, so it does not import
argparse on its way (coderun_sandbox/startup.py, rule 4): `parse_common` reads the
well-formed command lines, and anything else (--help, a mistake, an abbreviation) goes to
the argparse parser `add_arguments` defines, which answers or explains exactly as for every
subcommand.
"""

from __future__ import annotations

import os
import sys

from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    InvalidRequest,
    RunLimits,
    RunRequest,
)
from coderun_sandbox.languages import languages
from coderun_sandbox.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

EXIT_USAGE = 2


class RunArgs(Record):
    file: str
    language: str | None = None
    input: str | None = None
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB


# option -> (RunArgs field, converter); the same options add_arguments declares.
_OPTIONS = {
    "--language": ("language", str),
    "-l": ("language", str),
    "--input": ("input", str),
    "-i": ("input", str),
    "--time-limit-ms": ("time_limit_ms", int),
    "--memory-limit-mb": ("memory_limit_mb", int),
}


def parse_common(argv: Sequence[str]) -> RunArgs | None:
    """The arguments after `run`, when they are one FILE and the options in their plain
    spellings (`--opt VALUE`, `--opt=VALUE`, `-l VALUE`); otherwise None, for argparse."""
    values: dict[str, object] = {}
    files: list[str] = []
    pending = list(argv)
    while pending:
        token = pending.pop(0)
        if token == "-" or not token.startswith("-"):
            files.append(token)
            continue
        option, equals, value = token.partition("=")
        if option not in _OPTIONS or (equals and not option.startswith("--")):
            return None
        if not equals:
            if not pending or (pending[0].startswith("-") and pending[0] != "-"):
                return None
            value = pending.pop(0)
        field, convert = _OPTIONS[option]
        try:
            values[field] = convert(value)
        except ValueError:
            return None
    if len(files) != 1:
        return None
    return RunArgs(files[0], **values)  # type: ignore[arg-type]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="source file to run ('-' reads the code from stdin)")
    parser.add_argument("--language", "-l", help="language key; guessed from the file suffix")
    parser.add_argument("--input", "-i", help="file holding the program's stdin ('-': stdin)")
    parser.add_argument("--time-limit-ms", type=int, default=DEFAULT_TIME_LIMIT_MS)
    parser.add_argument("--memory-limit-mb", type=int, default=DEFAULT_MEMORY_LIMIT_MB)


def guess_language(path: str) -> str | None:
    suffix = os.path.splitext(path)[1]
    for key, language in languages().items():
        if os.path.splitext(language.source)[1] == suffix:
            return key
    return None


def _read_text(source: str, what: str) -> str:
    if source == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as handle:
            raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"{what} is not valid UTF-8 (byte {error.start})") from None


def main(args: argparse.Namespace) -> int:
    """The argparse path's handler."""
    return run(
        RunArgs(args.file, args.language, args.input, args.time_limit_ms, args.memory_limit_mb)
    )


def run(args: RunArgs) -> int:
    from coderun_sandbox.runner import execute

    try:
        if args.file == "-" and args.input == "-":
            raise InvalidRequest("code and input cannot both come from stdin")
        language = args.language or guess_language(args.file)
        if language is None:
            raise InvalidRequest(
                f"cannot tell the language of {args.file!r}; pass --language "
                f"({', '.join(languages())})"
            )
        code = _read_text(args.file, "the code")
        stdin = _read_text(args.input, "the input") if args.input else ""
        request = RunRequest(
            language=language,
            code=code,
            input=stdin,
            limits=RunLimits(
                time_limit_ms=args.time_limit_ms, memory_limit_mb=args.memory_limit_mb
            ),
        )
        request.validate(languages())
    except (InvalidRequest, OSError) as error:
        print(f"coderun run: {error}", file=sys.stderr)
        return EXIT_USAGE
    result = execute(request)
    print(result.to_json(indent=2))
    return 0
