"""A redis-server that a test can stop and start again on the same port (the session's
Redis in tests/fixtures/services.py is shared, so it must never go down)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixtures.services import REDIS_SERVER, free_port
from tests.reliability.ledger import bounded


@dataclass
class RestartableRedis:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.workdir), "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        bounded(self.answers, "redis-server answers PING", rounds=100, pause=0.1)

    def stop(self) -> None:
        """SIGKILL: connections drop as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False


@contextmanager
def restartable_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis(free_port(), Path(tempfile.mkdtemp(prefix="coderun-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
