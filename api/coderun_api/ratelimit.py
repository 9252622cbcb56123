"""Rate limits through the `limits` library: in-process by default, shared via Redis when set."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from coderun_api.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


@contextmanager
def _shared_storage() -> Iterator[None]:
    """Fail closed: without the shared counter, limits cannot be enforced."""
    try:
        yield
    except Exception as error:
        log.error("rate limit storage unavailable: %s", error)
        raise LimiterUnavailable from error


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.storage: Storage
        if settings.redis_url:
            self.storage = RedisStorage(settings.redis_url, key_prefix="coderun-limits")
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self.submit = parse(settings.submit_rate_limit)
        self.auth = parse(settings.auth_rate_limit)
        self.signin_failures = parse_many(settings.signin_failure_limit)

    def _refused(self, item: RateLimitItem, *identifiers: str) -> Decision:
        reset_time, _remaining = self._limiter.get_window_stats(item, *identifiers)
        return Decision(False, max(1, math.ceil(reset_time - time.time())))

    def hit(self, item: RateLimitItem, *identifiers: str) -> Decision:
        """Count one request. Raises LimiterUnavailable if the shared storage is down."""
        with _shared_storage():
            if self._limiter.hit(item, *identifiers):
                return Decision(True)
            return self._refused(item, *identifiers)

    def check(self, items: list[RateLimitItem], *identifiers: str) -> Decision:
        """Whether one more event fits every window, without counting it."""
        with _shared_storage():
            for item in items:
                if not self._limiter.test(item, *identifiers):
                    return self._refused(item, *identifiers)
        return Decision(True)

    def count(self, items: list[RateLimitItem], *identifiers: str) -> None:
        """Count one event in every window."""
        with _shared_storage():
            for item in items:
                self._limiter.hit(item, *identifiers)

    def reset(self, items: list[RateLimitItem], *identifiers: str) -> None:
        with _shared_storage():
            for item in items:
                self._limiter.clear(item, *identifiers)


class LimiterUnavailable(Exception):
    pass
