"""API benchmark: submit latency and throughput on SQLite and PostgreSQL, and the time from
submit to final result against the bare runner, all measured in the same command.

`main() -> str` returns the "## API" section of docs/benchmarks.md (called by
bench/__main__.py). Run alone: `python -m bench.api`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from coderun_sandbox.contract import RunRequest
from coderun_sandbox.runner import execute

from tests.api.server import Server
from tests.fixtures import environment
from tests.fixtures.services import running_postgres

HELLO = "print('Hello, World!')"
LATENCY_SUBMITS = 200
THROUGHPUT_CLIENTS = 4
THROUGHPUT_PER_CLIENT = 50
E2E_REPS = 15


def serve_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked `coderun serve`: the database migrated at start, no
    submit rate limit (the benchmark measures the API, not the 60/min policy), plus `settings`."""
    return environment.serve_env(
        data_dir,
        CODERUN_AUTO_MIGRATE="true",
        CODERUN_SUBMIT_RATE_LIMIT="1000000/minute",
        CODERUN_LOG_LEVEL="WARNING",
        **settings,
    )


@contextmanager
def serving(data_dir: Path, database_url: str) -> Iterator[tuple[Server, str]]:
    server = Server(
        serve_env(data_dir, CODERUN_DATABASE_URL=database_url, CODERUN_LOCAL_WORKERS="1")
    )
    key = server.cli("account", "create", "bench@example.com", "--credits", "1000000")
    server.start()
    try:
        yield server, key
    finally:
        server.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def submit_once(client: httpx.Client, key: str) -> str:
    response = client.post(
        "/api/v1/runner/submit",
        json={"code": HELLO, "language": "python", "input": ""},
        headers={"X-API-KEY": key},
    )
    response.raise_for_status()
    return str(response.json()["data"]["jobId"])


def submit_latencies(server: Server, key: str) -> list[float]:
    with httpx.Client(base_url=server.base, timeout=30) as client:
        for _ in range(10):  # warm up connections and caches
            submit_once(client, key)
        samples = []
        for _ in range(LATENCY_SUBMITS):
            begin = time.perf_counter()
            submit_once(client, key)
            samples.append((time.perf_counter() - begin) * 1000)
    return samples


def sustained_rate(server: Server, key: str) -> float:
    start = threading.Barrier(THROUGHPUT_CLIENTS + 1)

    def client_loop() -> None:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            start.wait()
            for _ in range(THROUGHPUT_PER_CLIENT):
                submit_once(client, key)

    threads = [threading.Thread(target=client_loop) for _ in range(THROUGHPUT_CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    begin = time.perf_counter()
    for thread in threads:
        thread.join()
    return THROUGHPUT_CLIENTS * THROUGHPUT_PER_CLIENT / (time.perf_counter() - begin)


def end_to_end(server: Server, key: str) -> tuple[list[float], list[float]]:
    """Interleaved: API submit -> ?wait -> final, and the bare runner's execute()."""
    api_ms, bare_ms = [], []
    request = RunRequest(language="python", code=HELLO)
    with httpx.Client(base_url=server.base, timeout=60) as client:
        submit_once(client, key)  # warm-up
        execute(request)
        for _ in range(E2E_REPS):
            begin = time.perf_counter()
            job_id = submit_once(client, key)
            data = client.get(
                f"/api/v1/runner/{job_id}/result",
                params={"wait": "30"},
                headers={"X-API-KEY": key},
            ).json()["data"]
            api_ms.append((time.perf_counter() - begin) * 1000)
            assert data["status"] == "success", data
            begin = time.perf_counter()
            result = execute(request)
            bare_ms.append((time.perf_counter() - begin) * 1000)
            assert result.status == "success"
    return api_ms, bare_ms


def main() -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="coderun-bench-") as tmp, running_postgres() as pg:
        root = Path(tmp)
        backends = [
            ("SQLite", f"sqlite:///{root / 'sqlite' / 'coderun.db'}"),
            ("PostgreSQL", pg.create_database()),
        ]
        for name, url in backends:
            print(f"   api: submit path on {name}", file=sys.stderr, flush=True)
            with serving(root / name, url) as (server, key):
                latencies = submit_latencies(server, key)
                rate = sustained_rate(server, key)
            rows.append(
                f"| {name} | {statistics.median(latencies):.1f} | "
                f"{percentile(latencies, 0.99):.1f} | {rate:.0f} |"
            )
        print("   api: submit to final result vs bare runner", file=sys.stderr, flush=True)
        with serving(root / "e2e", f"sqlite:///{root / 'e2e' / 'coderun.db'}") as (server, key):
            api_ms, bare_ms = end_to_end(server, key)
    api_median, bare_median = statistics.median(api_ms), statistics.median(bare_ms)
    return "\n".join(
        [
            "## API",
            "",
            "`coderun serve` as a subprocess (one uvicorn worker, local executor with one",
            "worker thread), driven over HTTP with keep-alive by `bench/api.py`. Each",
            "accepted submission is a real job that the executor runs in the background, so",
            "the submit numbers include that competition for the two cores; the per-key rate",
            "limit is raised for the run.",
            "",
            f"Submit latency: {LATENCY_SUBMITS} sequential submits after 10 warm-up.",
            f"Sustained: {THROUGHPUT_CLIENTS} concurrent clients x {THROUGHPUT_PER_CLIENT}"
            " submits.",
            "",
            "| database | submit p50 (ms) | submit p99 (ms) | sustained submits/s |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Python hello world, submit to final result (`POST submit`, then one "
            f"`GET result?wait=30`), median of {E2E_REPS} interleaved with the bare runner "
            "(`coderun_sandbox.runner.execute` in the benchmark process) on SQLite:",
            "",
            "| path | median (ms) |",
            "|---|---|",
            f"| bare runner `execute()` | {bare_median:.0f} |",
            f"| API submit to final result | {api_median:.0f} |",
            f"| ratio API / bare | {api_median / bare_median:.2f} |",
            f"| API overhead | {api_median - bare_median:.0f} |",
            "",
        ]
    )


if __name__ == "__main__":
    print(main())
