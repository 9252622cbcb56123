"""`coderun` command line: one entry point, one module per subcommand.

Subcommand modules are imported only when chosen, so `coderun run` starts without loading
FastAPI, SQLAlchemy or the Kubernetes client; a plain `coderun run FILE [options]` does not
even build the argparse parser (its start-up budget: coderun_sandbox/startup.py).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# subcommand -> (module with add_arguments(parser) and main(args) -> int, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("coderun_api.commands.run", "run one program in the local sandbox, print JSON"),
    "serve": ("coderun_api.commands.serve", "start the REST API, dashboard and playground"),
    "account": ("coderun_api.commands.account", "manage accounts and API keys"),
    "db": ("coderun_api.commands.db", "database migrations"),
    "submit": ("coderun_api.commands.submit", "run a program on a CodeRun server (API key: env)"),
    "operator": ("coderun_operator.main", "run the Kubernetes operator (kopf)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    import argparse  # here, not at the top: a plain `coderun run` never needs it
    import importlib

    parser = argparse.ArgumentParser(prog="coderun", description="Sandboxed code execution.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if chosen in SUBCOMMANDS and name != chosen:
            continue  # only `coderun --help` lists them all; skipping saves `run` start-up time
        sub_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(handler=module.main)
    args = parser.parse_args(args_list)
    return int(args.handler(args))


# Commands that end holding nothing to tear down: their process exits without the
# interpreter's shutdown, which would finalise every module and object one by one
# (coderun_sandbox/startup.py, rule 5).
FAST_EXIT = frozenset({"run"})


def console() -> None:
    """The `coderun` executable."""
    code: int | None = None
    if sys.argv[1:2] == ["run"]:
        from coderun_api.commands import run

        parsed = run.parse_common(sys.argv[2:])
        if parsed is not None:
            code = run.run(parsed)
    if code is None:
        code = main()
    if next((a for a in sys.argv[1:] if not a.startswith("-")), None) in FAST_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
