"""Sign-up, sign-in and sign-out for the dashboard (a session cookie)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from coderun_sandbox.contract import utc_now
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlmodel import Session, col, delete, select

from coderun_api.accounts import EmailTaken, create_account
from coderun_api.deps import (
    AuthRateLimit,
    SessionDep,
    SigninAttempts,
    StateDep,
    optional_session,
)
from coderun_api.envelope import ApiError, openapi_example, respond
from coderun_api.models import Account, WebSession
from coderun_api.security import (
    SESSION_COOKIE,
    new_session_token,
    sha256_hex,
    verify_password,
)
from coderun_api.state import AppState

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[AuthRateLimit])

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class Credentials(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "correct horse"}]}
    )

    # Bounds declared for generated clients; the routes check them with their own messages.
    email: Annotated[StrictStr, Field(json_schema_extra={"format": "email", "maxLength": 320})]
    password: Annotated[
        StrictStr, Field(json_schema_extra={"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD})
    ]


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ApiError(400, "`email` must be an email address such as ada@example.com")
    return email


def credits_for_new_account(state: AppState, early: bool) -> int:
    return state.settings.early_credits if early else state.settings.free_credits


def _start_session(db: Session, state: AppState, account_id: int, response: JSONResponse) -> None:
    # Housekeeping: this account's expired sessions go when it signs in again.
    db.exec(  # type: ignore[call-overload]
        delete(WebSession).where(
            col(WebSession.account_id) == account_id, col(WebSession.expires_at) <= utc_now()
        )
    )
    token = new_session_token()
    ttl = timedelta(hours=state.settings.session_ttl_hours)
    db.add(
        WebSession(account_id=account_id, token_hash=sha256_hex(token), expires_at=utc_now() + ttl)
    )
    db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
        path="/",
    )


@router.post(
    "/signup",
    status_code=201,
    summary="Create an account and sign in",
    responses={
        201: openapi_example(201, "account created", {"email": "ada@example.com", "credits": 100}),
        400: openapi_example(400, "`password` must be at least 8 characters"),
        409: openapi_example(409, "an account with this email already exists"),
        429: openapi_example(429, "too many sign-in requests"),
    },
)
def signup(body: Credentials, db: SessionDep, state: StateDep) -> JSONResponse:
    email = normalize_email(body.email)
    if len(body.password) < MIN_PASSWORD:
        raise ApiError(400, f"`password` must be at least {MIN_PASSWORD} characters")
    if len(body.password) > MAX_PASSWORD:
        raise ApiError(400, f"`password` must be at most {MAX_PASSWORD} characters")
    try:
        account = create_account(
            state.engine,
            email,
            password=body.password,
            credits=credits_for_new_account(state, early=state.settings.signups_early),
            early=state.settings.signups_early,
        )
    except EmailTaken:
        raise ApiError(409, "an account with this email already exists; sign in instead") from None
    response = respond({"email": account.email, "credits": account.credits}, "account created", 201)
    assert account.id is not None
    _start_session(db, state, account.id, response)
    return response


@router.post(
    "/signin",
    summary="Sign in",
    responses={
        200: openapi_example(200, "signed in", {"email": "ada@example.com", "credits": 100}),
        401: openapi_example(401, "wrong email or password"),
        429: openapi_example(429, "too many sign-in requests"),
    },
)
def signin(body: Credentials, request: Request, db: SessionDep, state: StateDep) -> JSONResponse:
    email = body.email.strip().lower()
    attempts = SigninAttempts(request, state, email)
    attempts.check()
    account = db.exec(select(Account).where(col(Account.email) == email)).first()
    # verify_password runs one argon2 verification even for an unknown email.
    if not verify_password(account.password_hash if account else None, body.password):
        attempts.failed()
        raise ApiError(401, "wrong email or password")
    assert account is not None and account.id is not None
    attempts.succeeded()
    response = respond({"email": account.email, "credits": account.credits}, "signed in")
    _start_session(db, state, account.id, response)
    return response


@router.post(
    "/signout",
    summary="Sign out",
    responses={200: openapi_example(200, "signed out")},
)
def signout(request: Request, db: SessionDep, state: StateDep) -> JSONResponse:
    principal = optional_session(request, db)
    if principal is not None:
        db.exec(delete(WebSession).where(col(WebSession.id) == principal.session_id))  # type: ignore[call-overload]
        db.commit()
    response = respond(None, "signed out")
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
    )
    return response
