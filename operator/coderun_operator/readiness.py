"""The operator's readiness: Ready means a CodeRun created now is served.

kopf's own endpoint (`--liveness`, /healthz) answers once the startup handler is done and
says only that the event loop runs. This one (`--readiness`, /readyz) answers 200 when all
of these hold, else 503 with the first that does not, in words that name what to change:

1. the startup handler finished (settings read, the reconciler and its sweep running), so
   kopf's watches of CodeRuns and sandbox pods have been started;
2. the requests those watches make succeed: the operator can list CodeRuns and sandbox pods
   in every namespace it serves (so the API server is reachable, its certificate verifies,
   the RBAC and the CRD are there: api_server.describe_failure says which is missing),
   checked again at most every CHECK_EVERY_SECONDS;
3. when CodeRuns exist, kopf has delivered its initial listing: it calls no event handler
   before its CodeRun index is complete, so the first event handled proves it. With no
   CodeRuns there is nothing to catch up on, and a new one arrives through that listing
   or the watch after it.

The operator watches no Jobs (a Job's pod carries what the run needs), so none are checked.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from coderun_operator import resources as r
from coderun_operator.api_server import describe_failure
from coderun_operator.kube import Kube

log = logging.getLogger("coderun_operator")

CHECK_EVERY_SECONDS = 5.0


@dataclass
class Readiness:
    """One record per operator process, kept in kopf's memo."""

    namespaces: Sequence[str]  # empty: cluster-wide
    started: bool = False  # the startup handler finished
    handled_event: bool = False  # kopf called an event handler: its listing is complete
    coderuns_exist: bool = False
    problem: str | None = "starting: the startup handler has not run yet"
    checked_at: float = field(default=float("-inf"))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def reason(self) -> str | None:
        """Why the operator is not ready, or None when it is."""
        if self.problem is not None:
            return self.problem
        if not self.started:
            return "starting: the startup handler has not finished"
        if self.coderuns_exist and not self.handled_event:
            return "starting: kopf is still listing the existing CodeRuns"
        return None

    async def check_api(self, kube: Kube) -> str | None:
        """List CodeRuns and sandbox pods as kopf's watches do; the problem, or None."""
        async with self.lock:
            if time.monotonic() - self.checked_at < CHECK_EVERY_SECONDS:
                return self.problem
            self.problem, self.coderuns_exist = await _probe(kube, self.namespaces)
            self.checked_at = time.monotonic()
            return self.problem


async def _probe(kube: Kube, namespaces: Sequence[str]) -> tuple[str | None, bool]:
    server = str(kube.api_client.configuration.host)
    exist = False
    scopes: list[str | None] = list(namespaces) or [None]
    for namespace in scopes:
        where = f"in namespace {namespace}" if namespace else "cluster-wide"
        calls: list[tuple[str, Callable[[], Any]]] = [
            (f"list CodeRuns {where}", functools.partial(_list_custom, kube, r.PLURAL, namespace)),
            (f"list sandbox pods {where}", functools.partial(_list_pods, kube, namespace)),
            (
                f"list CodeRunPools {where}",
                functools.partial(_list_custom, kube, r.POOL_PLURAL, namespace),
            ),
        ]
        for action, call in calls:
            try:
                listed = await asyncio.get_running_loop().run_in_executor(kube.pool, call)
            except Exception as error:
                return describe_failure(error, server, action), exist
            if action.startswith("list CodeRuns"):
                exist = exist or bool(listed.get("items"))
    return None, exist


# (connect, read) seconds: an address nobody answers on fails fast, so the probe says why.
_TIMEOUT = (5, 15)


def _list_custom(kube: Kube, plural: str, namespace: str | None) -> Any:
    """One object of our group's `plural` (CodeRuns, CodeRunPools), as kopf's watch lists."""
    if namespace is None:
        return kube.custom.list_cluster_custom_object(
            r.GROUP, r.VERSION, plural, limit=1, _request_timeout=_TIMEOUT
        )
    return kube.custom.list_namespaced_custom_object(
        r.GROUP, r.VERSION, namespace, plural, limit=1, _request_timeout=_TIMEOUT
    )


def _list_pods(kube: Kube, namespace: str | None) -> Any:
    selector = f"{r.LABEL_SANDBOX}=true"
    if namespace is None:
        return kube.core.list_pod_for_all_namespaces(
            label_selector=selector, limit=1, _request_timeout=_TIMEOUT
        )
    return kube.core.list_namespaced_pod(
        namespace, label_selector=selector, limit=1, _request_timeout=_TIMEOUT
    )


async def serve(url: str, readiness: Readiness, kube: Kube) -> web.AppRunner:
    """Serve `readiness` at `url` (http://host:port/path) until the runner is cleaned up."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.port:
        raise ValueError(f"the readiness endpoint must be http://HOST:PORT/PATH, not {url!r}")

    async def answer(_: web.Request) -> web.Response:
        if readiness.started:
            await readiness.check_api(kube)
        reason = readiness.reason()
        if reason is None:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": reason}, status=503)

    app = web.Application()
    app.add_routes([web.get(parts.path or "/", answer)])
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, parts.hostname or "0.0.0.0", parts.port).start()
    return runner
