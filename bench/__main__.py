"""`make bench`: run every benchmark section and write docs/benchmarks.md.

Sections: runner (the local sandbox), api (REST API on SQLite and PostgreSQL),
kubernetes (the test cluster), helm (the chart's install and upgrade to a first result),
judge (test cases as one submission against single submissions, both executors),
webhooks (final to webhook received; 1,000 SSE streams on one API process). A
section whose prerequisites are missing is reported as skipped, with the reason, rather
than failing the whole run.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import subprocess
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = ("runner", "api", "kubernetes", "helm", "judge", "webhooks")
HEADER = """# Benchmarks

Measured by `make bench`, which runs `python -m bench` and rewrites this file.
The machine is shared and noisy: every number is a median over interleaved repetitions,
reported next to a baseline measured in the same command, and the ratios are what carry
over between machines. Tests never assert timings; this file is where speed is tracked.
"""


def describe_machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({cpu} cores, Linux {platform.release()}, Python {platform.python_version()})."
    )


def replace_section(document: str, section: str) -> str:
    """`document` with the `## ` section of the same heading as `section` replaced by it
    (appended when it has none): up to the next `## ` heading."""
    heading = section.split("\n", 1)[0]
    lines = document.split("\n")
    if heading not in lines:
        return document.rstrip("\n") + "\n\n" + section
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = [*section.rstrip("\n").split("\n"), ""]
    return "\n".join(lines[:start] + body + lines[end:])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: replace those sections in --output (the others stay as they are)",
    )
    args = parser.parse_args()
    chosen = args.only or list(SECTIONS)
    parts = [HEADER, describe_machine(), ""]
    measured: list[str] = []
    for name in chosen:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            parts.append(module.main())
            measured.append(parts[-1])
        except Exception:  # one failed section must not hide the others
            parts.append(
                f"## {name}\n\nSkipped: it failed to run:\n\n```\n"
                f"{traceback.format_exc(limit=3)}```\n"
            )
    text = "\n".join(parts)
    if args.only and args.update:
        path = Path(args.output)
        merged = path.read_text()
        # A section that failed keeps its last figures in the file (the failure is printed).
        for section in measured:
            merged = replace_section(merged, section)
        path.write_text(merged)
        print(text)
    elif args.only:
        print(text)
    else:
        Path(args.output).write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
