"""The start-up budget of `coderun run`: what it is, and every rule that keeps it.

`coderun run FILE` is a new Python process per program, so everything its path imports or
does around the run is paid again on every run. The budget: the whole command within 50 ms
of a bare `python3 -c` running the same program (a target, tracked in docs/benchmarks.md's
runner section; docs/architecture.md, "Start-up budget of `coderun run`", says what each
rule below saves). The API and the operator are long-lived and import the same modules, so
these rules cost them nothing.

The run path is `coderun_api.cli.console` -> `coderun_api.commands.run` ->
`coderun_sandbox.runner` and what those import. The rules, and where each is kept:

1. None of `KEPT_OUT` below is imported on the run path; a module needed only on a rare
   branch is imported inside that branch. tests/sandbox/test_startup.py imports the path in
   a fresh interpreter and holds it to this list.
2. Records are `records.Record`: typing.NamedTuple's class syntax built on
   collections.namedtuple, because importing typing is a large share of the budget
   (tests/sandbox/test_records.py holds it to typing.NamedTuple's behaviour).
3. Processes are started with os.posix_spawn and watched with select.poll (process.py), not
   with subprocess, selectors and threading.
4. A plain command line (`coderun run FILE --opt VALUE`) is read by
   `commands.run.parse_common`; anything else (--help, a mistake) goes to the argparse
   parser, which is built only then (tests/sandbox/test_cli.py holds the two to one answer).
5. `coderun run` ends with os._exit once its output is flushed (`cli.FAST_EXIT`): it holds
   nothing to tear down, and the interpreter's shutdown would free every module one by one.
6. The built-in language table is Python (`languages.BUILTIN`); tomllib is imported only
   for a CODERUN_LANGUAGES_FILE.
7. The compiled syscall filter is kept in our package's __pycache__, keyed by its policy's
   bytes and the architecture (`syscall_filter.export_bpf`), so libseccomp's binding is
   imported only when the policy changed. `make bytecode` writes it with the bytecode.
8. `make deps` replaces setuptools' editable-install finder (which imports importlib.util
   and pathlib at every interpreter start) with a plain path file (Makefile, `deps`).

Not rules: json is imported (it prints the result and reads bubblewrap's status). `re`,
which it needs, is on the path anyway (compare.py), so what is left of its import is too
little to be worth a JSON writer and parser of our own. The sandbox image's entrypoint
(`python3 -m coderun_sandbox`) starts once per pod, so none of this is about it.
"""

from __future__ import annotations

# Module -> why the run path does without it (rule 1).
KEPT_OUT: dict[str, str] = {
    "typing": "records.Record in place of typing.NamedTuple (rule 2)",
    "dataclasses": "records are named tuples (rule 2)",
    "inspect": "imported by typing's and dataclasses' machinery; nothing of ours needs it",
    "subprocess": "process.py starts children with os.posix_spawn (rule 3)",
    "selectors": "process.py waits with select.poll (rule 3)",
    "threading": "one thread: nothing on the run path waits in the background (rule 3)",
    "contextlib": "try/finally where a context manager would be the only use",
    "argparse": "commands.run.parse_common reads plain command lines (rule 4)",
    "tomllib": "the built-in language table is Python (rule 6)",
    "seccomp": "the compiled filter comes from the cache (rule 7)",
    "pyseccomp": "the compiled filter comes from the cache (rule 7)",
    "importlib.util": "no editable-install finder (rule 8)",
    "pathlib": "os.path is enough, and no editable-install finder (rule 8)",
    "asyncio": "the run is synchronous; the API's and operator's event loops are theirs",
    "logging": "the result is the output; warnings go to stderr directly",
    "pydantic": "the API's models; the runner's contract is stdlib records",
    "fastapi": "the API's, imported by `coderun serve` only",
    "sqlalchemy": "the API's database layer",
    "kubernetes": "the operator's and the Kubernetes executor's client",
    "kopf": "the operator's framework",
}
