"""`coderun` command line: one entry point, one module per subcommand.

Subcommand modules are imported only when chosen, so `coderun run` starts without loading
FastAPI, SQLAlchemy or the Kubernetes client; a plain `coderun run FILE [options]` does not
even build the argparse parser (see commands/run.py).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

# subcommand -> (module with add_arguments(parser) and main(args) -> int, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("coderun_api.commands.run", "run one program in the local sandbox, print JSON"),
    "serve": ("coderun_api.commands.serve", "start the REST API, dashboard and playground"),
    "account": ("coderun_api.commands.account", "manage accounts and API keys"),
    "db": ("coderun_api.commands.db", "database migrations"),
    "operator": ("coderun_operator.main", "run the Kubernetes operator (kopf)"),
}


def terminal_width() -> int:
    """What shutil.get_terminal_size() reports, without importing shutil."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):  # not a terminal, or no usable stdout
        return 80


def help_formatter() -> type[argparse.HelpFormatter]:
    """argparse's formatter, given its width: the stock one imports shutil to find it, which
    is ~2 ms of every command (argparse makes a formatter for each add_argument)."""
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        def __init__(
            self,
            prog: str,
            indent_increment: int = 2,
            max_help_position: int = 24,
            width: int | None = None,
        ) -> None:
            width = width or terminal_width() - 2
            super().__init__(prog, indent_increment, max_help_position, width)

    return HelpFormatter


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import importlib

    formatter = help_formatter()
    parser = argparse.ArgumentParser(
        prog="coderun", description="Sandboxed code execution.", formatter_class=formatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if chosen in SUBCOMMANDS and name != chosen:
            continue  # only `coderun --help` lists them all; skipping saves `run` start-up time
        sub_parser = sub.add_parser(name, help=help_text, formatter_class=formatter)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(handler=module.main)
    args = parser.parse_args(args_list)
    return int(args.handler(args))


# Commands that end holding nothing to tear down: their process exits without the
# interpreter's shutdown (module and object finalisation, ~4 ms of a ~50 ms `coderun run`).
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
