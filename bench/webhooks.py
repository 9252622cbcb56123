"""Webhooks and event streams: the time from a job's final result to its webhook being
received, next to the `?wait` long-poll answering on the same jobs (the baseline, measured
in the same run); and 1,000 concurrent SSE streams held by one API process, with the memory
they cost and how fast one result reaches all of them.

All on the embedded default (SQLite, the local executor), the receiver and the streams on
127.0.0.1. `main() -> str` returns the "## Webhooks and event streams" section of
docs/benchmarks.md. Run alone: `python -m bench --only webhooks`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from coderun_sandbox.contract import parse_iso_utc

from bench.api import percentile, serve_env
from tests.api.server import Server
from tests.api.webhook_listener import running_listener

WEBHOOK_JOBS = 100
STREAMS = 1000
BLOCKERS = 14  # 2.5 s jobs ahead of the streamed one: time to open every stream first
BLOCKER = "import time\ntime.sleep(2.5)\n"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    # The receiver listens on 127.0.0.1, which callback URLs may not reach by default.
    return serve_env(data_dir, CODERUN_WEBHOOK_ALLOWLIST="127.0.0.1", **extra)


def _ms(values: list[float]) -> str:
    return f"{percentile(values, 0.5) * 1000:.0f} ms / {percentile(values, 0.99) * 1000:.0f} ms"


# -- final -> webhook received ---------------------------------------------------------------


def webhook_latency(data_dir: Path) -> tuple[list[float], list[float]]:
    """Per job: (webhook received - finishedAt) and (?wait answer received - finishedAt)."""
    server = Server(_env(data_dir))
    key = server.cli("account", "create", "bench@example.com", "--credits", "1000000")
    server.start()
    hooks: list[float] = []
    polls: list[float] = []
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client, running_listener() as hook:
            headers = {"X-API-KEY": key}
            client.post("/api/v1/account/webhook-secret", headers=headers).raise_for_status()
            for i in range(WEBHOOK_JOBS + 5):
                submitted = client.post(
                    "/api/v1/runner/submit",
                    json={"code": f"print({i})", "language": "python", "callbackUrl": hook.url},
                    headers=headers,
                )
                job_id = submitted.json()["data"]["jobId"]
                answered = client.get(f"/api/v1/runner/{job_id}/result?wait=30", headers=headers)
                polled_at = time.time()
                (request,) = [r for r in hook.wait_for(i + 1) if job_id.encode() in r.body]
                finished = parse_iso_utc(answered.json()["data"]["finishedAt"]).timestamp()
                if i >= 5:  # the first few warm up the process
                    hooks.append(request.wall - finished)
                    polls.append(polled_at - finished)
    finally:
        server.stop()
    return hooks, polls


# -- 1,000 SSE streams -----------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _open_sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


async def _one_stream(
    port: int, path: str, key: str, connected: asyncio.Event, counter: list[int], total: int
) -> float | None:
    """Open the stream, count it once its first event arrived, and return when the result
    event arrived (time.time()), or None if the stream ended without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    seen_first = False
    try:
        while True:
            line = await reader.readline()
            if not line:
                return None
            if line.startswith(b"id: ") and not seen_first:
                seen_first = True
                counter[0] += 1
                if counter[0] == total:
                    connected.set()
            if line.startswith(b"event: result"):
                return time.time()
    finally:
        writer.close()


async def _streams(server: Server, key: str, job_id: str) -> dict[str, Any]:
    assert server.process is not None
    pid = server.process.pid
    idle_rss = _rss_kib(pid)
    idle_sockets = _open_sockets(pid)
    connected = asyncio.Event()
    counter = [0]
    started = time.monotonic()
    path = f"/api/v1/runner/{job_id}/events"
    tasks = [
        asyncio.create_task(_one_stream(server.port, path, key, connected, counter, STREAMS))
        for _ in range(STREAMS)
    ]
    await asyncio.wait_for(connected.wait(), timeout=BLOCKERS * 2.5)
    open_seconds = time.monotonic() - started
    held_rss = _rss_kib(pid)
    held_sockets = _open_sockets(pid)
    results = await asyncio.gather(*tasks)
    return {
        "opened": counter[0],
        "open_seconds": open_seconds,
        "idle_rss": idle_rss,
        "held_rss": held_rss,
        "sockets": held_sockets - idle_sockets,
        "result_times": [r for r in results if r is not None],
    }


