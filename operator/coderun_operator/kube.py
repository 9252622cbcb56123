"""The few Kubernetes API calls the operator makes, as async functions returning plain dicts.

The official client is synchronous; calls run in a small thread pool so that handlers stay
async. Every write is counted in metrics (the benchmark reports writes per run).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import aiohttp
from coderun_sandbox.contract import iso_utc, utc_now
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from coderun_operator import metrics
from coderun_operator import resources as r
from coderun_operator.kube_streams import KubeStreams

T = TypeVar("T")
REQUEST_TIMEOUT_S = 30


def load_client_config() -> client.Configuration:
    """In-cluster service account when running in a pod, else the kubeconfig (KUBECONFIG)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = 32
    return configuration


def _json(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.data)
    return data


class Kube:
    def __init__(
        self,
        configuration: client.Configuration | None = None,
        workers: int = 16,
    ):
        self.api_client = client.ApiClient(configuration or load_client_config())
        self.core = client.CoreV1Api(self.api_client)
        self.batch = client.BatchV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")
        # Log streams and attaches, on the event loop rather than a thread each.
        self.streams = KubeStreams(self.api_client.configuration)
        # Reads the runner's result the moment it is printed, instead of after the kubelet's
        # next status update (a read, so not counted with the writes as attach_write is).
        self.follow_log = self.streams.follow_log

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    async def _call_unless(self, statuses: tuple[int, ...], default: T, fn: Callable[[], T]) -> T:
        """`fn` in the pool, or `default` when the API answers one of `statuses`: gone (404)
        or already there (409) are outcomes for a level-based controller, not errors."""

        def call() -> T:
            try:
                return fn()
            except ApiException as error:
                if error.status in statuses:
                    return default
                raise

        return await self._call(call)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.api_client.close()  # type: ignore[no-untyped-call]

    def _custom(
        self, method: Callable[..., Any], plural: str, namespace: str, name: str, *body: Any
    ) -> Any:
        """A CustomObjectsApi `method` on one object of our group (CodeRuns, CodeRunPools)."""
        return method(
            r.GROUP, r.VERSION, namespace, plural, name, *body, _request_timeout=REQUEST_TIMEOUT_S
        )

    # -- CodeRuns ------------------------------------------------------------------------

    async def get_coderun(self, namespace: str, name: str) -> dict[str, Any] | None:
        get = self.custom.get_namespaced_custom_object
        found: dict[str, Any] | None = await self._call_unless(
            (404,), None, lambda: self._custom(get, r.PLURAL, namespace, name)
        )
        return found

    async def patch_coderun_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """Merge-patch /status; with `resource_version`, a 409 if the object changed."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        patch = self.custom.patch_namespaced_custom_object_status
        metrics.API_WRITES.labels("patch", "coderuns/status").inc()
        patched: dict[str, Any] = await self._call(
            lambda: self._custom(patch, r.PLURAL, namespace, name, body)
        )
        return patched

    async def patch_coderun_labels(
        self, namespace: str, name: str, labels: Mapping[str, str]
    ) -> None:
        body = {"metadata": {"labels": dict(labels)}}
        patch = self.custom.patch_namespaced_custom_object
        metrics.API_WRITES.labels("patch", "coderuns").inc()
        await self._call(lambda: self._custom(patch, r.PLURAL, namespace, name, body))

    async def delete_coderun(self, namespace: str, name: str) -> None:
        delete = self.custom.delete_namespaced_custom_object
        metrics.API_WRITES.labels("delete", "coderuns").inc()
        await self._call_unless(
            (404,), None, lambda: self._custom(delete, r.PLURAL, namespace, name)
        )

    # -- Jobs and pods -------------------------------------------------------------------

    async def create_job(self, job: Mapping[str, Any]) -> dict[str, Any] | None:
        """Create the Job; None if it already exists (the caller checks whose it is)."""
        namespace = str(job["metadata"]["namespace"])

        def call() -> dict[str, Any] | None:
            return _json(
                self.batch.create_namespaced_job(
                    namespace,
                    cast(Any, dict(job)),
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT_S,
                )
            )

        metrics.API_WRITES.labels("create", "jobs").inc()
        return await self._call_unless((409,), None, call)

    async def _read(
        self, read: Callable[..., Any], namespace: str, name: str
    ) -> dict[str, Any] | None:
        """A namespaced object as a plain dict (the client's `read_namespaced_*`), or None
        if it is gone."""

        def call() -> dict[str, Any] | None:
            return _json(
                read(name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_S)
            )

        return await self._call_unless((404,), None, call)

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._read(self.batch.read_namespaced_job, namespace, name)

    async def delete_job(self, namespace: str, name: str) -> None:
        def call() -> None:
            self.batch.delete_namespaced_job(
                name,
                namespace,
                propagation_policy="Background",
                grace_period_seconds=0,
                _request_timeout=REQUEST_TIMEOUT_S,
            )

        metrics.API_WRITES.labels("delete", "jobs").inc()
        await self._call_unless((404,), None, call)

    async def patch_job(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch a Job's metadata (a claimed pool Job's owner, labels, annotations)."""

        def call() -> None:
            self.batch.patch_namespaced_job(
                name,
                namespace,
                cast(Any, dict(patch)),
                # A JSON merge patch replaces lists (ownerReferences) whole; the client's
                # default, a strategic merge, would add to them.
                _content_type="application/merge-patch+json",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S,
            )

        metrics.API_WRITES.labels("patch", "jobs").inc()
        await self._call_unless((404,), None, call)

    async def patch_pod(
        self, namespace: str, name: str, patch: Mapping[str, Any], resource_version: str
    ) -> dict[str, Any]:
        """Merge-patch a pod, guarded by `resource_version`: ApiException 409 if the pod
        changed since (someone else claimed it first), 404 if it is gone."""
        body = {
            **patch,
            "metadata": {**(patch.get("metadata") or {}), "resourceVersion": resource_version},
        }

        def call() -> dict[str, Any]:
            return _json(
                self.core.patch_namespaced_pod(
                    name,
                    namespace,
                    cast(Any, body),
                    _content_type="application/merge-patch+json",
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT_S,
                )
            )

        metrics.API_WRITES.labels("patch", "pods").inc()
        return await self._call(call)

    async def open_stdin(
        self, namespace: str, pod: str, container: str
    ) -> aiohttp.ClientWebSocketResponse:
        """An attach session on a container's stdin, nothing written yet (primed.py opens
        them ahead of a claim; attach_write for one delivery)."""
        metrics.API_WRITES.labels("create", "pods/attach").inc()
        return await self.streams.open_stdin(namespace, pod, container)

    async def attach_write(self, namespace: str, pod: str, container: str, data: bytes) -> None:
        """Write `data` to a container's stdin through pods/attach, then close the stream
        (with `stdinOnce`, its end is the stdin's end). The container waits for it."""
        socket = await self.open_stdin(namespace, pod, container)
        try:
            await self.streams.write_stdin(socket, data)
        finally:
            await socket.close()

    # -- CodeRunPools --------------------------------------------------------------------

    async def patch_pool_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        patch = self.custom.patch_namespaced_custom_object_status
        body = {"status": dict(status)}
        metrics.API_WRITES.labels("patch", "coderunpools/status").inc()
        await self._call_unless(
            (404,), None, lambda: self._custom(patch, r.POOL_PLURAL, namespace, name, body)
        )

    async def read_log(self, namespace: str, pod: str, container: str) -> str:
        """The container's log, or "" if it is gone (the classifier then says so)."""

        def call() -> str:
            response: Any = self.core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                limit_bytes=1024 * 1024,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
            return bytes(response.data).decode("utf-8", errors="replace")

        # 400: the container has not started (or never will); 404: the pod is gone.
        return await self._call_unless((400, 404), "", call)

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._read(self.core.read_namespaced_pod, namespace, name)

    async def post_event(
        self, body: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event on a CodeRun or CodeRunPool (what `kubectl describe` shows)."""
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        stamp = iso_utc(utc_now())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'coderun')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": r.API_VERSION,
                "kind": str(body.get("kind") or r.KIND),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": r.MANAGED_BY},
            "reportingComponent": r.MANAGED_BY,
            "reportingInstance": r.MANAGED_BY,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        metrics.API_WRITES.labels("create", "events").inc()
        await self._call(
            lambda: self.core.create_namespaced_event(
                namespace,
                cast(Any, event),
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        )
