"""The submit side of a callbackUrl: checked before the job is accepted, recorded after."""

from __future__ import annotations

from coderun_api.envelope import ApiError
from coderun_api.state import AppState
from coderun_api.webhooks.ssrf import Allowlist, CallbackRefused, check_url

NO_SECRET = (
    "callbackUrl needs a webhook secret to sign deliveries with: create one with "
    "POST /api/v1/account/webhook-secret (or in the dashboard) first"
)


def check_callback(state: AppState, account_id: int, url: str) -> None:
    """Raise a 400 that says what to fix if `url` may not receive this account's results.
    Blocking (DNS): call it from a worker thread, as sync routes are."""
    if state.webhooks.secret_status(account_id) is None:
        raise ApiError(400, NO_SECRET)
    try:
        check_url(url, Allowlist.parse(state.settings.webhook_allowlist_entries))
    except CallbackRefused as refused:
        raise ApiError(400, str(refused)) from None


def record_callback(state: AppState, job_id: str, account_id: int, url: str) -> None:
    """Store the job's delivery (once, also for a replayed submission) and wake the sender
    in case the job is already final."""
    state.webhooks.ensure_delivery(job_id, account_id, url)
    state.sender.wake()
