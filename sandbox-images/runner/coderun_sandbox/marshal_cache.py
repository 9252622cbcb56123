"""Results worth keeping between processes, stored beside our package's bytecode.

`coderun run` is a new process per program, so what it would compute on every start (the
language table's parse, the compiled syscall filter) is kept in our package's __pycache__,
tagged with the exact bytes it was made from, and used only while those bytes are unchanged.
That directory is as trusted as our code (a writer there could replace the .pyc files), so
a cache is only ever kept for our own package's files.
"""

from __future__ import annotations

import marshal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def cache_path(path: str, suffix: str) -> str:
    """Where the cache of `path` lives: `<dir>/__pycache__/<name>.<suffix>`."""
    directory, name = os.path.split(path)
    return os.path.join(directory, "__pycache__", f"{name}.{suffix}")


def read(cached: str, source: bytes) -> Any:
    """What the cache holds, if it was made from exactly `source`; else None."""
    try:
        with open(cached, "rb") as handle:
            stored = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == source:
        return stored[1]
    return None


def write(cached: str, source: bytes, value: Any) -> None:
    """Keep `value` as made from `source`; quietly nothing where that cannot be written."""
    temporary = f"{cached}.{os.urandom(6).hex()}.tmp"  # unique per writer, thread or process
    try:
        data = marshal.dumps((source, value))  # ValueError for values marshal lacks (dates)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, cached)  # readers see the old cache or the new, never half
    except (OSError, ValueError):
        try:
            os.unlink(temporary)
        except OSError:
            pass
