"""The signed-in account: balance, usage and its API key."""

from __future__ import annotations

from coderun_sandbox.contract import iso_utc
from fastapi import APIRouter
from pydantic import Field

from coderun_api.accounts import active_key, rotate_api_key
from coderun_api.deps import CurrentPrincipal, SessionDep, SessionPrincipal, StateDep
from coderun_api.envelope import Envelope, ok, refusal
from coderun_api.results import CamelModel

router = APIRouter(prefix="/api/v1/account", tags=["account"])


class AccountOut(CamelModel):
    email: str
    credits: int = Field(description="The balance: each successful run costs 1 credit.")
    credits_used: int
    early: bool = Field(description="Whether the account is an early user's.")
    has_api_key: bool
    api_key_prefix: str | None = Field(
        description="The first characters of the active key; null without one."
    )
    created_at: str = Field(description="ISO-8601 UTC, milliseconds.")


class NewApiKey(CamelModel):
    api_key: str = Field(description="nr_live_ + 43 characters. Shown only in this response.")


@router.get(
    "",
    summary="Balance, usage and key status",
    responses={401: refusal(401, "missing X-API-KEY header")},
)
def get_account(principal: CurrentPrincipal, db: SessionDep) -> Envelope[AccountOut]:
    account = principal.account
    key = active_key(db, principal.account_id)
    return ok(
        AccountOut(
            email=account.email,
            credits=account.credits,
            credits_used=account.credits_used,
            early=account.early,
            has_api_key=key is not None,
            api_key_prefix=key.prefix if key else None,
            created_at=iso_utc(account.created_at),
        ),
        "account fetched successfully",
    )


@router.post(
    "/api-key",
    status_code=201,
    summary="Generate a new API key (revokes the previous one at once)",
    description="Needs the dashboard session and `X-Requested-With: coderun-web`. "
    "The key is shown only in this response; store it securely.",
    responses={
        401: refusal(401, "sign in first"),
        403: refusal(403, "requests made with the dashboard session must send X-Requested-With"),
    },
)
def generate_api_key(principal: SessionPrincipal, state: StateDep) -> Envelope[NewApiKey]:
    key = rotate_api_key(state.engine, principal.account_id)
    return ok(NewApiKey(api_key=key), "api key generated; it is shown only once", 201)
