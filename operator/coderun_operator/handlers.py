"""kopf handlers: small, typed, level-based; they hand over to the Reconciler.

- `coderuns_by_lifecycle`: kopf's in-memory index of CodeRuns (queued / active / final).
  kopf runs no handler before every index is filled from the initial listing, so admission
  after a restart counts every active run and sees every queued one.
- `coderun_event`: every CodeRun event → admit queued runs in order, up to the cap.
- `pod_event`: every sandbox pod event → Running, or the final result; pool pods also go
  to the pool controller.
- `claimed_pods`: kopf's index of claimed pool pods by the claiming CodeRun's uid, so that
  after a restart a run whose claim was made but not yet recorded finds its pod.
- `idle_pool_pods`: kopf's index of idle pool pods by pool, complete before any handler
  runs, so that a restarted operator knows a pool's pods before it reconciles the pool.
- `pool_event`: every CodeRunPool event → the pool controller keeps its pods.
- `startup` / `cleanup`: kopf's settings, the metrics server, and the sweep task.

What the handlers share lives in kopf's `memo`, filled by main.py (`config`, `readiness`)
and `startup` (`kube`, `reconciler`, `sweeper`); kopf gives each object's handlers a
shallow copy of it, made after `startup` has finished.

No changing handlers (on.create/update): kopf then stores no progress or diff-base on the
objects and adds no finalizer, so a run costs only the writes it needs.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from aiohttp import web

from coderun_operator import metrics
from coderun_operator import resources as r
from coderun_operator.admission import RunRef
from coderun_operator.claim import claimed_by
from coderun_operator.kube import Kube
from coderun_operator.readiness import Readiness
from coderun_operator.readiness import serve as serve_readiness
from coderun_operator.reconciler import Reconciler, run_ref
from coderun_operator.settings import OperatorSettings, configure_kopf


def reconciler(memo: kopf.Memo) -> Reconciler:
    found: Reconciler = memo.reconciler
    return found


@kopf.on.startup()
async def startup(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    configure_kopf(settings)
    config: OperatorSettings = memo.config
    # kopf retries this handler (TemporaryError below): everything here runs once.
    if "kube" not in memo:
        memo.kube = Kube()
    state: Readiness = memo.readiness
    if memo.get("readiness_url") and "readiness_server" not in memo:
        memo.readiness_server = await serve_readiness(memo.readiness_url, state, memo.kube)
    # Before kopf's own requests: a wrong API-server address, certificate, RBAC or a
    # missing CRD is reported here in words that name the fix (and on the readiness
    # endpoint), where kopf would only retry for a minute and crash on a client error.
    if state.problem is not None and state.problem.startswith("starting"):
        # An address that drops packets takes the client's retries to fail: name it now.
        server = memo.kube.api_client.configuration.host
        state.problem = f"starting: connecting to the Kubernetes API server at {server}"
    state.checked_at = float("-inf")
    problem = await state.check_api(memo.kube)
    if problem is not None:
        raise kopf.TemporaryError(problem, delay=5)
    rec = Reconciler(config, memo.kube)
    memo.reconciler = rec
    metrics.serve(config.metrics_port)
    memo.sweeper = asyncio.get_running_loop().create_task(rec.run_sweeps())
    state.started = True
    logger.info(
        "coderun operator started: at most %d runs at once, retention %d s",
        config.max_concurrent_runs,
        config.retention_seconds,
    )


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    server: web.AppRunner | None = memo.get("readiness_server")
    if server is not None:
        await server.cleanup()
    rec: Reconciler | None = memo.get("reconciler")
    if rec is None:
        return
    rec.stopping.set()
    sweeper: asyncio.Task[None] | None = memo.get("sweeper")
    if sweeper is not None:
        await sweeper
    await rec.kube.streams.close()
    rec.kube.close()


@kopf.index(r.GROUP, r.VERSION, r.PLURAL)
def coderuns_by_lifecycle(body: kopf.Body, **_: Any) -> dict[str, RunRef]:
    return {r.lifecycle(body): run_ref(body)}


@kopf.on.event(r.GROUP, r.VERSION, r.PLURAL)
async def coderun_event(type: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    # kopf calls no event handler before its CodeRun index holds the whole initial listing.
    memo.readiness.handled_event = True
    rec = reconciler(memo)
    _take_indexes(rec, kwargs)
    await rec.on_coderun(type, body, kwargs["coderuns_by_lifecycle"])


@kopf.index(
    "",
    "v1",
    "pods",
    labels={r.LABEL_SANDBOX: "true", r.LABEL_POOL: kopf.PRESENT, r.LABEL_WARM: r.WARM_CLAIMED},
)
def claimed_pods(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]] | None:
    uid = claimed_by(body)
    if not uid:
        return None
    meta = body.get("metadata") or {}
    return {
        uid: {
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "labels": dict(meta.get("labels") or {}),
            }
        }
    }


@kopf.index(
    "",
    "v1",
    "pods",
    labels={r.LABEL_SANDBOX: "true", r.LABEL_POOL: kopf.PRESENT, r.LABEL_WARM: r.WARM_IDLE},
)
def idle_pool_pods(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    meta = body.get("metadata") or {}
    key = f"{meta.get('namespace')}/{(meta.get('labels') or {}).get(r.LABEL_POOL)}"
    return {key: copy.deepcopy(dict(body))}


def _take_indexes(rec: Reconciler, kwargs: Mapping[str, Any]) -> None:
    # kopf calls no handler before every index is complete, so these are the whole picture.
    if rec.index is None:
        rec.index = kwargs["coderuns_by_lifecycle"]
    if rec.claims is None:
        rec.claims = kwargs["claimed_pods"]
    if rec.pools.index is None:
        rec.pools.index = kwargs["idle_pool_pods"]


@kopf.on.event("", "v1", "pods", labels={r.LABEL_SANDBOX: "true", r.LABEL_MANAGED_BY: r.MANAGED_BY})
async def pod_event(type: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    memo.readiness.handled_event = True
    rec = reconciler(memo)
    _take_indexes(rec, kwargs)
    await rec.on_pod(type, body)


@kopf.on.event(r.GROUP, r.VERSION, r.POOL_PLURAL)
async def pool_event(type: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    rec = reconciler(memo)
    _take_indexes(rec, kwargs)
    rec.pools.on_pool(type, body)
