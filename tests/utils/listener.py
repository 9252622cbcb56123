"""A TCP listener the tests open on a local address, to show that a sandbox cannot reach it
(and that an unsandboxed control can, so the block is real)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def accepted(sock: socket.socket, stop: threading.Event) -> Iterator[tuple[socket.socket, str]]:
    """(connection, peer address) for each connection a listening socket with a timeout
    accepts, until `stop` is set or the socket is closed."""
    while not stop.is_set():
        try:
            conn, addr = sock.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield conn, addr[0]


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve `server` (an http.server one, say) in a daemon thread for the block; then shut
    it down and close its socket."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


class Listener:
    """Accepts on (host, free port) in a thread and records every peer.

    greeting: bytes sent to each peer on accept (a client can show it got through).
    read_timeout: when set, up to 64 bytes the peer sends are recorded in `received`.
    """

    def __init__(self, host: str, greeting: bytes = b"", read_timeout: float | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.address: str = self.sock.getsockname()[0]
        self.port: int = self.sock.getsockname()[1]
        self.greeting = greeting
        self.read_timeout = read_timeout
        self.peers: list[str] = []
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def accepted(self) -> int:
        return len(self.peers)

    def _serve(self) -> None:
        for conn, peer in accepted(self.sock, self._stop):
            with conn:
                self.peers.append(peer)
                try:
                    if self.greeting:
                        conn.sendall(self.greeting)
                    if self.read_timeout is not None:
                        conn.settimeout(self.read_timeout)
                        self.received.append(conn.recv(64))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
