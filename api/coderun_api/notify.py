"""Wake result waiters (`?wait=N`), event streams and the webhook sender the moment a job
changes state.

In-process waiters are asyncio events keyed by jobId. With Redis configured every
finalization is also published on one channel (and every other state change, queued to
running, on a second one), and every API replica's listener wakes its own waiters, so a job
changed by any replica or executor wakes waiters everywhere. `?wait` waiters wake only on
the final change; event-stream waiters (`register_changes`) on every change; final
listeners (`add_final_listener`, the webhook sender) are called with the jobId of every
finalization.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

CHANNEL = "coderun:job-final"
# Non-final changes (queued -> running); a separate channel so `?wait` never wakes on them.
STATUS_CHANNEL = "coderun:job-status"

Waiters = dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]]

_stamps = itertools.count(1)


def stamp_now() -> int:
    """A number larger than every stamp handed out before (see StampedEvent)."""
    return next(_stamps)


class StampedEvent(asyncio.Event):
    """An event that remembers when it was last set, on the stamp_now() scale, so a waiter
    can tell whether a read of the job began after the change it was woken for."""

    stamp = 0

    def set(self) -> None:
        self.stamp = stamp_now()
        super().set()


class JobNotifier:
    def __init__(self, redis_url: str = "") -> None:
        self._lock = threading.Lock()
        self._waiters: Waiters = defaultdict(set)
        self._change_waiters: Waiters = defaultdict(set)
        self._final_listeners: list[Callable[[str], None]] = []
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
                pubsub.subscribe(CHANNEL, STATUS_CHANNEL)
                self._subscribed.set()
                while not self._stop.is_set():
                    # Blocks until a message arrives; the timeout only bounds how long
                    # stop() waits for this thread.
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        data, channel = message["data"], message.get("channel")
                        job_id = data.decode() if isinstance(data, bytes) else str(data)
                        if isinstance(channel, bytes):
                            channel = channel.decode()
                        if channel == STATUS_CHANNEL:
                            self._wake_changed(job_id)
                        else:
                            self._wake_local(job_id)
                pubsub.close()
            except redis.RedisError as error:
                log.warning("job notification channel lost, reconnecting: %s", error)
                self._subscribed.set()
                self._stop.wait(1.0)

    # -- waiting -------------------------------------------------------------------------

    def register(self, job_id: str) -> asyncio.Event:
        """Call from the event loop before reading the job, so no notification is missed."""
        return self._add(self._waiters, job_id)

    def unregister(self, job_id: str, event: asyncio.Event) -> None:
        self._remove(self._waiters, job_id, event)

    def register_changes(self, job_id: str) -> StampedEvent:
        """Like `register`, but set on every state change of the job, not only the final one."""
        event = StampedEvent()
        with self._lock:
            self._change_waiters[job_id].add((asyncio.get_running_loop(), event))
        return event

    def unregister_changes(self, job_id: str, event: asyncio.Event) -> None:
        self._remove(self._change_waiters, job_id, event)

    def add_final_listener(self, listener: Callable[[str], None]) -> None:
        """`listener(job_id)` runs on every finalization, in the thread that learned of it;
        it must return at once (set an event, not do I/O)."""
        with self._lock:
            self._final_listeners.append(listener)

    def _add(self, registry: Waiters, job_id: str) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            registry[job_id].add((asyncio.get_running_loop(), event))
        return event

    def _remove(self, registry: Waiters, job_id: str, event: asyncio.Event) -> None:
        with self._lock:
            waiters = registry.get(job_id)
            if waiters is None:
                return
            waiters.difference_update({w for w in waiters if w[1] is event})
            if not waiters:
                del registry[job_id]

    def waiting(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values()) + sum(
                len(w) for w in self._change_waiters.values()
            )

    # -- notifying (any thread) ----------------------------------------------------------

    def publish(self, job_id: str) -> None:
        self._wake_local(job_id)
        self._tell_replicas(CHANNEL, job_id)

    def publish_status(self, job_id: str) -> None:
        """A change that is not final (queued -> running): wakes event streams only."""
        self._wake_changed(job_id)
        self._tell_replicas(STATUS_CHANNEL, job_id)

    def _tell_replicas(self, channel: str, job_id: str) -> None:
        if self._redis is not None:
            try:
                self._redis.publish(channel, job_id)
            except redis.RedisError as error:
                log.warning(
                    "could not publish job notification: %s", error, extra={"jobId": job_id}
                )

    def _wake_local(self, job_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(job_id, ()))
            waiters += self._change_waiters.get(job_id, ())
            listeners = list(self._final_listeners)
        _set_all(waiters)
        for listener in listeners:
            listener(job_id)

    def _wake_changed(self, job_id: str) -> None:
        with self._lock:
            waiters = list(self._change_waiters.get(job_id, ()))
        _set_all(waiters)

    def ping(self) -> None:
        if self._redis is not None:
            self._redis.ping()


def _set_all(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    for loop, event in waiters:
        with contextlib.suppress(RuntimeError):  # that loop is closed
            loop.call_soon_threadsafe(event.set)
