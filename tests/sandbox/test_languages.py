"""Languages are data: a new one needs only a table entry."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
import tomllib
from pathlib import Path

from coderun_sandbox.languages import BUILTIN_TABLE, cache_path, load_table, parse_table

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
    table = load_table(BUILTIN_TABLE)
    assert set(table) == {"python", "javascript", "cpp", "java"}
    for language in table.values():
        assert language.run and language.image and language.starter
        assert language.source_file(language.starter)


def test_java_source_file_follows_public_class() -> None:
    java = load_table(BUILTIN_TABLE)["java"]
    assert java.source_file("public final class Solver {}") == "Solver.java"
    assert java.source_file("class Hidden {}") == "Main.java"
    assert java.run_argv("public class Main {}", 256)[1] == "-Xmx128m"


def test_heap_flags_follow_memory_limit() -> None:
    node = load_table(BUILTIN_TABLE)["javascript"]
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


def test_table_cache_is_used_only_for_the_bytes_it_was_made_from(tmp_path: Path) -> None:
    """The parsed table is cached beside the file (like bytecode) and keyed by its bytes: an
    edited table is read afresh, a damaged cache is ignored, an unwritable place is no error."""
    table = tmp_path / "languages.toml"
    table.write_text(C_ENTRY)
    cache = Path(cache_path(str(table)))
    assert parse_table(str(table), cache=True, write_cache=True)["c"]["source"] == "main.c"
    assert cache.exists()
    # The cache, not the file, answers while the bytes match: plant a marker in it to see.
    stored_source, tables = marshal.loads(cache.read_bytes())
    tables["c"]["display"] = "from the cache"
    cache.write_bytes(marshal.dumps((stored_source, tables)))
    assert parse_table(str(table), cache=True)["c"]["display"] == "from the cache"
    # An edit of the same size and mtime granularity is still seen: the key is the content.
    table.write_text(C_ENTRY.replace("C11 (gcc)", "C11 (GCC)"))
    assert parse_table(str(table), cache=True, write_cache=False)["c"]["display"] == "C11 (GCC)"
    cache.write_bytes(b"\x00garbage")
    assert parse_table(str(table), cache=True, write_cache=False)["c"]["display"] == "C11 (GCC)"
    cache.unlink()
    cache.parent.rmdir()
    cache.parent.write_text("a file where the cache directory would go")  # unwritable, as root
    assert parse_table(str(table), cache=True, write_cache=True)["c"]["source"] == "main.c"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["__pycache__", "languages.toml"]


def test_cached_builtin_table_equals_a_fresh_parse() -> None:
    with open(BUILTIN_TABLE, "rb") as handle:
        fresh = tomllib.load(handle)
    assert parse_table(BUILTIN_TABLE, cache=True, write_cache=True) == fresh
    assert parse_table(BUILTIN_TABLE, cache=True) == fresh


def test_a_cache_planted_beside_a_configured_table_is_ignored(tmp_path: Path) -> None:
    """CODERUN_LANGUAGES_FILE may live where others can write a __pycache__ beside it; a
    cache made for its exact bytes but naming another command must change nothing."""
    table = tmp_path / "languages.toml"
    table.write_text(C_ENTRY)
    forged = tomllib.loads(C_ENTRY)
    forged["c"]["run"] = ["/bin/sh", "-c", "echo forged"]
    cache = Path(cache_path(str(table)))
    cache.parent.mkdir()
    cache.write_bytes(marshal.dumps((table.read_bytes(), forged)))
    assert load_table(str(table))["c"].run == ("./main",)
