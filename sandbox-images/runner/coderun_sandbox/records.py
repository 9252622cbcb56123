"""`Record`: typing.NamedTuple's class syntax without importing typing.

Every `coderun run` imports the runner's modules, and typing's import is a large share of its
start-up budget (coderun_sandbox/startup.py, rule 2). The runner's records are plain named
tuples, so this builds them the way typing.NamedTuple does (field names from the
annotations, defaults from the class body, methods and properties copied over) with
`collections.namedtuple`. Type checkers see typing.NamedTuple itself.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from collections import namedtuple

    # What typing.NamedTuple's metaclass does not copy from the class body either.
    _NOT_COPIED = frozenset({"__module__", "__qualname__", "__annotations__", "__dict__"})

    class _RecordMeta(type):
        def __new__(mcs, name, bases, namespace):
            if namespace.get("_is_record_base"):
                return super().__new__(mcs, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaulted = [f for f in fields if f in namespace]
            if defaulted and fields[-len(defaulted) :] != defaulted:
                raise TypeError(f"{name}: fields with defaults must come last")
            cls = namedtuple(
                name,
                fields,
                defaults=[namespace[f] for f in defaulted],
                module=namespace["__module__"],
            )
            cls.__qualname__ = namespace.get("__qualname__", name)
            for key, value in namespace.items():
                if key not in _NOT_COPIED and key not in fields:
                    setattr(cls, key, value)
            return cls

    class Record(metaclass=_RecordMeta):
        _is_record_base = True


__all__ = ["Record"]
