"""The response envelope `{code, success, message, data}` of the v1 API (docs/api.md), for
successes and errors alike.

`Envelope[T]` is each route's declared response model, so the OpenAPI document shows what
`data` holds; `ok` builds one. Refusals and errors are `ErrorEnvelope` (success false, data
null), which the exception handlers below render and `refusal` documents.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Literal, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

Data = TypeVar("Data")


class Envelope(BaseModel, Generic[Data]):
    """Every answer's envelope; `data` is the route's own model."""

    code: int = Field(description="The HTTP status, repeated.")
    success: bool
    message: str
    data: Data | None


class ErrorEnvelope(BaseModel):
    """A refusal or an error: `message` says what to fix."""

    code: int = Field(description="The HTTP status, repeated.")
    success: Literal[False]
    message: str = Field(description="What went wrong and what to change, for a person.")
    data: None


def ok(data: Data, message: str, code: int = 200) -> Envelope[Data]:
    return Envelope(code=code, success=True, message=message, data=data)


def error_body(code: int, message: str) -> dict[str, Any]:
    return ErrorEnvelope(code=code, success=False, message=message, data=None).model_dump()


def refusal(code: int, message: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a refusal: its schema, and the message as the
    example (the words a client sees; the schema cannot say them)."""
    return {
        "model": ErrorEnvelope,
        "description": message,
        "content": {"application/json": {"example": error_body(code, message)}},
    }


def respond_error(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=code, headers=headers)


class ApiError(Exception):
    """Raised anywhere in a request; rendered as the envelope with success=false."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts)


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "dict_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "datetime_parsing": "an ISO-8601 timestamp",
    "datetime_from_date_parsing": "an ISO-8601 timestamp",
    "datetime_type": "an ISO-8601 timestamp",
}


def describe_validation_error(exc: RequestValidationError) -> str:
    problems: list[str] = []
    for error in exc.errors():
        kind = str(error.get("type", ""))
        loc = tuple(error.get("loc", ()))
        field = _field_path(loc)
        if kind == "json_invalid":
            ctx = error.get("ctx") or {}
            detail = ctx.get("error", "")
            problems.append(f"the request body is not valid JSON ({detail}); send a JSON object")
        elif kind == "missing":
            if not field:
                problems.append("the request body is missing; send a JSON object")
            else:
                problems.append(f"`{field}` is required")
        elif kind in _TYPE_WORDS:
            if not field and kind in ("dict_type", "model_attributes_type"):
                problems.append(
                    "the request body must be a JSON object, sent with "
                    "Content-Type: application/json"
                )
            elif not field:
                problems.append(f"the request body must be {_TYPE_WORDS[kind]}")
            else:
                problems.append(f"`{field}` must be {_TYPE_WORDS[kind]}")
        else:
            msg = str(error.get("msg", "is invalid"))
            problems.append(f"`{field}`: {msg}" if field else msg)
    return "; ".join(dict.fromkeys(problems)) or "invalid request"


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return respond_error(exc.code, exc.message, exc.headers)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return respond_error(400, describe_validation_error(exc))


_HTTP_MESSAGES = {
    404: "not found",
    405: "method not allowed",
}


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if message in ("Not Found", "Method Not Allowed"):
        message = _HTTP_MESSAGES.get(exc.status_code, message)
    return respond_error(exc.status_code, message, dict(exc.headers or {}))


DATABASE_DOWN = "the database is unavailable; retry shortly (nothing was saved)"


async def database_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """A lost or refused database connection is the service's state, not a bug: 503 with
    Retry-After, like Redis being down. The pool pings before reuse, so requests succeed
    again as soon as the database is back."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return respond_error(503, DATABASE_DOWN, {"Retry-After": "5"})


async def unhandled_error_handler(_request: Request, _exc: Exception) -> JSONResponse:
    return respond_error(500, "internal server error")
