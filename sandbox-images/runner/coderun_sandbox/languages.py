"""The language table: the one place a language is defined.

The runner, the API and the operator all read it through `languages()`. Adding a language is
a table entry, not code: an entry in `BUILTIN` below, or a table in a TOML file named by
CODERUN_LANGUAGES_FILE (one `[key]` table per language, its keys the field names of
`Language`), whose tables replace or add to the built-in ones. The built-in table is Python,
so a `coderun run` reads it without parsing anything (coderun_sandbox/startup.py).
"""

from __future__ import annotations

import os

from .contract import MAX_COMPILER_OPTIONS, InvalidRequest
from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SAFE_NAME = r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$"  # compiled on use: most languages never need it
# In a compile argv: where a request's allowed compilerOptions go (none: the slot vanishes).
OPTIONS_SLOT = "{options}"


class Language(Record):
    key: str
    display: str
    # The file the code is written to; "{name}" is replaced by the program name.
    source: str
    # argv of the run step, run in the work dir.
    run: tuple[str, ...]
    # The container image that holds the toolchain and the runner (Kubernetes).
    image: str
    # argv of the compile step, run in the work dir; empty for interpreted languages.
    compile: tuple[str, ...] = ()
    # A regex whose group "name" finds the program name in the code (Java: the public
    # class); default_name is used when it does not match.
    name_pattern: str | None = None
    default_name: str = "main"
    # The share of the memory limit handed to a managed heap as "{heap_mb}", so that running
    # out of memory is the runtime's clean OOM (classified MLE), not a cgroup kill in the
    # middle of garbage collection.
    heap_fraction: float | None = None
    # stderr lines that, with an abnormal exit, mean the runtime's own heap was exhausted (MLE).
    oom_markers: tuple[str, ...] = ()
    # The process/thread cap for this runtime (threads count: a JVM starts ~20).
    max_processes: int = 64
    starter: str = ""
    # Judge mode: the options a request may add to the compile step, placed where
    # "{options}" stands in `compile`. Exact strings only, never prefixes: nothing that names
    # a file (-include, @file, -specs=), loads code (-fplugin=) or swaps the compiler's
    # programs (-B) can be listed by accident.
    compiler_options: tuple[str, ...] = ()
    # Judge mode: the compiled program's files ("*.class": by ending), the only files each
    # test case's fresh work dir receives.
    artifacts: tuple[str, ...] = ()

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def program_name(self, code: str) -> str:
        """The name the code asks for (Java's public class), or the default."""
        if self.name_pattern:
            import re  # only languages with a name pattern (Java) need it

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


def default_image(key: str) -> str:
    """The image sandbox-images/Dockerfile builds for a language (LANGUAGE=key): a built-in
    language's, and a configured one's unless its table names another."""
    return f"coderun-sandbox-{key}:dev"


def _builtin(key: str, display: str, source: str, run: tuple[str, ...], **rest: Any) -> Language:
    """A built-in language, in the image built for it."""
    return Language(
        key=key, display=display, source=source, run=run, image=default_image(key), **rest
    )


BUILTIN: dict[str, Language] = {
    "python": _builtin(
        key="python",
        display="Python 3",
        source="main.py",
        run=("python3", "-I", "-B", "main.py"),
        oom_markers=("MemoryError",),
        starter="print('Hello, World!')\n",
    ),
    "javascript": _builtin(
        key="javascript",
        display="JavaScript (Node.js)",
        source="main.js",
        run=("node", "--max-old-space-size={heap_mb}", "--stack-size=4096", "main.js"),
        heap_fraction=0.75,
        oom_markers=("JavaScript heap out of memory", "Reached heap limit"),
        starter="console.log('Hello, World!');\n",
    ),
    "cpp": _builtin(
        key="cpp",
        display="C++17 (g++)",
        source="main.cpp",
        compile=("g++", "-std=c++17", "-O2", OPTIONS_SLOT, "-pipe", "-o", "main", "main.cpp"),
        compiler_options=(
            *("-O0", "-O1", "-O2", "-O3", "-Os"),
            *("-std=c++11", "-std=c++14", "-std=c++17", "-std=c++20"),
            *("-std=gnu++17", "-std=gnu++20"),
            *("-Wall", "-Wextra", "-Wpedantic", "-g", "-DONLINE_JUDGE"),
            *("-fno-exceptions", "-pthread"),
        ),
        artifacts=("main",),
        run=("./main",),
        oom_markers=("std::bad_alloc",),
        starter=(
            "#include <iostream>\n\nint main() {\n"
            '    std::cout << "Hello, World!" << std::endl;\n    return 0;\n}\n'
        ),
    ),
    "java": _builtin(
        key="java",
        display="Java 17",
        source="{name}.java",
        name_pattern=(
            r"(?m)^\s*public\s+(?:(?:final|abstract|strictfp)\s+)*class\s+"
            r"(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
        ),
        default_name="Main",
        compile=(
            *("javac", "-J-Xss8m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1"),
            *("-encoding", "UTF-8", OPTIONS_SLOT, "{name}.java"),
        ),
        compiler_options=(
            *("-g", "-g:none", "-nowarn", "-deprecation", "-parameters"),
            *("-Xlint", "-Xlint:all", "-Xlint:none"),
        ),
        artifacts=("*.class",),
        run=(
            *("java", "-Xmx{heap_mb}m", "-Xss64m", "-XX:+UseSerialGC"),
            *("-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData"),
            *("-cp", ".", "{name}"),
        ),
        heap_fraction=0.5,
        oom_markers=("java.lang.OutOfMemoryError",),
        max_processes=128,
        starter=(
            "public class Main {\n    public static void main(String[] args) {\n"
            '        System.out.println("Hello, World!");\n    }\n}\n'
        ),
    ),
}


def _language(key: str, entry: dict[str, Any]) -> Language:
    """One table of a CODERUN_LANGUAGES_FILE as a Language; ValueError names what is wrong."""
    try:
        return Language(
            key=key,
            display=str(entry.get("display", key)),
            source=str(entry["source"]),
            run=tuple(str(a) for a in entry["run"]),
            image=str(entry.get("image", default_image(key))),
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


def load_file(path: str) -> dict[str, Language]:
    """The languages of a TOML table file (CODERUN_LANGUAGES_FILE), parsed on every start."""
    import tomllib  # only a configured file needs it: the built-in table is Python

    with open(path, "rb") as handle:
        tables = tomllib.load(handle)
    return {key: _language(key, entry) for key, entry in tables.items()}


_table: dict[str, Language] | None = None


def languages() -> dict[str, Language]:
    """The built-in table, with CODERUN_LANGUAGES_FILE's tables merged over it; read once."""
    global _table
    if _table is None:
        extra = os.environ.get("CODERUN_LANGUAGES_FILE")
        _table = {**BUILTIN, **(load_file(extra) if extra else {})}
    return _table


def supported() -> list[str]:
    return list(languages())


if __name__ == "__main__":
    # `python3 -m coderun_sandbox.languages`: "key image" per built-in language, the list the
    # image builds (hack/cluster) build sandbox-images/Dockerfile for.
    for key, language in BUILTIN.items():
        print(key, language.image)
