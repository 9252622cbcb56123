"""The language table (languages.toml) as typed data.

Defined as data so that adding a language is a table entry, not code: set
CODERUN_LANGUAGES_FILE to a TOML file with more tables and they merge over the built-in ones.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from typing import Any, NamedTuple

BUILTIN_TABLE = os.path.join(os.path.dirname(__file__), "languages.toml")
_SAFE_NAME = r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$"  # compiled on use: most languages never need it


class Language(NamedTuple):
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

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def program_name(self, code: str) -> str:
        """The name the code asks for (Java's public class), or the default."""
        if self.name_pattern:
            found = re.search(self.name_pattern, code)
            if found and re.match(_SAFE_NAME, found.group("name")):
                return found.group("name")
        return self.default_name

    def _expand(self, argv: tuple[str, ...], name: str, memory_limit_mb: int) -> list[str]:
        heap_mb = max(16, int(memory_limit_mb * (self.heap_fraction or 1.0)))
        return [a.replace("{name}", name).replace("{heap_mb}", str(heap_mb)) for a in argv]

    def source_file(self, code: str) -> str:
        return self.source.replace("{name}", self.program_name(code))

    def compile_argv(self, code: str, memory_limit_mb: int) -> list[str]:
        return self._expand(self.compile, self.program_name(code), memory_limit_mb)

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
        )
    except KeyError as missing:
        raise ValueError(f"language {key!r} lacks required key {missing}") from None


def load_table(*paths: str) -> dict[str, Language]:
    table: dict[str, Language] = {}
    for path in paths:
        with open(path, "rb") as handle:
            for key, entry in tomllib.load(handle).items():
                table[key] = _language(key, entry)
    return table


@cache
def languages() -> dict[str, Language]:
    extra = os.environ.get("CODERUN_LANGUAGES_FILE")
    return load_table(BUILTIN_TABLE, *([extra] if extra else []))


def supported() -> list[str]:
    return list(languages())
