"""`coderun run FILE`: run one program in the local sandbox and print the result as JSON.

Exits 0 whatever the verdict; non-zero only for bad usage (the message says what to fix).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from coderun_sandbox.contract import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIME_LIMIT_MS,
    InvalidRequest,
    Limits,
    RunRequest,
)
from coderun_sandbox.languages import languages

EXIT_USAGE = 2


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
            limits=Limits(time_limit_ms=args.time_limit_ms, memory_limit_mb=args.memory_limit_mb),
        )
        request.validate(list(languages()))
    except (InvalidRequest, OSError) as error:
        print(f"coderun run: {error}", file=sys.stderr)
        return EXIT_USAGE
    result = execute(request)
    print(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2))
    return 0
