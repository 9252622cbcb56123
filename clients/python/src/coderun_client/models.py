"""Typed models of what the API sends and takes, as frozen dataclasses (no runtime dependency
beyond httpx).

Attribute names are the API's camelCase fields in snake_case; `from_json` ignores fields it
does not know, so a newer server does not break an older client. tests/clients checks every
field here against the server's /openapi.json.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

FINAL_STATUSES = frozenset({"success", "failed"})

Compare = Literal["exact", "trimmed", "tokens", "float"]

Model = TypeVar("Model", bound="_Model")


def camel(name: str) -> str:
    """`job_id` -> `jobId`: the API's spelling of an attribute."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    """`jobId` -> `job_id`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Model:
    """`from_json` for the dataclasses below; a field whose annotation names a model (or a
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


@dataclass(frozen=True)
class TestCase(_Model):
    """One input of a judged submission; `expected_output` None only collects the output."""

    __test__ = False  # not a pytest class, whatever imports it

    input: str
    expected_output: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input, "expectedOutput": self.expected_output}


@dataclass(frozen=True)
class Tolerance(_Model):
    """For compare="float": a number matches within `absolute` or `relative` of the expected."""

    absolute: float | None = None
    relative: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {camel(k): v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class SubmitRequest(_Model):
    """The body of POST /api/v1/runner/submit (and one item of a batch)."""

    code: str
    language: str
    input: str = ""
    test_cases: list[TestCase] | None = None
    compare: Compare | None = None
    tolerance: Tolerance | None = None
    stop_on_first_failure: bool | None = None
    command_line_arguments: list[str] | None = None
    compiler_options: list[str] | None = None
    callback_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON body: unset options are left out, so the server's defaults apply."""
        body: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.name == "test_cases":
                value = [case.to_json() for case in value]
            elif spec.name == "tolerance":
                value = value.to_json()
            body[camel(spec.name)] = value
        return body


@dataclass(frozen=True)
class Submission(_Model):
    """What submit answers: the job's id and its first status ("queued")."""

    job_id: str
    status: str


@dataclass(frozen=True)
class TestCaseResult(_Model):
    """One test case of a judged job: its own output and verdict."""

    __test__ = False

    index: int
    status: str
    stdout: str = ""
    stderr: str = ""
    sandbox_error_type: str | None = None
    sandbox_error_message: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    exit_code: int | None = None
    execution_time_ms: int | None = None
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class Job(_Model):
    """A job's result (GET /api/v1/runner/{jobId}/result). `status` is queued, running,
    success or failed; a failure's kind is `sandbox_error_type` (TLE, MLE, ...)."""

    job_id: str
    status: str
    language: str
    stdout: str = ""
    stderr: str = ""
    execution_time_ms: int | None = None
    queue_time_ms: int | None = None
    total_time_ms: int | None = None
    exit_code: int | None = None
    sandbox_error_type: str | None = None
    sandbox_error_message: str = ""
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    run_time_ms: int | None = None
    cpu_time_ms: int | None = None
    memory_kb: int | None = None
    compile_time_ms: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    test_cases: list[TestCaseResult] | None = None
    test_cases_passed: int | None = None
    test_cases_total: int | None = None

    @property
    def is_final(self) -> bool:
        """True once the job is success or failed; it never changes after that."""
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class ErrorInfo(_Model):
    """Why one item of a batch was refused (or, in batch results, why a jobId has none):
    `type` such as "BadRequest" or "NotFound", the HTTP status it would have had as `code`."""

    type: str
    message: str
    code: int | None = None


@dataclass(frozen=True)
class BatchEntry(_Model):
    """One item of a batch submit's answer: a job, or the error that refused that item."""

    index: int
    job_id: str | None = None
    status: str | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class DeliveryAttempt(_Model):
    attempt: int
    attempted_at: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Delivery(_Model):
    """A webhook delivery of a job's result: its state and every attempt so far."""

    delivery_id: str
    url: str
    state: str
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    next_attempt_at: str | None = None


@dataclass(frozen=True)
class WebhookSecret(_Model):
    """A new webhook signing secret ("whsec_..."): the API shows it only this once."""

    secret: str
    created_at: str | None = None
    previous_valid_until: str | None = None


@dataclass(frozen=True)
class WebhookSecretStatus(_Model):
    configured: bool
    created_at: str | None = None
    previous_valid_until: str | None = None


@dataclass(frozen=True)
class Account(_Model):
    email: str
    credits: int
    credits_used: int = 0
    early: bool = False
    has_api_key: bool = False
    api_key_prefix: str | None = None
    created_at: str | None = None


@dataclass(frozen=True)
class Language(_Model):
    key: str
    display: str
    starter: str = ""
