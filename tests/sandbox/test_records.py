"""records.Record builds the same named tuples typing.NamedTuple does, without typing."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from coderun_sandbox.contract import ErrorType, RunLimits, RunResult, Status
from coderun_sandbox.records import Record


def sample(base: Any) -> Any:
    """One class body, built on `base`: typing.NamedTuple or Record."""

    class Sample(base):  # type: ignore[misc, valid-type]
        """A record."""

        name: str
        size: int = 1
        tags: tuple[str, ...] = ()

        @property
        def big(self) -> bool:
            return bool(self.size > 10)

        def grown(self, by: int) -> Any:
            return self._replace(size=self.size + by)

    return Sample


Typed = sample(NamedTuple)
Light = sample(Record)


def test_same_fields_defaults_methods_and_tuple_behaviour() -> None:
    assert Light._fields == Typed._fields == ("name", "size", "tags")
    assert Light._field_defaults == Typed._field_defaults == {"size": 1, "tags": ()}
    light, typed = Light("a", 20), Typed("a", 20)
    assert tuple(light) == tuple(typed) == ("a", 20, ())
    assert light.big and typed.big and not Light("a").big
    assert light.grown(5) == Light("a", 25) and typed.grown(5) == Typed("a", 25)
    assert type(light.grown(5)) is Light
    assert repr(light) == repr(typed) == "Sample(name='a', size=20, tags=())"
    for attribute in ("__doc__", "__module__", "__qualname__"):
        assert getattr(Light, attribute) == getattr(Typed, attribute), attribute
    with pytest.raises(AttributeError):
        light.name = "b"
    assert isinstance(light, tuple) and light == ("a", 20, ())
    with pytest.raises(TypeError):
        Light()


def test_defaults_before_required_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="defaults must come last"):

        class Broken(Record):
            first: int = 0
            second: int  # type: ignore[misc]


def test_contract_records_keep_their_behaviour() -> None:
    assert (
        RunLimits().time_limit_ms == 3000
        and RunLimits()._replace(time_limit_ms=5).time_limit_ms == 5
    )
    failed = RunResult.failure(ErrorType.TLE, "slow")
    assert failed.status is Status.FAILED and failed.error_type is ErrorType.TLE
    assert failed.replace(stdout="x") == failed._replace(stdout="x") != failed
