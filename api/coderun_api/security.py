"""Secrets: password hashes (argon2), API keys and session tokens (stored as sha256)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "nr_live_"
# 32 random bytes, urlsafe base64 without padding: 43 characters, 256 bits of entropy.
_API_KEY_RE = re.compile(r"^nr_live_[A-Za-z0-9_-]{43}$")
SESSION_COOKIE = "coderun_session"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "coderun-web"

_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths cost one argon2
    verification. Made once per process (an argon2 hash, ~0.1-0.4 s), by the sign-in
    routes' import at app start (routes/auth.py), so that the CLI never pays for it and the
    first sign-in after a start costs what every later one does."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account (or its password) exists."""
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_well_formed(key: str) -> bool:
    return bool(_API_KEY_RE.match(key))


def display_prefix(key: str) -> str:
    """What the dashboard may show of a key: `nr_live_` and four characters."""
    return key[: len(API_KEY_PREFIX) + 4]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def digests_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
