"""`make bench`: run every benchmark section and write docs/benchmarks.md.

Sections: runner (this machine's sandbox), api (REST API on SQLite and PostgreSQL),
kubernetes (the test cluster), helm (the chart's install and upgrade to a first result). A section whose prerequisites are missing is reported as
skipped, with the reason, rather than failing the whole run.
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

SECTIONS = ("runner", "api", "kubernetes", "helm")
HEADER = """# Benchmarks

Measured by `make bench`, which runs `python -m tests.bench` and rewrites this file.
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


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--output", default="docs/benchmarks.md")
    args = parser.parse_args()
    chosen = args.only or list(SECTIONS)
    parts = [HEADER, describe_machine(), ""]
    for name in chosen:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"tests.bench.{name}")
            parts.append(module.main())
        except Exception:  # one failed section must not hide the others
            parts.append(
                f"## {name}\n\nSkipped: it failed to run:\n\n```\n"
                f"{traceback.format_exc(limit=3)}```\n"
            )
    text = "\n".join(parts)
    if args.only:
        print(text)
    else:
        Path(args.output).write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
