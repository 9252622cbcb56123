"""The operator's two long-lived kinds of Kubernetes request, on the event loop: following a
sandbox container's log, and writing a run request to its stdin (pods/attach).

The official client does both synchronously, a thread each for as long as the request
lasts (a log follow spans the whole run), so the operator's threads grew with the runs in
flight. Here they are aiohttp requests on kopf's own event loop: a run in flight costs a
socket and a little buffer, not a thread. Credentials and TLS come from the same client
Configuration as every other call (kubeconfig or the pod's service account, whose token the
configuration refreshes).

The attach speaks the Kubernetes websocket stream protocol (channel.k8s.io): each binary
message starts with its channel number, 0 being stdin. With `stdinOnce` the container's
stdin closes when this one session ends, which is the end of the request.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from urllib.parse import quote, urlencode

import aiohttp
from kubernetes import client

# What a log follow may hold (the result line is at most a few hundred KiB).
MAX_LOG_BYTES = 1024 * 1024
STDIN_CHANNEL = 0
# The protocols offered for attach, newest first; v4 and v5 frame stdin the same way.
ATTACH_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
CONNECT_TIMEOUT_S = 5


class StreamError(Exception):
    """The API server refused or broke the stream."""


def _ssl_context(configuration: client.Configuration) -> ssl.SSLContext | bool:
    if not configuration.verify_ssl:
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


class KubeStreams:
    def __init__(self, configuration: client.Configuration) -> None:
        self.configuration = configuration
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        # auth_settings() runs the configuration's token refresh (in-cluster tokens rotate).
        bearer = self.configuration.auth_settings().get("BearerToken")
        return {"Authorization": str(bearer["value"])} if bearer else {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=_ssl_context(self.configuration), limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, namespace: str, pod: str, sub: str, query: dict[str, str]) -> str:
        host = str(self.configuration.host).rstrip("/")
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/{sub}"
        return f"{host}{path}?{urlencode(query)}"

    async def follow_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        until: Callable[[str], bool],
        timeout_s: float | None,
    ) -> str | None:
        """Follow a container's log until a line satisfies `until`: the log so far, or None
        if the stream ended, failed or timed out first (no time limit when `timeout_s` is
        None: a stream opened ahead of a claim, which the claim then times, primed.py)."""
        url = self._url(
            namespace,
            pod,
            "log",
            {"container": container, "follow": "true", "limitBytes": str(MAX_LOG_BYTES)},
        )
        timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=CONNECT_TIMEOUT_S)
        seen = bytearray()
        checked = 0  # bytes of whole lines already looked at
        try:
            async with self.session().get(url, headers=self._headers(), timeout=timeout) as got:
                if got.status != 200:
                    return None
                async for chunk in got.content.iter_any():
                    seen += chunk
                    end = seen.rfind(b"\n")
                    if end < checked:
                        continue
                    lines = bytes(seen[checked:end]).decode("utf-8", errors="replace")
                    checked = end + 1
                    if any(until(line) for line in lines.split("\n")):
                        return bytes(seen).decode("utf-8", errors="replace")
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        return None

    async def open_stdin(
        self, namespace: str, pod: str, container: str
    ) -> aiohttp.ClientWebSocketResponse:
        """Attach to the container's stdin (and nothing else): an open session, in which
        nothing is written yet. With `stdinOnce`, its end is the end of the container's
        stdin, whether or not anything was written."""
        url = (
            self._url(
                namespace,
                pod,
                "attach",
                {
                    "container": container,
                    "stdin": "true",
                    "stdout": "false",
                    "stderr": "false",
                    "tty": "false",
                },
            )
            .replace("https://", "wss://", 1)
            .replace("http://", "ws://", 1)
        )
        try:
            return await self.session().ws_connect(
                url,
                headers=self._headers(),
                protocols=ATTACH_PROTOCOLS,
                timeout=aiohttp.ClientWSTimeout(ws_close=CONNECT_TIMEOUT_S),
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as error:
            raise StreamError(f"attach refused: {error.status} {error.message}") from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise StreamError(f"attach failed: {type(error).__name__}: {error}") from error

    @staticmethod
    async def write_stdin(socket: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        """Write `data` on an open stdin session and end it (the container's stdin ends)."""
        if socket.closed:
            raise StreamError("the attach session had already ended")
        try:
            await socket.send_bytes(bytes([STDIN_CHANNEL]) + data)
            await socket.close()
        except (TimeoutError, aiohttp.ClientError, OSError, ConnectionError) as error:
            raise StreamError(f"attach failed: {type(error).__name__}: {error}") from error
