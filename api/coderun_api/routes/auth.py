"""Sign-up, sign-in and sign-out for the dashboard (a session cookie)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlmodel import Session

from coderun_api import accounts
from coderun_api.accounts import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    EmailTaken,
    account_by_email,
    create_account,
    end_session,
    start_session,
)
from coderun_api.deps import (
    AuthRateLimit,
    SessionDep,
    SigninAttempts,
    StateDep,
    optional_session,
)
from coderun_api.envelope import ApiError, Envelope, ok, refusal
from coderun_api.security import SESSION_COOKIE, dummy_hash, verify_password
from coderun_api.state import AppState

# Now, at app start, not on the first sign-in of an unknown email (security.dummy_hash).
dummy_hash()
router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[AuthRateLimit])
TOO_MANY = refusal(429, "too many sign-in requests")


class Credentials(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "correct horse"}]}
    )

    # Bounds declared for generated clients; the routes check them with their own messages.
    email: Annotated[StrictStr, Field(json_schema_extra={"format": "email", "maxLength": 320})]
    password: Annotated[
        StrictStr, Field(json_schema_extra={"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD})
    ]


class SignedIn(BaseModel):
    email: str
    credits: int = Field(description="The balance: each successful run costs 1 credit.")


def normalize_email(email: str) -> str:
    try:
        return accounts.normalize_email(email)
    except accounts.InvalidEmail as error:
        raise ApiError(400, str(error)) from error


def credits_for_new_account(state: AppState, early: bool) -> int:
    return state.settings.early_credits if early else state.settings.free_credits


def _start_session(db: Session, state: AppState, account_id: int, response: Response) -> None:
    ttl = timedelta(hours=state.settings.session_ttl_hours)
    token = start_session(db, account_id, ttl)
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
        400: refusal(400, "`password` must be at least 8 characters"),
        409: refusal(409, "an account with this email already exists"),
        429: TOO_MANY,
    },
)
def signup(
    body: Credentials, response: Response, db: SessionDep, state: StateDep
) -> Envelope[SignedIn]:
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
    assert account.id is not None
    _start_session(db, state, account.id, response)
    return ok(SignedIn(email=account.email, credits=account.credits), "account created", 201)


@router.post(
    "/signin",
    summary="Sign in",
    responses={401: refusal(401, "wrong email or password"), 429: TOO_MANY},
)
def signin(
    body: Credentials, request: Request, response: Response, db: SessionDep, state: StateDep
) -> Envelope[SignedIn]:
    email = body.email.strip().lower()
    attempts = SigninAttempts(request, state, email)
    attempts.check()
    account = account_by_email(db, email)
    # verify_password runs one argon2 verification even for an unknown email.
    if not verify_password(account.password_hash if account else None, body.password):
        attempts.failed()
        raise ApiError(401, "wrong email or password")
    assert account is not None and account.id is not None
    attempts.succeeded()
    _start_session(db, state, account.id, response)
    return ok(SignedIn(email=account.email, credits=account.credits), "signed in")


@router.post(
    "/signout",
    summary="Sign out",
)
def signout(
    request: Request, response: Response, db: SessionDep, state: StateDep
) -> Envelope[None]:
    principal = optional_session(request, db)
    if principal is not None:
        end_session(db, principal.session_id)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
    )
    return ok(None, "signed out")
