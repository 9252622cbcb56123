"""schemathesis against the server's own OpenAPI document: requests generated from the schema
(valid and invalid) find no 5xx and no response outside what the schema declares.

The server is a real `coderun serve` on loopback and schemathesis is given that base URL only,
so nothing leaves this machine. The one field that names an address to call, submit's
`callbackUrl`, is refused before any DNS lookup while the account has no webhook secret, so
the route that creates one is left out. Long-polls are capped at 1 s by the server's own
setting, so `?wait=30` cannot stall the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import Server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    env = {
        **os.environ,
        "CODERUN_DATA_DIR": str(data),
        "CODERUN_LOG_FORMAT": "text",
        "CODERUN_LOG_LEVEL": "WARNING",
        "CODERUN_MAX_WAIT_SECONDS": "1",
        # One client sending hundreds of requests: limits would answer 429 (declared, but it
        # hides the routes behind them).
        "CODERUN_SUBMIT_RATE_LIMIT": "100000/minute",
        "CODERUN_AUTH_RATE_LIMIT": "100000/minute",
        "CODERUN_SIGNIN_FAILURE_LIMIT": "100000/minute",
    }
    server = Server(env)
    server.start()
    try:
        printed = server.cli("account", "create", "fuzz@example.com", "--credits", "100000")
        key = next(word for word in printed.split() if word.startswith("nr_live_"))
        yield server, key
    finally:
        server.stop()


@pytest.mark.timeout(900)  # ~500 requests, some of which run programs; a loaded CI machine
def test_generated_requests_get_declared_answers(
    served: tuple[Server, str], tmp_path: Path
) -> None:
    server, key = served
    schemathesis = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(schemathesis), "run", server.base + "/openapi.json",
            "--url", server.base,
            "--checks", CHECKS,
            "--header", f"X-API-KEY: {key}",
            # Rotating the key mid-run would turn every later request into a 401.
            "--exclude-path", "/api/v1/account/api-key",
            # Without a secret every callbackUrl is a 400 before its host is resolved.
            "--exclude-path", "/api/v1/account/webhook-secret",
            "--max-examples", "25",
            "--seed", "20261201",
            "--request-timeout", "15",
            "--phases", "examples,coverage,fuzzing",
            "--workers", "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
