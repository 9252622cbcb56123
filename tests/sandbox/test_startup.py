"""`coderun run`'s path keeps the heavy modules out (coderun_sandbox/startup.py, rule 1).

The path is imported in a fresh interpreter, as `coderun run` starts, and taken as far as
the run itself: the command line read, the language table loaded, the request built and
checked. The run is left out, since whether it compiles the syscall filter depends on the
machine's cache, not on the code."""

from __future__ import annotations

import subprocess
import sys

from coderun_sandbox.startup import KEPT_OUT

RUN_PATH = """
import sys
from coderun_api import cli
from coderun_api.commands import run
from coderun_sandbox import runner
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.languages import languages

args = run.parse_common(["hello.py", "--time-limit-ms", "2000", "-l", "python"])
assert args is not None and run.guess_language(args.file) == "python"
RunRequest(language=args.language, code="print(1)").validate(languages())
{extra}
print("\\n".join(sys.modules))
"""


def loaded_modules(extra: str = "") -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_PATH.format(extra=extra)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_run_path_imports_none_of_the_kept_out_modules() -> None:
    loaded = loaded_modules()
    assert {"coderun_api.commands.run", "coderun_sandbox.runner"} <= loaded
    assert sorted(set(KEPT_OUT) & loaded) == []


def test_a_kept_out_module_on_the_path_is_seen() -> None:
    """The probe's own check: what a change could pull in (typing through a dataclass or an
    annotation evaluated at import, tomllib through a table file) shows up."""
    loaded = loaded_modules("import dataclasses, tomllib")
    assert {"dataclasses", "tomllib", "inspect"} <= set(KEPT_OUT) & loaded
