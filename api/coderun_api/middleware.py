"""Pure ASGI middleware: request body cap, request metrics, response headers."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coderun_api import metrics
from coderun_api.envelope import error_body

access_log = logging.getLogger("coderun_api.access")


class BodyTooLarge(Exception):
    pass


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        error_body(
            413,
            f"request body is larger than {limit} bytes; code and input are limited to "
            "65536 bytes each",
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes, by Content-Length or while streaming (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    await _send_too_large(send, self.limit)
                    return
        seen = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app answers after the body overflowed (FastAPI turns the
            # exception into a 400 "error parsing the body"), the client gets the 413.
            nonlocal replaced
            if exceeded:
                if not replaced and message["type"] == "http.response.start":
                    replaced = True
                    await _send_too_large(send, self.limit)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not replaced:
                replaced = True
                await _send_too_large(send, self.limit)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        begin = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            # The route template keeps label cardinality bounded (no jobIds in labels).
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method=method, route=path, status=str(status)).inc()
            elapsed = time.perf_counter() - begin
            metrics.HTTP_LATENCY.labels(method=method, route=path).observe(elapsed)
            fields = {
                "method": method,
                "path": scope.get("path", ""),
                "route": path,
                "status": status,
                "durationMs": round(elapsed * 1000, 1),
            }
            job_id = (scope.get("path_params") or {}).get("jobId") or (
                scope.get("state") or {}
            ).get("job_id")
            if job_id:
                fields["jobId"] = job_id
            access_log.info("request", extra=fields)


class ApiHeadersMiddleware:
    """API answers are per-account and may carry a key: never cached, never sniffed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_content_security_policy(page: bytes) -> str:
    """The policy for a Swagger UI page: its own origin only, and the page's inline start-up
    script allowed by its hash rather than by 'unsafe-inline', so an injected script cannot
    run. Swagger UI draws its icons from data: URIs."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


class DocsHeadersMiddleware:
    """/docs and its OAuth2 redirect page get a CSP and may not be framed (clickjacking).

    They are FastAPI's own generated pages, so the headers are added here rather than in the
    route; the body is small and buffered to hash its inline script."""

    PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.PATHS:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = [
                (name, value)
                for name, value in start.get("headers", [])
                if name.lower() not in (b"content-security-policy", b"x-frame-options")
            ]
            headers += [
                (b"content-security-policy", docs_content_security_policy(bytes(body)).encode()),
                (b"x-frame-options", b"DENY"),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin"),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, buffered)
