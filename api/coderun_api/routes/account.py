"""The signed-in account: balance, usage and its API key."""

from __future__ import annotations

from coderun_sandbox.contract import iso_utc
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from coderun_api.accounts import active_key, rotate_api_key
from coderun_api.deps import CurrentPrincipal, SessionDep, SessionPrincipal, StateDep
from coderun_api.envelope import openapi_example, respond
from coderun_api.models import Account

router = APIRouter(prefix="/api/v1/account", tags=["account"])


@router.get(
    "",
    summary="Balance, usage and key status",
    responses={
        200: openapi_example(
            200,
            "account fetched successfully",
            {
                "email": "ada@example.com",
                "credits": 97,
                "creditsUsed": 3,
                "early": False,
                "hasApiKey": True,
                "apiKeyPrefix": "nr_live_Ab3x",
                "createdAt": "2026-01-05T15:26:30.796Z",
            },
        ),
        401: openapi_example(401, "missing X-API-KEY header"),
    },
)
def get_account(principal: CurrentPrincipal, db: SessionDep) -> JSONResponse:
    account = db.get(Account, principal.account_id)
    assert account is not None
    key = active_key(db, principal.account_id)
    return respond(
        {
            "email": account.email,
            "credits": account.credits,
            "creditsUsed": account.credits_used,
            "early": account.early,
            "hasApiKey": key is not None,
            "apiKeyPrefix": key.prefix if key else None,
            "createdAt": iso_utc(account.created_at),
        },
        "account fetched successfully",
    )


@router.post(
    "/api-key",
    status_code=201,
    summary="Generate a new API key (revokes the previous one at once)",
    description="Needs the dashboard session and `X-Requested-With: coderun-web`. "
    "The key is shown only in this response; store it securely.",
    responses={
        201: openapi_example(201, "api key generated", {"apiKey": "nr_live_" + "x" * 43}),
        401: openapi_example(401, "sign in first"),
        403: openapi_example(
            403, "requests made with the dashboard session must send X-Requested-With"
        ),
    },
)
def generate_api_key(principal: SessionPrincipal, state: StateDep) -> JSONResponse:
    key = rotate_api_key(state.engine, principal.account_id)
    return respond({"apiKey": key}, "api key generated; it is shown only once", 201)
