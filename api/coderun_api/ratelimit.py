"""Rate limits through the `limits` library: in-process by default, shared via Redis when set."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from coderun_api.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


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

    def hit(self, item: RateLimitItem, *identifiers: str) -> Decision:
        """Count one request. Raises LimiterUnavailable if the shared storage is down."""
        try:
            if self._limiter.hit(item, *identifiers):
                return Decision(True)
            reset_time, _remaining = self._limiter.get_window_stats(item, *identifiers)
        except Exception as error:
            # Fail closed: without the shared counter, limits cannot be enforced.
            log.error("rate limit storage unavailable: %s", error)
            raise LimiterUnavailable from error
        return Decision(False, max(1, math.ceil(reset_time - time.time())))


class LimiterUnavailable(Exception):
    pass
