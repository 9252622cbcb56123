"""The account's webhook signing secret: create or rotate it (shown once), see its state."""

from __future__ import annotations

from typing import Any

from coderun_sandbox.contract import iso_utc
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from coderun_api.deps import CurrentPrincipal, StateDep
from coderun_api.envelope import Envelope, ok, refusal
from coderun_api.models import WebhookSecret
from coderun_api.results import CamelModel, iso_or_none

NO_KEY: dict[int | str, dict[str, Any]] = {401: refusal(401, "missing X-API-KEY header")}
router = APIRouter(prefix="/api/v1/account", tags=["account"], responses=NO_KEY)


class WebhookSecretCreated(CamelModel):
    secret: str = Field(description="whsec_ + base64 of 32 bytes. Shown only in this response.")
    created_at: str
    previous_valid_until: str | None = Field(
        description="Until when deliveries are also signed with the previous secret."
    )

    @classmethod
    def of(cls, row: WebhookSecret) -> WebhookSecretCreated:
        return cls(
            secret=row.secret,
            created_at=iso_utc(row.created_at),
            previous_valid_until=iso_or_none(row.previous_valid_until),
        )


class WebhookSecretStatus(CamelModel):
    configured: bool
    created_at: str | None
    previous_valid_until: str | None

    @classmethod
    def of(cls, row: WebhookSecret | None) -> WebhookSecretStatus:
        if row is None:
            return cls(configured=False, created_at=None, previous_valid_until=None)
        return cls(
            configured=True,
            created_at=iso_utc(row.created_at),
            previous_valid_until=iso_or_none(row.previous_valid_until),
        )


@router.post(
    "/webhook-secret",
    summary="Create or rotate the webhook signing secret",
    description=(
        "Returns a new secret, shown only in this response. After a rotation the previous "
        "secret keeps signing deliveries (a second entry in `webhook-signature`) until "
        "`previousValidUntil`, so receivers can switch without losing a delivery. With the "
        "dashboard session, send `X-Requested-With: coderun-web`."
    ),
)
async def rotate_webhook_secret(
    principal: CurrentPrincipal, state: StateDep
) -> Envelope[WebhookSecretCreated]:
    row = await run_in_threadpool(state.webhooks.rotate_secret, principal.account_id)
    return ok(WebhookSecretCreated.of(row), "webhook secret created; it is shown only once")


@router.get("/webhook-secret", summary="Whether a webhook secret is set (never the secret itself)")
async def webhook_secret_status(
    principal: CurrentPrincipal, state: StateDep
) -> Envelope[WebhookSecretStatus]:
    row = await run_in_threadpool(state.webhooks.secret_status, principal.account_id)
    return ok(WebhookSecretStatus.of(row), "webhook secret status fetched successfully")
