"""Languages are data: a new one needs only a table entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from coderun_sandbox.languages import BUILTIN, load_file

C_ENTRY = """
[c]
display = "C11 (gcc)"
source = "main.c"
compile = ["gcc", "-std=c11", "-O2", "-o", "main", "main.c"]
run = ["./main"]
image = "coderun-sandbox-c:dev"
"""


def coderun(
    *args: str, env_extra: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "coderun_api.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_c_added_through_configuration_alone(tmp_path: Path) -> None:
    table = tmp_path / "languages.toml"
    table.write_text(C_ENTRY)
    source = tmp_path / "hello.c"
    source.write_text(
        '#include <stdio.h>\nint main(void){ int n; scanf("%d", &n);'
        ' printf("C says %d\\n", n + 1); return 0; }\n'
    )
    stdin = tmp_path / "in.txt"
    stdin.write_text("41\n")
    done = coderun(
        "run", str(source), "--input", str(stdin), env_extra={"CODERUN_LANGUAGES_FILE": str(table)}
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["stdout"]) == ("success", "C says 42\n")
    assert result["compileTimeMs"] is not None
    # Without the entry, C is unknown.
    assert coderun("run", str(source)).returncode == 2


def test_every_builtin_language_is_complete() -> None:
    assert set(BUILTIN) == {"python", "javascript", "cpp", "java"}
    for key, language in BUILTIN.items():
        assert language.key == key
        assert language.run and language.image and language.starter
        assert language.source_file(language.starter)


def test_java_source_file_follows_public_class() -> None:
    java = BUILTIN["java"]
    assert java.source_file("public final class Solver {}") == "Solver.java"
    assert java.source_file("class Hidden {}") == "Main.java"
    assert java.run_argv("public class Main {}", 256)[1] == "-Xmx128m"


def test_heap_flags_follow_memory_limit() -> None:
    node = BUILTIN["javascript"]
    assert "--max-old-space-size=384" in node.run_argv("", 512)


def test_missing_toolchain_is_sandbox_error(tmp_path: Path) -> None:
    table = tmp_path / "languages.toml"
    table.write_text('[ghost]\nsource = "main.gh"\nrun = ["ghost-interpreter", "main.gh"]\n')
    source = tmp_path / "prog.gh"
    source.write_text("boo")
    done = coderun(
        "run", str(source), "--language", "ghost", env_extra={"CODERUN_LANGUAGES_FILE": str(table)}
    )
    result = json.loads(done.stdout)
    assert result["sandboxErrorType"] == "SandboxError"
    assert "ghost-interpreter" in result["sandboxErrorMessage"]


def test_a_configured_table_replaces_and_adds_to_the_builtin_one(tmp_path: Path) -> None:
    table = tmp_path / "languages.toml"
    table.write_text(C_ENTRY + '[python]\nsource = "main.py"\nrun = ["python3", "-S", "main.py"]\n')
    source = tmp_path / "hello.py"
    source.write_text("import sys\nprint('site' in sys.modules)\n")
    done = coderun("run", str(source), env_extra={"CODERUN_LANGUAGES_FILE": str(table)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stdout"] == "False\n"  # -S: the configured argv ran
    configured = load_file(str(table))
    assert set(configured) == {"c", "python"}
    assert configured["python"].display == "python"  # a table replaces the entry whole
    assert configured["c"].image == "coderun-sandbox-c:dev"


def test_a_configured_table_lacking_a_required_key_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "languages.toml"
    table.write_text('[c]\nsource = "main.c"\n')
    with pytest.raises(ValueError, match="language 'c' lacks required key 'run'"):
        load_file(str(table))
