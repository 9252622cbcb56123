"""A TCP relay from the node's address to a service listening on 127.0.0.1.

The test PostgreSQL and Redis (tests/fixtures/services.py) listen on loopback only; pods
reach the node at its own address. The relay makes them the "external database and Redis"
a production install points at, without changing how they are started.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.utils.listener import accepted


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class Relay:
    """Accepts on (host, free port); each connection is piped to 127.0.0.1:target_port."""

    def __init__(self, host: str, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.5)
        self.host = host
        self.port: int = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        for client, _ in accepted(self.listener, self._stop):
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.close()


@contextlib.contextmanager
def relayed(host: str, target_port: int) -> Iterator[Relay]:
    relay = Relay(host, target_port)
    try:
        yield relay
    finally:
        relay.close()
