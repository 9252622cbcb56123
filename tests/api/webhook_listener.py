"""A real HTTP receiver on 127.0.0.1 for webhook tests: answers a script of status codes
and records every request it got (headers, body, when), and how many were open at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.utils.listener import serving


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    wall: float  # time.time(), to compare with the API's timestamps (benchmarks)


@dataclass
class Listener:
    port: int = 0
    # Status codes for the first requests; every later one gets `then`.
    script: list[int] = field(default_factory=list)
    then: int = 200
    location: str = ""  # sent with 3xx answers
    hold_seconds: float = 0.0  # how long each request is held before the answer
    hold_requests: int = 1 << 30  # ... only the first this many
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    overlaps: int = 0  # requests for a webhook-id that arrived while another was open
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """Until `count` requests arrived (bounded, so a broken sender fails the test)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        message_id = handler.headers.get("webhook-id", "")
        with self.lock:
            if self.in_flight.get(message_id):
                self.overlaps += 1
            self.in_flight[message_id] = self.in_flight.get(message_id, 0) + 1
            index = len(self.received)
            status = self.script[index] if index < len(self.script) else self.then
        with self.arrived:
            self.received.append(
                Received(
                    handler.path, dict(handler.headers.items()), body, time.monotonic(), time.time()
                )
            )
            self.arrived.notify_all()
        if self.hold_seconds and index < self.hold_requests:
            time.sleep(self.hold_seconds)
        with self.lock:
            self.in_flight[message_id] -= 1
        handler.send_response(status)
        if 300 <= status < 400 and self.location:
            handler.send_header("Location", self.location)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")


@contextmanager
def running_listener(**options: object) -> Iterator[Listener]:
    listener = Listener(**options)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            listener._answer(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a sender that gave up and closed (the timeout test) is expected

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    listener.port = server.server_address[1]
    with serving(server):
        yield listener
