"""Streams opened ahead of a claim, so that no connection is set up on a warm run's way.

For each ready idle pool pod the operator opens, before any run arrives, the stdin of each
of its containers (pods/attach) and a follow of each container's log. Opening either is a
round trip from the operator through the API server and the kubelet to the container
runtime: the largest step of a warm run when it was done after the claim
(docs/benchmarks.md, where a warm run's time goes). A claim takes the pod's streams
(`take`), so the request is one message on a session already open and the result line
arrives on a log stream already following.

Nothing is written on a primed session before the pod is claimed, and nothing else than
the one request after: the trusted side still writes only to the runner's stdin, which the
runner has swapped for /dev/null before the program starts.

The cost: with `stdinOnce`, a container's stdin ends when its attach session ends. An idle
pod whose primed session ends (the operator restarts, a connection drops) finds its stdin
ended before any request: its runner logs INCOMPLETE and exits (contract.EXIT_NO_REQUEST),
nothing having run, and the pool replaces it without counting a failure (pools.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import aiohttp

from coderun_operator.kube import Kube

log = logging.getLogger("coderun_operator.primed")
# How long a claim waits for a primed session still connecting before opening its own.
CONNECTING_WAIT_S = 5.0


@dataclass
class PrimedContainer:
    """One container's open stdin session and log follow (tasks, connecting or done)."""

    stdin: asyncio.Task[aiohttp.ClientWebSocketResponse]
    log: asyncio.Task[str | None]

    def close(self) -> None:
        self.log.cancel()
        if not self.stdin.done():
            self.stdin.cancel()
        elif not self.stdin.cancelled() and self.stdin.exception() is None:
            socket = self.stdin.result()
            asyncio.get_running_loop().create_task(socket.close())

    def ended(self) -> bool:
        """Its log follow ended while the pod was idle (so it holds nothing to wait on)."""
        if not self.log.done():
            return False
        return self.log.cancelled() or self.log.exception() is not None or self.log.result() is None

    async def session(self) -> aiohttp.ClientWebSocketResponse | None:
        """The open stdin session, or None when it failed or has ended (the caller then
        attaches on its own: into nothing, if stdinOnce already closed the stream)."""
        if self.stdin.cancelled():
            return None
        try:
            socket = await asyncio.wait_for(asyncio.shield(self.stdin), CONNECTING_WAIT_S)
        except Exception as error:  # refused, dropped, or still connecting
            log.info("a primed attach is not usable (%s): attaching anew", error)
            self.stdin.cancel()
            return None
        return None if socket.closed else socket

    async def follow(self, timeout_s: float) -> str | None:
        """The primed follow's answer, timed from now: the log up to the line that ends the
        exchange, or None (the stream ended first: the caller follows anew)."""
        try:
            return await asyncio.wait_for(self.log, timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            return None


@dataclass
class PrimedPod:
    containers: dict[str, PrimedContainer] = field(default_factory=dict)

    def close(self) -> None:
        for primed in self.containers.values():
            primed.close()


class Primer:
    """The primed streams of idle pool pods, by "namespace/pod"."""

    def __init__(self, kube: Kube, until: Callable[[str], bool]) -> None:
        self.kube = kube
        self.until = until
        self.pods: dict[str, PrimedPod] = {}

    def prime(self, namespace: str, pod: str, containers: Iterable[str]) -> None:
        """Open the streams of a ready idle pod, unless they are open already."""
        key = f"{namespace}/{pod}"
        if key in self.pods:
            return
        loop = asyncio.get_running_loop()
        primed = PrimedPod()
        for container in containers:
            primed.containers[container] = PrimedContainer(
                stdin=loop.create_task(self.kube.open_stdin(namespace, pod, container)),
                log=loop.create_task(
                    self.kube.follow_log(namespace, pod, container, self.until, None)
                ),
            )
        self.pods[key] = primed

    def take(self, namespace: str, pod: str) -> PrimedPod | None:
        """The pod's streams, now the claiming run's (synchronous: taken in the same step
        as the claim, so no sweep can close them in between)."""
        return self.pods.pop(f"{namespace}/{pod}", None)

    def retain(self, keep: set[str]) -> None:
        """Close the streams of pods no longer idle or reserved for a claim ("namespace/pod"
        in `keep`): gone, or taken by someone else."""
        for key in [k for k in self.pods if k not in keep]:
            self.discard(key)

    def discard(self, key: str) -> None:
        primed = self.pods.pop(key, None)
        if primed is not None:
            log.debug("closing the primed streams of %s", key)
            primed.close()
