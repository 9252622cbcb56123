"""What the generated models (_generated.py) inherit: `from_json` and `as_json` for all, and
the few methods some of them have beyond their fields."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

FINAL_STATUSES = frozenset({"success", "failed"})

Model = TypeVar("Model", bound="_Model")


def camel(name: str) -> str:
    """`job_id` -> `jobId`: the API's spelling of an attribute."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    """`jobId` -> `job_id`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Model:
    """`from_json` for the generated dataclasses; a field whose annotation names a model (or a
    list of them) is read as that model."""

    @classmethod
    def from_json(cls: type[Model], data: Mapping[str, Any]) -> Model:
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        nested_models = _nested_models(cls)  # type: ignore[arg-type]  # classes are hashable
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = camel(spec.name)
            if key not in data:
                continue
            value = data[key]
            nested = nested_models.get(spec.name)
            if nested is not None and value is not None:
                if isinstance(value, list):
                    value = [nested.from_json(item) for item in value]
                else:
                    value = nested.from_json(value)
            values[spec.name] = value
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        """Every field under the API's camelCase name, as the server sends it."""
        return {
            camel(spec.name): _plain(getattr(self, spec.name))
            for spec in dataclasses.fields(self)  # type: ignore[arg-type]
        }


@functools.cache
def _nested_models(cls: type[_Model]) -> dict[str, type[_Model]]:
    """The fields of `cls` that hold a model or a list of models, and that model."""
    hints = get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    found = {spec.name: _model_in(hints[spec.name]) for spec in fields}
    return {name: model for name, model in found.items() if model is not None}


def _model_in(hint: Any) -> type[_Model] | None:
    """`TestCaseResult` of `list[TestCaseResult] | None`; None for a hint naming no model."""
    if get_origin(hint) is None and isinstance(hint, type) and issubclass(hint, _Model):
        return hint
    for arg in get_args(hint):
        model = _model_in(arg)
        if model is not None:
            return model
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.as_json()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# The methods of single models. Each class declares the fields it reads (the generated
# dataclass that inherits it defines them); only in builtin types, as get_type_hints reads
# these annotations too.


class CaseBody:
    input: str
    expected_output: str | None

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input, "expectedOutput": self.expected_output}


class ToleranceBody:
    absolute: float | None
    relative: float | None

    def to_json(self) -> dict[str, Any]:
        values = {"absolute": self.absolute, "relative": self.relative}
        return {key: value for key, value in values.items() if value is not None}


class SubmitRequestBody:
    def to_json(self) -> dict[str, Any]:
        """The JSON body: unset options are left out, so the server's defaults apply."""
        body: dict[str, Any] = {}
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.name == "test_cases":
                value = [case.to_json() for case in value]
            elif spec.name == "tolerance":
                value = value.to_json()
            body[camel(spec.name)] = value
        return body


class JobState:
    status: str

    @property
    def is_final(self) -> bool:
        """True once the job is success or failed; it never changes after that."""
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == "success"
