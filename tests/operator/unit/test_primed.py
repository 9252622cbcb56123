"""The primer's bookkeeping without a cluster: streams opened once per ready pod, taken
whole by the claim, and closed for pods that are no longer idle. (The streams themselves
are the real attach and log follow on the test cluster: tests/operator/test_pools.py.)"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from coderun_operator.primed import Primer


class FakeSocket:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeStreams:
    """Records what was opened; each log follow waits until the test ends it."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []
        self.sockets: list[FakeSocket] = []
        self.logs: dict[tuple[str, str], asyncio.Future[str | None]] = {}

    async def open_stdin(self, namespace: str, pod: str, container: str) -> FakeSocket:
        self.opened.append((pod, container))
        socket = FakeSocket()
        self.sockets.append(socket)
        return socket

    async def follow_log(
        self, namespace: str, pod: str, container: str, *rest: object
    ) -> str | None:
        timeout_s = rest[-1]
        assert timeout_s is None  # a primed follow is timed by the claim, not by itself
        future = self.logs[(pod, container)] = asyncio.get_running_loop().create_future()
        answer: str | None = await future
        return answer


def primer() -> tuple[Primer, FakeStreams]:
    streams = FakeStreams()  # stands in for Kube's open_stdin and follow_log
    return Primer(cast(Any, streams), lambda line: False), streams


def test_a_pod_is_primed_once_and_taken_whole() -> None:
    async def scenario() -> None:
        p, streams = primer()
        p.prime("runs", "a", ("compile", "run"))
        p.prime("runs", "a", ("compile", "run"))  # a second reconcile: nothing new
        await asyncio.sleep(0)
        assert sorted(streams.opened) == [("a", "compile"), ("a", "run")]
        taken = p.take("runs", "a")
        assert taken is not None and set(taken.containers) == {"compile", "run"}
        assert p.take("runs", "a") is None  # one claim only
        socket = await taken.containers["run"].session()
        assert socket is not None and not socket.closed
        streams.logs[("a", "run")].set_result("the result line")
        assert await taken.containers["run"].follow(1.0) == "the result line"
        taken.close()
        await asyncio.sleep(0)
        assert all(s.closed for s in streams.sockets)

    asyncio.run(scenario())


def test_streams_of_pods_no_longer_idle_are_closed() -> None:
    async def scenario() -> None:
        p, streams = primer()
        p.prime("runs", "idle", ("run",))
        p.prime("runs", "gone", ("run",))
        await asyncio.sleep(0)
        p.retain({"runs/idle"})
        await asyncio.sleep(0)
        assert p.take("runs", "gone") is None
        idle = p.take("runs", "idle")
        assert idle is not None
        assert [s.closed for s in streams.sockets] == [False, True]

    asyncio.run(scenario())


def test_a_follow_that_ended_while_idle_is_not_waited_on() -> None:
    async def scenario() -> None:
        p, streams = primer()
        p.prime("runs", "a", ("run",))
        await asyncio.sleep(0)
        streams.logs[("a", "run")].set_result(None)  # the log stream broke off
        await asyncio.sleep(0)
        taken = p.take("runs", "a")
        assert taken is not None and taken.containers["run"].ended()

    asyncio.run(scenario())
