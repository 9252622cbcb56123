"""The language table (languages.toml) as typed data.

Defined as data so that adding a language is a table entry, not code: set
CODERUN_LANGUAGES_FILE to a TOML file with more tables and they merge over the built-in ones.
"""

from __future__ import annotations

import os
import sys

from . import marshal_cache
from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BUILTIN_TABLE = os.path.join(os.path.dirname(__file__), "languages.toml")
# Bumped when the cache's layout changes, so an old cache is never misread.
CACHE_FORMAT = 1
_SAFE_NAME = r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$"  # compiled on use: most languages never need it
# In a compile argv: where a request's allowed compilerOptions go (none: the slot vanishes).
OPTIONS_SLOT = "{options}"


class Language(Record):
    key: str
    display: str
    source: str
    run: tuple[str, ...]
    image: str
    compile: tuple[str, ...] = ()
    name_pattern: str | None = None
    default_name: str = "main"
    heap_fraction: float | None = None
    oom_markers: tuple[str, ...] = ()
    max_processes: int = 64
    starter: str = ""
    # Judge mode: the options a request may add to the compile step (exact strings only,
    # never a prefix: "-std=c++20" is allowed, "-specs=..." is not), and the files of the
    # compiled program that each test case's fresh work dir gets.
    compiler_options: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def program_name(self, code: str) -> str:
        """The name the code asks for (Java's public class), or the default."""
        if self.name_pattern:
            import re  # only languages with a name pattern (Java) pay for it

            found = re.search(self.name_pattern, code)
            if found and re.match(_SAFE_NAME, found.group("name")):
                return found.group("name")
        return self.default_name

    def _expand(
        self,
        argv: tuple[str, ...],
        name: str,
        memory_limit_mb: int,
        options: tuple[str, ...] = (),
    ) -> list[str]:
        heap_mb = max(16, int(memory_limit_mb * (self.heap_fraction or 1.0)))
        expanded: list[str] = []
        for arg in argv:
            if arg == OPTIONS_SLOT:
                expanded += options  # checked against the allowlist (check_compiler_options)
            else:
                expanded.append(arg.replace("{name}", name).replace("{heap_mb}", str(heap_mb)))
        return expanded

    def check_compiler_options(self, options: tuple[str, ...]) -> None:
        """Refuse any option not in this language's allowlist (exact match), with what to
        send instead. Free-form flags could make the compiler read host files
        (`-include /etc/passwd`, `@file`, `-specs=`), load code (`-fplugin=`) or swap its
        own programs (`-B`); an allowlist of whole strings admits none of them."""
        from .contract import MAX_COMPILER_OPTIONS, InvalidRequest

        if not self.compiler_options or OPTIONS_SLOT not in self.compile:
            raise InvalidRequest(f"{self.key} takes no compilerOptions; remove them")
        if len(options) > MAX_COMPILER_OPTIONS:
            raise InvalidRequest(
                f"compilerOptions has {len(options)} items; at most {MAX_COMPILER_OPTIONS}"
            )
        for option in options:
            if option not in self.compiler_options:
                raise InvalidRequest(
                    f"compiler option {option[:80]!r} is not allowed for {self.key}; "
                    f"allowed: {' '.join(self.compiler_options)}"
                )

    def artifact_names(self, code: str) -> tuple[str, ...]:
        """Patterns of the compiled program's files ("*.class": any name with that end);
        interpreted languages: the source file itself."""
        name = self.program_name(code)
        if not self.compiled:
            return (self.source_file(code),)
        return tuple(pattern.replace("{name}", name) for pattern in self.artifacts)

    def source_file(self, code: str) -> str:
        return self.source.replace("{name}", self.program_name(code))

    def compile_argv(
        self, code: str, memory_limit_mb: int, options: tuple[str, ...] = ()
    ) -> list[str]:
        return self._expand(self.compile, self.program_name(code), memory_limit_mb, options)

    def run_argv(self, code: str, memory_limit_mb: int) -> list[str]:
        return self._expand(self.run, self.program_name(code), memory_limit_mb)


