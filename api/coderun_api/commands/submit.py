"""`coderun submit FILE --url URL`: run a program on a CodeRun server, print the result JSON.

The API key comes from CODERUN_API_KEY (never a flag: command lines end up in shell history
and `ps`). The run goes through the official Python client (clients/python), so this is also
its smallest real user. Exits 0 whatever the verdict, like `coderun run`; 2 for bad usage,
1 when the server refuses or cannot be reached, with the server's own message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from coderun_api.commands.run import EXIT_USAGE, guess_language

API_KEY_VARIABLE = "CODERUN_API_KEY"
EXIT_REFUSED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"Submit FILE to the CodeRun API at URL and wait for its result; the API key is read "
        f"from {API_KEY_VARIABLE}."
    )
    parser.add_argument("file", help="source file to run ('-' reads the code from stdin)")
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--language", "-l", help="language key; guessed from the file suffix")
    parser.add_argument("--input", "-i", help="file holding the program's stdin ('-': stdin)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the final result (default 300)",
    )


def _usage(message: str) -> int:
    print(f"coderun submit: {message}", file=sys.stderr)
    return EXIT_USAGE


def _read_text(source: str) -> str:
    if source == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as handle:
            raw = handle.read()
    return raw.decode("utf-8")


def main(args: argparse.Namespace) -> int:
    api_key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if not api_key:
        return _usage(
            f"set {API_KEY_VARIABLE} to your API key (nr_live_...; the dashboard or "
            "`coderun account create` gives one)"
        )
    if not args.url.startswith(("http://", "https://")):
        return _usage(f"--url must start with http:// or https://, got {args.url!r}")
    if args.file == "-" and args.input == "-":
        return _usage("code and input cannot both come from stdin")
    if args.timeout <= 0:
        return _usage("--timeout must be more than 0 seconds")
    language = args.language or guess_language(args.file)
    if language is None:
        return _usage(f"cannot tell the language of {args.file!r}; pass --language")
    try:
        code = _read_text(args.file)
        stdin = _read_text(args.input) if args.input else ""
    except OSError as error:
        return _usage(str(error))
    except UnicodeDecodeError as error:
        return _usage(f"not valid UTF-8 (byte {error.start})")

    # Imported here: httpx and the client are for this command only, never for `coderun run`.
    try:
        from coderun_client import Client, CodeRunError
    except ImportError:
        print(
            "coderun submit: needs the coderun-client package (pip install ./clients/python "
            "from a CodeRun checkout; `make deps` installs it)",
            file=sys.stderr,
        )
        return EXIT_REFUSED

    try:
        with Client(base_url=args.url, api_key=api_key) as client:
            job = client.run(code, language, input=stdin, timeout=args.timeout)
    except CodeRunError as error:
        message = getattr(error, "message", None) or str(error)
        status = getattr(error, "status", None)
        prefix = f"the server answered {status}: " if status else ""
        print(f"coderun submit: {prefix}{message}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(job.as_json(), indent=2))
    return 0
