"""Request dependencies as Annotated aliases; each raises the HTTP error itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from coderun_sandbox.contract import parse_iso_utc
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader
from limits import RateLimitItem
from sqlmodel import Session

from coderun_api.accounts import account_for_key, signed_in
from coderun_api.envelope import ApiError
from coderun_api.models import Account
from coderun_api.ratelimit import Decision, LimiterUnavailable
from coderun_api.security import (
    CSRF_HEADER,
    CSRF_VALUE,
    SESSION_COOKIE,
    api_key_well_formed,
    sha256_hex,
)
from coderun_api.state import AppState

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

api_key_scheme = APIKeyHeader(
    name="X-API-KEY",
    auto_error=False,
    description="Your API key (`nr_live_...`), from the dashboard.",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Dashboard session. Unsafe methods also need `X-Requested-With: coderun-web`.",
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.coderun
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


@dataclass(frozen=True)
class Principal:
    account: Account
    via: Literal["api_key", "session"]
    session_id: int | None = None

    @property
    def account_id(self) -> int:
        assert self.account.id is not None
        return self.account.id


MISSING_KEY = (
    "missing X-API-KEY header: send your API key (it starts with nr_live_) in the X-API-KEY header"
)
MALFORMED_KEY = "X-API-KEY is malformed: API keys start with nr_live_ followed by 43 characters"
UNKNOWN_KEY = (
    "X-API-KEY is not a valid API key (unknown or revoked); generate a new one in the dashboard"
)


def _account_for_key(db: Session, key: str) -> Account:
    if not api_key_well_formed(key):
        raise ApiError(401, MALFORMED_KEY)
    account = account_for_key(db, key)
    if account is None:
        raise ApiError(401, UNKNOWN_KEY)
    return account


def optional_session(request: Request, db: Session) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = signed_in(db, token)
    if found is None:
        return None
    row, account = found
    if request.method in UNSAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise ApiError(
            403, f"requests made with the dashboard session must send `{CSRF_HEADER}: {CSRF_VALUE}`"
        )
    return Principal(account=account, via="session", session_id=row.id)


def require_principal(
    request: Request,
    db: SessionDep,
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    _cookie: Annotated[str | None, Depends(session_scheme)],
) -> Principal:
    """X-API-KEY if sent (a bad key is a 401 even with a session); else the session."""
    if api_key is not None:
        principal = Principal(account=_account_for_key(db, api_key.strip()), via="api_key")
    else:
        found = optional_session(request, db)
        if found is None:
            raise ApiError(401, MISSING_KEY)
        principal = found
    _release_connection(db)
    return principal


def _release_connection(db: Session) -> None:
    """End the read transaction so its pooled connection goes back now, not at the end of
    the request: a `?wait=30` long-poll must not hold one of the pool's few connections.
    (commit, not rollback: nothing is pending, and the loaded account stays usable.)"""
    db.commit()


def require_session(
    request: Request,
    db: SessionDep,
    _cookie: Annotated[str | None, Depends(session_scheme)],
) -> Principal:
    principal = optional_session(request, db)
    if principal is None:
        raise ApiError(401, "sign in first: this route needs the dashboard session")
    _release_connection(db)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
SessionPrincipal = Annotated[Principal, Depends(require_session)]


def client_address(request: Request, state: AppState) -> str:
    """The client's address: the peer's, or behind `trusted_proxy_hops` proxies that each
    append the address they saw to X-Forwarded-For, the entry that many places from the
    right. Entries further left were written by the client itself and prove nothing."""
    peer = request.client.host if request.client else "unknown"
    if not state.settings.trust_proxy_headers:
        return peer
    # Several X-Forwarded-For headers are one list, in order (RFC 9110 field lines).
    entries = [
        entry.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for entry in header.split(",")
    ]
    hops = state.settings.trusted_proxy_hops
    if len(entries) < hops or not entries[-hops]:
        # Fewer entries than proxies: the request did not come through all of them.
        return peer
    return entries[-hops]


def _limiter_down() -> ApiError:
    return ApiError(
        503, "rate limiting is unavailable (Redis); retry shortly", {"Retry-After": "5"}
    )


def _hit(state: AppState, item: RateLimitItem, *identifiers: str) -> Decision:
    try:
        return state.limits.hit(item, *identifiers)
    except LimiterUnavailable:
        raise _limiter_down() from None


class SigninAttempts:
    """Failed sign-ins for one (email, client address) pair, with a growing wait.

    Keyed on the pair, not the email alone, so guessing someone's password from one address
    never slows their own sign-in from another: a backoff, never a lockout. The email is
    hashed so the shared store holds no addresses of accounts.
    """

    def __init__(self, request: Request, state: AppState, email: str) -> None:
        self._limits = state.limits
        self._ids = ("signin-failures", sha256_hex(email), client_address(request, state))

    def _guarded(self, call: Callable[..., Decision | None]) -> Decision | None:
        try:
            return call(self._limits.signin_failures, *self._ids)
        except LimiterUnavailable:
            raise _limiter_down() from None

    def check(self) -> None:
        decision = self._guarded(self._limits.check)
        if decision is not None and not decision.allowed:
            raise ApiError(
                429,
                "too many failed sign-ins for this email from this address: retry after "
                f"{decision.retry_after_seconds} s",
                {"Retry-After": str(decision.retry_after_seconds)},
            )

    def failed(self) -> None:
        self._guarded(self._limits.count)

    def succeeded(self) -> None:
        self._guarded(self._limits.reset)


def _refuse_over_limit(decision: Decision, too_many: str) -> None:
    """429 with Retry-After once `decision` says the limit is used up."""
    if not decision.allowed:
        raise ApiError(
            429,
            f"{too_many}; retry after {decision.retry_after_seconds} s",
            {"Retry-After": str(decision.retry_after_seconds)},
        )


def auth_rate_limit(request: Request, state: StateDep) -> None:
    decision = _hit(state, state.limits.auth, "auth", client_address(request, state))
    _refuse_over_limit(
        decision,
        f"too many sign-in requests: the limit is {state.settings.auth_rate_limit} per client",
    )


AuthRateLimit = Depends(auth_rate_limit)


def submit_rate_limit(principal: CurrentPrincipal, state: StateDep) -> None:
    decision = _hit(state, state.limits.submit, "submit", str(principal.account_id))
    _refuse_over_limit(
        decision,
        f"too many submissions: the limit is {state.settings.submit_rate_limit} per API key",
    )


def parse_timestamp(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_iso_utc(value)
    except OverflowError:
        # A well-formed timestamp whose UTC equivalent falls outside years 1-9999.
        raise ApiError(400, f"`{name}` must lie between years 1 and 9999 in UTC") from None
    except ValueError:
        raise ApiError(
            400, f"`{name}` must be an ISO-8601 timestamp such as 2026-01-05T15:26:30.796Z"
        ) from None
