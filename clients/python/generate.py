"""Writes the Python client's wire models from the API's OpenAPI document, as
`openapi-typescript` writes the TypeScript client's types (clients/typescript/src/schema.ts).

    .venv/bin/python clients/python/generate.py            # or: make clients-openapi
    .venv/bin/python clients/python/generate.py --check    # exit 1 if the file is stale

reads clients/openapi.json and writes src/coderun_client/_generated.py: one frozen dataclass
per model below, its fields, their types and JSON names from the schema it mirrors.
`coderun_client.models` re-exports them; `_base.py` holds what they inherit (from_json,
as_json, and the few methods some models have). Standard library only.

The document says what the server sends; MODELS says how the client reads it, where that is
more lenient than the schema (a client must not break on an older or newer server):

- `positional` fields have no default: every answer (or request) has them.
- Any other field has one: None where the schema allows null (or for an `optional` field,
  which the client reads as `T | None` although the schema requires it), else the schema's
  default, else the empty value of its type ("", False, 0, []).
- Fields come in this order: positional ones, then those named in `first`, then the
  schema's required fields in the order the API declares them, then the rest by name.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCUMENT = HERE.parent / "openapi.json"
OUTPUT = HERE / "src" / "coderun_client" / "_generated.py"
LINE_LENGTH = 100


@dataclass(frozen=True)
class ModelSpec:
    """One client model: the schema(s) it mirrors and how the client reads them. The lists
    are JSON names separated by spaces, so that a model is one row of MODELS."""

    name: str
    # The component it mirrors; several for one class that reads any of a union's answers
    # (a field not in every one of them is optional).
    schemas: str
    positional: str = ""
    first: str = ""  # fields that come next after the positional ones
    optional: str = ""
    omit: str = ""  # properties the client does not read (yet)
    base: str = ""  # a class of _base.py with the model's own methods
    doc: str = ""


# Enums, by the name the client gives them.
ALIASES = {"CompareMode": "Compare"}

# In dependency order: a model comes after the models its fields hold.
MODELS = (
    ModelSpec(
        "TestCase",
        "TestCaseIn",
        "input",
        base="CaseBody",
        doc="One input of a judged submission; `expected_output` None only collects the output.",
    ),
    ModelSpec(
        "Tolerance",
        "ToleranceIn",
        optional="absolute relative",
        base="ToleranceBody",
        doc='For compare="float": a number matches within `absolute` or `relative` of the'
        " expected.",
    ),
    ModelSpec(
        "SubmitRequest",
        "SubmitRequest",
        "code language",
        first="input testCases compare tolerance stopOnFirstFailure commandLineArguments"
        " compilerOptions",
        optional="stopOnFirstFailure",
        base="SubmitRequestBody",
        doc="The body of POST /api/v1/runner/submit (and one item of a batch).",
    ),
    ModelSpec(
        "Submission",
        "Submitted",
        "jobId status",
        doc='What submit answers: the job\'s id and its first status ("queued").',
    ),
    ModelSpec(
        "TestCaseResult",
        "CaseResultOut",
        "index status",
        first="stdout stderr",
        doc="One test case of a judged job: its own output and verdict.",
    ),
    ModelSpec(
        "Job",
        "JobResult",
        "jobId status language",
        optional="queuedAt",
        base="JobState",
        doc="A job's result (GET /api/v1/runner/{jobId}/result). `status` is queued, running,\n"
        "success or failed; a failure's kind is `sandbox_error_type` (TLE, MLE, ...).",
    ),
    ModelSpec(
        "ErrorInfo",
        "ItemError",
        "type message",
        optional="code",
        doc="Why one item of a batch was refused (or, in batch results, why a jobId has none):\n"
        '`type` such as "BadRequest" or "NotFound", the HTTP status it would have had as `code`.',
    ),
    ModelSpec(
        "BatchEntry",
        "BatchAccepted BatchRefused",
        "index",
        doc="One item of a batch submit's answer: a job, or the error that refused that item.",
    ),
    ModelSpec("DeliveryAttempt", "DeliveryAttempt", "attempt attemptedAt", optional="durationMs"),
    ModelSpec(
        "Delivery",
        "Delivery",
        "deliveryId url state",
        doc="A webhook delivery of a job's result: its state and every attempt so far.",
    ),
    ModelSpec(
        "WebhookSecret",
        "WebhookSecretCreated",
        "secret",
        optional="createdAt",
        doc='A new webhook signing secret ("whsec_..."): the API shows it only this once.',
    ),
    ModelSpec("WebhookSecretStatus", "WebhookSecretStatus", "configured"),
    ModelSpec("Account", "AccountOut", "email credits", optional="createdAt"),
    ModelSpec("Language", "LanguageOut", "key display"),
)

EMPTY = {"string": '""', "boolean": "False", "integer": "0", "number": "0.0"}
SCALARS = {"string": "str", "boolean": "bool", "integer": "int", "number": "float", "null": "None"}


def snake(name: str) -> str:
    """`jobId` -> `job_id` (the client's `models.snake`, which must not be imported here: the
    generator runs without the package installed)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Field:
    name: str
    annotation: str
    default: str | None  # Python source; None: no default


