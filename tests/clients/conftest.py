"""The clients against a real `coderun serve` (tests/api/server.py): SQLite, the embedded
executor, its own data directory and port. Each test gets a new account, so credits and the
per-key submit limit of one test never decide another's outcome."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from coderun_client import Client

from tests.api.server import Server
from tests.fixtures import environment

REPO = Path(__file__).resolve().parents[2]
TYPESCRIPT = REPO / "clients" / "typescript"
WEBHOOK_ALLOWLIST = "127.0.0.1"


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The clients' `coderun serve`: development, the embedded executor, plus `settings`."""
    defaults = {
        "CODERUN_ENV": "development",
        "CODERUN_EXECUTOR": "local",
        "CODERUN_LOG_FORMAT": "text",
        # The tests' own webhook listeners live on 127.0.0.1, which callback URLs may not
        # reach by default (SSRF); this opens exactly that host.
        "CODERUN_WEBHOOK_ALLOWLIST": WEBHOOK_ALLOWLIST,
        "CODERUN_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",  # a retried delivery within the test
    }
    return environment.serve_env(data_dir, **(defaults | settings))


class ClientServer(Server):
    """tests/api's `coderun serve` subprocess, its output kept: a start that fails says why."""

    log_path: Path | None = None

    def start(self) -> None:
        self.log_path = Path(self.env["CODERUN_DATA_DIR"]).with_suffix(".log")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coderun_api.cli", "serve", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        for _ in range(600):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"coderun serve did not start:\n{tail}")

    def new_key(self, credits: int = 100) -> str:
        """A new account's API key (`coderun account create` prints it last)."""
        out = self.cli(
            "account", "create", f"client-{uuid.uuid4().hex[:10]}@example.com",
            "--credits", str(credits),
        )  # fmt: skip
        return out.splitlines()[-1].strip()


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[ClientServer]:
    """A started `coderun serve` with this environment, stopped on leaving."""
    process = ClientServer(env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientServer]:
    with serving(server_env(tmp_path_factory.mktemp("clients-api"))) as process:
        yield process


@pytest.fixture
def api_key(server: ClientServer) -> str:
    return server.new_key()


@pytest.fixture
def client(server: ClientServer, api_key: str) -> Iterator[Client]:
    with Client(base_url=server.base, api_key=api_key) as made:
        yield made


def npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = environment.without_settings()
    env["CODERUN_BIN"] = str(Path(sys.executable).with_name("coderun"))
    return subprocess.run(
        ["npm", *args], cwd=TYPESCRIPT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def built() -> Path:
    """`npm ci` (from the lockfile) and `npm run build`: dist/ holds the ESM build."""
    if shutil.which("npm") is None:
        pytest.fail("npm not found: install Debian's nodejs and npm (make test does)")
    for args, timeout in ((("ci", "--no-audit", "--no-fund"), 600), (("run", "build"), 300)):
        done = npm(*args, timeout=timeout)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return TYPESCRIPT / "dist"