def _language(key: str, entry: dict[str, Any]) -> Language:
    try:
        return Language(
            key=key,
            display=str(entry.get("display", key)),
            source=str(entry["source"]),
            run=tuple(str(a) for a in entry["run"]),
            image=str(entry.get("image", f"coderun-sandbox-{key}:dev")),
            compile=tuple(str(a) for a in entry.get("compile", ())),
            name_pattern=entry.get("name_pattern"),
            default_name=str(entry.get("default_name", "main")),
            heap_fraction=float(entry["heap_fraction"]) if "heap_fraction" in entry else None,
            oom_markers=tuple(str(m) for m in entry.get("oom_markers", ())),
            max_processes=int(entry.get("max_processes", 64)),
            starter=str(entry.get("starter", "")),
            compiler_options=tuple(str(o) for o in entry.get("compiler_options", ())),
            artifacts=tuple(str(a) for a in entry.get("artifacts", ())),
        )
    except KeyError as missing:
        raise ValueError(f"language {key!r} lacks required key {missing}") from None


def cache_path(path: str) -> str:
    """Where the parsed form of a table file is kept: beside it, like bytecode."""
    return marshal_cache.cache_path(path, f"{CACHE_FORMAT}.marshal")


def parse_table(path: str, cache: bool, write_cache: bool | None = None) -> dict[str, Any]:
    """The TOML file's tables; with `cache`, from its marshal cache when that was made from
    these bytes.

    Parsing needs tomllib, whose import (with re) is ~25 ms of a `coderun run`; the cache is
    loaded in well under 1 ms. It holds the source bytes it was made from and is used only
    when they equal the file's bytes now, so an edited table is never served stale. It is
    written like bytecode: unless PYTHONDONTWRITEBYTECODE is set, and never an error.
    """
    with open(path, "rb") as handle:
        source = handle.read()
    if cache:
        tables = _read_cache(cache_path(path), source)
        if tables is not None:
            return tables
    import tomllib

    tables = tomllib.loads(source.decode("utf-8"))
    if cache and (write_cache if write_cache is not None else not sys.dont_write_bytecode):
        _write_cache(cache_path(path), source, tables)
    return tables


def _read_cache(cached: str, source: bytes) -> dict[str, Any] | None:
    """The tables the cache holds, if it was made from exactly `source`."""
    stored = marshal_cache.read(cached, source)
    return dict(stored) if isinstance(stored, dict) else None


def _write_cache(cached: str, source: bytes, tables: dict[str, Any]) -> None:
    marshal_cache.write(cached, source, tables)


def load_table(*paths: str) -> dict[str, Language]:
    """The tables of `paths`, later ones over earlier ones.

    Only the built-in table is cached: its __pycache__ is our package's, as trusted as our
    code. A CODERUN_LANGUAGES_FILE may sit where others can create a __pycache__ beside it
    (/tmp, a shared directory), and a planted cache could name, for the file's own bytes,
    other commands or images; so that file is parsed every time.
    """
    table: dict[str, Language] = {}
    for path in paths:
        for key, entry in parse_table(path, cache=path == BUILTIN_TABLE).items():
            table[key] = _language(key, entry)
    return table


_table: dict[str, Language] | None = None


def languages() -> dict[str, Language]:
    """The built-in table, with CODERUN_LANGUAGES_FILE's tables merged over it; read once."""
    global _table
    if _table is None:
        extra = os.environ.get("CODERUN_LANGUAGES_FILE")
        _table = load_table(BUILTIN_TABLE, *([extra] if extra else []))
    return _table


def supported() -> list[str]:
    return list(languages())


if __name__ == "__main__":
    # `python -m coderun_sandbox.languages`: write the built-in table's cache (make bytecode,
    # image builds), even where PYTHONDONTWRITEBYTECODE is set.
    parse_table(BUILTIN_TABLE, cache=True, write_cache=True)