def sse_streams(data_dir: Path) -> dict[str, Any]:
    server = Server(_env(data_dir, CODERUN_LOCAL_WORKERS="1", CODERUN_MAX_RUNNING_PER_ACCOUNT="1"))
    key = server.cli("account", "create", "streams@example.com", "--credits", "1000000")
    server.start()
    try:
        headers = {"X-API-KEY": key}
        with httpx.Client(base_url=server.base, timeout=60) as client:

            def submit(code: str) -> str:
                response = client.post(
                    "/api/v1/runner/submit", json={"code": code, "language": "python"},
                    headers=headers,
                )  # fmt: skip
                return str(response.json()["data"]["jobId"])

            for _ in range(BLOCKERS):
                submit(BLOCKER)
            job_id = submit("print('to everyone')")
            measured = asyncio.run(_streams(server, key, job_id))
            final = client.get(f"/api/v1/runner/{job_id}/result", headers=headers).json()
        finished = parse_iso_utc(final["data"]["finishedAt"]).timestamp()
        measured["fanout"] = [t - finished for t in measured["result_times"]]
        return measured
    finally:
        server.stop()


def main() -> str:
    with tempfile.TemporaryDirectory(prefix="coderun-bench-webhooks-") as tmp:
        hooks, polls = webhook_latency(Path(tmp) / "latency")
        streams = sse_streams(Path(tmp) / "streams")
    per_stream = (streams["held_rss"] - streams["idle_rss"]) / max(1, streams["opened"])
    ratio = percentile(hooks, 0.5) / max(percentile(polls, 0.5), 1e-6)
    lines = [
        "## Webhooks and event streams",
        "",
        "`python -m bench --only webhooks` (bench/webhooks.py): one `coderun serve` "
        "on the embedded default (SQLite, local executor), a receiver and the clients on "
        "127.0.0.1 (CODERUN_WEBHOOK_ALLOWLIST=127.0.0.1). The final moment is the job's own "
        "`finishedAt`; the baseline is a `?wait=30` long-poll on the same job, answered by "
        "the same finalization.",
        "",
        "| Measure | p50 / p99 |",
        "| --- | --- |",
        f"| final -> webhook received ({len(hooks)} jobs, one at a time) | {_ms(hooks)} |",
        f"| final -> `?wait` answer received (baseline, same jobs) | {_ms(polls)} |",
        f"| ratio of the medians, webhook / long-poll | {ratio:.1f}x |",
        "",
        f"{STREAMS:,} concurrent SSE streams on one API process (`GET .../events`, one job "
        f"queued behind {BLOCKERS} 2.5 s jobs on one worker, so every stream stays open "
        "until its result):",
        "",
        "| Measure | Value |",
        "| --- | --- |",
        f"| streams holding (first event received, still open) | {streams['opened']:,} |",
        f"| sockets the API process held for them | {streams['sockets']:,} |",
        f"| time to open all of them | {streams['open_seconds']:.1f} s |",
        f"| API process RSS idle -> holding them | {streams['idle_rss'] / 1024:.0f} MiB -> "
        f"{streams['held_rss'] / 1024:.0f} MiB |",
        f"| memory per stream | {per_stream:.0f} KiB |",
        f"| streams that got the result event | {len(streams['fanout']):,} |",
        f"| final -> result event received, p50 / p99 over the streams | "
        f"{_ms(streams['fanout'])} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
