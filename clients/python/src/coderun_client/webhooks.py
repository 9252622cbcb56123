"""Verify a webhook delivery: Standard Webhooks signatures (https://www.standardwebhooks.com/).

A delivery carries `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`,
a space-separated list of `v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`, keyed
with the secret's base64-decoded bytes (the part after `whsec_`). During a secret rotation's
grace period the list holds one signature per valid secret; any one matching is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import WebhookVerificationError
from .models import Job

SECRET_PREFIX = "whsec_"
# The Standard Webhooks reference libraries' window: older or newer deliveries are replays
# (or a badly wrong clock) and are refused.
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery.

    `id` is its webhook-id, the same on every retry of it: deduplicate by it. `timestamp` is
    its webhook-timestamp (unix seconds), `job` the result it carries, `envelope` the whole
    JSON body as signed.
    """

    id: str
    timestamp: int
    job: Job
    envelope: dict[str, Any]


def _secret_bytes(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(
            "the webhook secret is not base64 after 'whsec_'; copy it exactly as the API showed it"
        ) from None
    if not key:
        raise WebhookVerificationError("the webhook secret is empty")
    return key


def sign_webhook(secret: str, webhook_id: str, timestamp: int, payload: bytes | str) -> str:
    """The `v1,<signature>` entry that `secret` gives this delivery."""
    body = payload.encode() if isinstance(payload, str) else payload
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """Check a delivery and return it parsed; raises WebhookVerificationError otherwise.

    `payload` must be the raw request body exactly as received (re-serialised JSON does not
    verify). `secret` may be a list, e.g. the old and the new one while you roll yours out.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    webhook_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp_text),
            ("webhook-signature", signatures),
        )
        if not value
    ]
    if missing or webhook_id is None or timestamp_text is None or signatures is None:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError(
            f"webhook-timestamp is not unix seconds: {timestamp_text!r}"
        ) from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError(
            f"webhook-timestamp {timestamp} is {current - timestamp:+.0f} s from now, outside "
            f"the {tolerance_seconds} s tolerance (a replay, or a wrong clock)"
        )
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("no secret given")
    expected = [sign_webhook(s, webhook_id, timestamp, payload) for s in secrets]
    offered = [entry for entry in signatures.split() if entry.startswith("v1,")]
    # compare_digest for each pair: the time taken says nothing about how close a forgery is.
    if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
        raise WebhookVerificationError("no webhook-signature matches the secret")
    try:
        envelope = json.loads(payload)
    except ValueError as error:
        raise WebhookVerificationError(f"the signed body is not JSON: {error}") from None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict):
        raise WebhookVerificationError("the signed body is not a result envelope")
    return WebhookEvent(webhook_id, timestamp, Job.from_json(data), envelope)
