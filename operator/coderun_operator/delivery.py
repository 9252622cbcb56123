"""Delivering a run request to a waiting sandbox container, and reading what it answers.

One protocol for warm and cold pods alike: the runner in each container waits on stdin
(the runner's __main__); the operator attaches (pods/attach), writes the framed request
(contract.frame_request) and closes; meanwhile it follows the container's log for the line
that ends the exchange: the result, or INCOMPLETE if the stream broke off (nothing ran).

Restart safety: a container's log says how far it got. An operator that did not deliver
in this process (it restarted, or the pod is not one it just claimed or created) reads the
log first and delivers only if the runner has logged neither RECEIVED nor an end line. A
delivery that still overlaps one from before a restart is harmless: `stdinOnce` closed the
stream after the first writer, and a second attach writes into nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from coderun_sandbox.contract import (
    INCOMPLETE_KEY,
    RECEIVED_KEY,
    RESULT_KEY,
    RunRequest,
    frame_request,
)

from coderun_operator import metrics, pod_verdict
from coderun_operator.kube import Kube
from coderun_operator.kube_streams import KubeStreams, StreamError
from coderun_operator.primed import PrimedContainer, Primer

log = logging.getLogger("coderun_operator.delivery")
# Attach attempts before the request counts as undeliverable (an attach that never
# connected leaves stdin unopened, so retrying it is safe).
ATTACH_ATTEMPTS = 3
ATTACH_PAUSES_S = (0.2, 1.0)


def _mark(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        item = json.loads(line)
    except ValueError:
        return None
    return item if isinstance(item, dict) else None


def has_mark(log_text: str, key: str) -> bool:
    """Whether the runner printed the `key` line (contract.*_KEY) in this log."""
    return any(key in (_mark(line) or {}) for line in log_text.split("\n"))


def ends_exchange(line: str) -> bool:
    """The result line, or INCOMPLETE: nothing more will come from this container."""
    item = _mark(line) or {}
    return RESULT_KEY in item or INCOMPLETE_KEY in item


def was_incomplete(log_text: str) -> bool:
    return has_mark(log_text, INCOMPLETE_KEY) and pod_verdict.parse_result_line(log_text) is None


class UndeliverableError(Exception):
    """Every attach failed: the request never reached the container."""


class Delivery:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        # The streams of idle pool pods, opened before their claim (primed.py).
        self.primer = Primer(kube, ends_exchange)

    async def exchange(
        self,
        namespace: str,
        pod: str,
        container: str,
        request: RunRequest,
        timeout_s: float,
        check_first: bool,
        primed: PrimedContainer | None = None,
    ) -> str | None:
        """Deliver `request` to `container` (unless its log shows it has it) and follow its
        log to the line that ends the exchange; the log, or None if the stream ended first
        (the pod's own status then tells what happened). With `primed`, on the streams
        opened before the claim (primed.py). Raises UndeliverableError."""
        deliver = True
        if check_first:
            seen = await self.kube.read_log(namespace, pod, container)
            if any(ends_exchange(line) for line in seen.split("\n")):
                return seen
            deliver = not has_mark(seen, RECEIVED_KEY)
        loop = asyncio.get_running_loop()
        follow = loop.create_task(
            primed.follow(timeout_s)
            if primed is not None and not primed.ended()
            else self.kube.follow_log(namespace, pod, container, ends_exchange, timeout_s)
        )
        try:
            if deliver:
                data = frame_request(request)
                if not await self._write_primed(primed, pod, data):
                    await self._attach(namespace, pod, container, data)
            return await follow
        finally:
            if not follow.done():
                follow.cancel()
            if primed is not None:
                primed.close()

    @staticmethod
    async def _write_primed(primed: PrimedContainer | None, pod: str, data: bytes) -> bool:
        """Write `data` on the session opened before the claim; False when there is none
        usable, or the write failed (whether the frame got through is then unknown: with
        stdinOnce a second attach writes into nothing, and the log says INCOMPLETE)."""
        socket = await primed.session() if primed is not None else None
        if socket is None:
            return False
        try:
            await KubeStreams.write_stdin(socket, data)
        except StreamError as error:
            log.warning("writing on the primed attach to %s failed: %s", pod, error)
            return False
        metrics.DELIVERIES.labels("primed").inc()
        return True

    async def _attach(self, namespace: str, pod: str, container: str, data: bytes) -> None:
        for attempt in range(ATTACH_ATTEMPTS):
            try:
                await self.kube.attach_write(namespace, pod, container, data)
                metrics.DELIVERIES.labels("attached").inc()
                return
            except Exception as error:
                log.warning(
                    "attaching to %s/%s (%s) failed (attempt %d): %s",
                    namespace,
                    pod,
                    container,
                    attempt + 1,
                    error,
                )
                if attempt < len(ATTACH_PAUSES_S):
                    await asyncio.sleep(ATTACH_PAUSES_S[attempt])
        raise UndeliverableError(f"the request could not be delivered to {pod} ({container})")
