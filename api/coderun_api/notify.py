"""Wake result waiters (`?wait=N`) the moment a job becomes final.

In-process waiters are asyncio events keyed by jobId. With Redis configured every
finalization is also published on one channel and every API replica's listener wakes its
own waiters, so a job finalized by any replica or executor wakes waiters everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict

import redis

log = logging.getLogger(__name__)

CHANNEL = "coderun:job-final"


class JobNotifier:
    def __init__(self, redis_url: str = "") -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set)
        )
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._subscribed = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._redis is None or self._listener is not None:
            return
        self._listener = threading.Thread(target=self._listen, name="coderun-notify", daemon=True)
        self._listener.start()
        self._subscribed.wait(timeout=5)

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
            self._listener = None
        if self._redis is not None:
            self._redis.close()

    def _listen(self) -> None:
        assert self._redis is not None
        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                while not self._stop.is_set():
                    # Blocks until a message arrives; the timeout only bounds how long
                    # stop() waits for this thread.
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        self._wake_local(data.decode() if isinstance(data, bytes) else str(data))
                pubsub.close()
            except redis.RedisError as error:
                log.warning("job notification channel lost, reconnecting: %s", error)
                self._subscribed.set()
                self._stop.wait(1.0)

    # -- waiting -------------------------------------------------------------------------

    def register(self, job_id: str) -> asyncio.Event:
        """Call from the event loop before reading the job, so no notification is missed."""
        event = asyncio.Event()
        with self._lock:
            self._waiters[job_id].add((asyncio.get_running_loop(), event))
        return event

    def unregister(self, job_id: str, event: asyncio.Event) -> None:
        with self._lock:
            waiters = self._waiters.get(job_id)
            if waiters is None:
                return
            waiters.difference_update({w for w in waiters if w[1] is event})
            if not waiters:
                del self._waiters[job_id]

    def waiting(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    # -- notifying (any thread) ----------------------------------------------------------

    def publish(self, job_id: str) -> None:
        self._wake_local(job_id)
        if self._redis is not None:
            try:
                self._redis.publish(CHANNEL, job_id)
            except redis.RedisError as error:
                log.warning(
                    "could not publish job notification: %s", error, extra={"jobId": job_id}
                )

    def _wake_local(self, job_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(job_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(event.set)

    def ping(self) -> None:
        if self._redis is not None:
            self._redis.ping()