@dataclass
class Generator:
    schemas: Mapping[str, Any]
    names: dict[str, str] = field(default_factory=dict)  # schema -> the client's name

    def __post_init__(self) -> None:
        self.names.update(ALIASES)
        for spec in MODELS:
            for schema in spec.schemas.split():
                self.names.setdefault(schema, spec.name)

    def annotation(self, schema: Mapping[str, Any]) -> str:
        if "$ref" in schema:
            target = str(schema["$ref"]).rsplit("/", 1)[-1]
            if target not in self.names:
                raise SystemExit(f"no client model for the schema {target}: add it to MODELS")
            return self.names[target]
        if "anyOf" in schema:
            return " | ".join(self.annotation(option) for option in schema["anyOf"])
        kind = schema.get("type")
        if kind == "array":
            return f"list[{self.annotation(schema['items'])}]"
        if kind not in SCALARS:
            raise SystemExit(f"a schema the generator cannot type: {json.dumps(schema)}")
        return SCALARS[kind]

    def fields(self, spec: ModelSpec) -> Iterator[Field]:
        members = [self.schemas[name] for name in spec.schemas.split()]
        properties: dict[str, Any] = {}
        for member in members:
            properties.update(member["properties"])
        required_everywhere = set.intersection(*(set(m.get("required", ())) for m in members))
        declared = [key for m in members for key in m.get("required", ())]
        omit = set(spec.omit.split())
        order = [*spec.positional.split(), *spec.first.split()]
        order += [k for k in dict.fromkeys(declared) if k not in order]
        order += sorted(k for k in properties if k not in order)
        order = [k for k in order if k not in omit]
        named = {*order, *spec.optional.split(), *omit}
        if not named <= set(properties):  # a typo in MODELS, or a field the API dropped
            raise SystemExit(f"{spec.name}: no properties {sorted(named - set(properties))}")
        for key in order:
            yield self.field(spec, key, properties[key], key in required_everywhere)

    def field(self, spec: ModelSpec, key: str, schema: Mapping[str, Any], required: bool) -> Field:
        annotation = self.annotation(schema)
        name = snake(key)
        if keyword.iskeyword(name):
            raise SystemExit(f"{spec.name}.{key}: a Python keyword")
        if key in spec.positional.split():
            return Field(name, annotation, None)
        nullable = annotation.endswith("| None")
        in_some_answers = len(spec.schemas.split()) > 1 and not required  # of a union's answers
        if not nullable and (key in spec.optional.split() or in_some_answers):
            annotation, nullable = f"{annotation} | None", True
        if nullable:
            return Field(name, annotation, "None")
        if "default" in schema:
            return Field(name, annotation, json.dumps(schema["default"]))
        if schema.get("type") == "array":
            return Field(name, annotation, "field(default_factory=list)")
        return Field(name, annotation, EMPTY[schema["type"]])

    def enum(self, schema_name: str) -> str:
        values = ", ".join(json.dumps(value) for value in self.schemas[schema_name]["enum"])
        return f"{self.names[schema_name]} = Literal[{values}]"

    def model(self, spec: ModelSpec) -> list[str]:
        bases = f"{spec.base}, _Model" if spec.base else "_Model"
        lines = ["", "", "@dataclass(frozen=True)", f"class {spec.name}({bases}):"]
        if spec.doc:
            doc = spec.doc.replace("\n", "\n    ")
            lines += [f'    """{doc}"""', ""]
        if spec.name.startswith("Test"):
            lines += ["    __test__ = False  # not a pytest class, whatever imports it", ""]
        for item in self.fields(spec):
            default = "" if item.default is None else f" = {item.default}"
            lines.append(f"    {item.name}: {item.annotation}{default}")
        return lines


def render(document: Mapping[str, Any]) -> str:
    """The module, from the document."""
    generator = Generator(document["components"]["schemas"])
    names = sorted([*ALIASES.values(), *(spec.name for spec in MODELS)])
    bases = sorted({spec.base for spec in MODELS if spec.base})
    lines = [
        "# generated by clients/python/generate.py from clients/openapi.json: do not edit.",
        "# Regenerate with `make clients-openapi`; tests/clients/test_openapi_drift.py checks it.",
        '"""The client\'s wire models, as the API\'s OpenAPI document declares them (the public',
        'names: coderun_client.models)."""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass, field",
        "from typing import Literal",
        "",
        f"from ._base import {', '.join([*bases, '_Model'])}",
        "",
        "__all__ = [",
        *(f'    "{name}",' for name in names),
        "]",
        "",
        *(generator.enum(schema) for schema in ALIASES),
    ]
    for spec in MODELS:
        lines += generator.model(spec)
    text = "\n".join(lines) + "\n"
    too_long = [line for line in text.splitlines() if len(line) > LINE_LENGTH]
    if too_long:
        raise SystemExit(f"lines longer than {LINE_LENGTH}: {too_long}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render(json.loads(DOCUMENT.read_text()))
    if args.check:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run `make clients-openapi`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
