"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is "whsec_" + base64 of 32 random bytes; the signature of one delivery is
"v1," + base64(HMAC-SHA256(key=the decoded bytes, msg="{id}.{timestamp}.{body}")). During a
rotation's grace period the `webhook-signature` header carries one such entry per valid
secret, separated by spaces; a receiver accepts the delivery if any entry matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` entry of the webhook-signature header."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(
    signing_secrets: list[str], message_id: str, timestamp: int, body: bytes
) -> str:
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (the clients ship the same check, plus a timestamp tolerance)."""
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, entry) for entry in header.split())


def webhook_headers(
    signing_secrets: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, message_id, timestamp, body),
    }
