"""The SSE event stream on real `coderun serve` processes: events in order, resumed after a
dropped connection with Last-Event-ID, across two replicas sharing PostgreSQL and Redis;
its authentication and (off by default) CORS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import MakeApi
from tests.api.server import Server
from tests.api.sse import stream_events
from tests.fixtures.environment import migrating_serve_env

SLOW = "import time\ntime.sleep(1.5)\nprint('streamed')\n"


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[Server], env: dict[str, str]) -> Server:
    server = Server(env)
    server.start()
    servers.append(server)
    return server


def submit(server: Server, key: str, code: str = SLOW) -> str:
    response = httpx.post(
        server.base + "/api/v1/runner/submit",
        json={"code": code, "language": "python"},
        headers={"X-API-KEY": key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["data"]["jobId"]
    return job_id


def result_envelope(server: Server, key: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base}/api/v1/runner/{job_id}/result", headers={"X-API-KEY": key}, timeout=30
    )
    body: dict[str, Any] = response.json()
    return body


def test_events_in_order_then_the_stream_ends(
    servers: list[Server], tmp_path: Path, database_url: str
) -> None:
    server = start(servers, migrating_serve_env(tmp_path / "data", database_url))
    key = server.cli("account", "create", "sse@example.com", "--credits", "5")
    job_id = submit(server, key)
    events = stream_events(server.base, job_id, key)
    assert [(e.id, e.name) for e in events] == [(1, "status"), (2, "status"), (3, "result")]
    assert [e.data.get("status") for e in events[:2]] == ["queued", "running"]
    assert {e.data["jobId"] for e in events[:2]} == {job_id}
    assert events[2].data == result_envelope(server, key, job_id)
    assert events[2].data["data"]["stdout"] == "streamed\n"
    # Connecting after the end replays the events; after the last id there is nothing left.
    assert [e.id for e in stream_events(server.base, job_id, key)] == [1, 2, 3]
    assert stream_events(server.base, job_id, key, last_event_id="3") == []


def test_a_dropped_stream_resumes_with_last_event_id(
    servers: list[Server], tmp_path: Path, database_url: str
) -> None:
    server = start(servers, migrating_serve_env(tmp_path / "data", database_url))
    key = server.cli("account", "create", "resume@example.com", "--credits", "5")
    job_id = submit(server, key, "import time\ntime.sleep(2)\nprint('resumed')\n")
    first = stream_events(server.base, job_id, key, stop_after=1)
    assert [(e.id, e.data["status"]) for e in first] == [(1, "queued")]
    rest = stream_events(server.base, job_id, key, last_event_id=str(first[-1].id))
    assert [e.id for e in rest] == [2, 3]  # nothing repeated, nothing missing
    assert rest[-1].data["data"]["stdout"] == "resumed\n"


@pytest.mark.postgres
@pytest.mark.redis
def test_stream_resumed_on_another_replica_sharing_postgres_and_redis(
    servers: list[Server], tmp_path: Path, postgres_database: str, redis_clean: str
) -> None:
    """Replica A accepts and runs the job; the stream starts on A, drops, and resumes on B,
    which learns of A's changes through Redis."""
    env_a = migrating_serve_env(
        tmp_path / "a" / "data", postgres_database, CODERUN_REDIS_URL=redis_clean
    )
    env_b = migrating_serve_env(
        tmp_path / "b" / "data", postgres_database, CODERUN_REDIS_URL=redis_clean
    )
    replica_a, replica_b = start(servers, env_a), start(servers, env_b)
    key = replica_a.cli("account", "create", "replicas@example.com", "--credits", "5")
    job_id = submit(replica_a, key, "import time\ntime.sleep(2)\nprint('across')\n")
    first = stream_events(replica_a.base, job_id, key, stop_after=1)
    rest = stream_events(replica_b.base, job_id, key, last_event_id=str(first[-1].id))
    assert [e.id for e in first + rest] == [1, 2, 3]
    assert rest[-1].name == "result"
    assert rest[-1].data == result_envelope(replica_a, key, job_id)
    # A stream that starts on B for a job B never ran sees all of it too.
    other = submit(replica_a, key, "print('whole')")
    events = stream_events(replica_b.base, other, key)
    assert [e.id for e in events] == [1, 2, 3]
    assert events[-1].data["data"]["stdout"] == "whole\n"


def test_stream_needs_the_key_or_the_session_and_hides_other_accounts(make_api: MakeApi) -> None:
    api = make_api()
    _, key = api.new_account(email="owner@example.com")
    _, other = api.new_account(email="other@example.com")
    job_id = api.run(key, "print('mine')")["jobId"]
    path = f"/api/v1/runner/{job_id}/events"
    assert api.client.get(path).status_code == 401
    assert api.client.get(path, headers={"X-API-KEY": other}).status_code == 404
    bad = api.client.get(path, headers={"X-API-KEY": key, "Last-Event-ID": "abc"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["message"]
    # The playground's EventSource sends only the session cookie.
    body = {"email": "player@example.com", "password": "correct horse battery"}
    api.client.post("/api/v1/auth/signup", json=body)
    api.client.post("/api/v1/auth/signin", json=body)
    played = api.client.post(
        "/api/v1/runner/submit",
        json={"code": "print('play')", "language": "python"},
        headers={"X-Requested-With": "coderun-web"},
    )
    assert played.status_code == 200, played.text
    played_id = played.json()["data"]["jobId"]
    with api.client.stream("GET", f"/api/v1/runner/{played_id}/events") as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    assert "event: result" in text and "play" in text


def test_no_cors_by_default_and_only_listed_origins_when_set(make_api: MakeApi) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key",
    }
    closed = make_api()
    answer = closed.client.options("/api/v1/languages", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    plain = closed.client.get("/api/v1/languages", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in plain.headers

    opened = make_api(cors_origins="https://app.example.com")
    answer = opened.client.options("/api/v1/languages", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in answer.headers
    evil = opened.client.get("/api/v1/languages", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


def test_many_streams_on_one_job_each_get_every_event(
    servers: list[Server], tmp_path: Path, database_url: str
) -> None:
    """The streams woken by one change share one read of the job (routes/events.py
    SharedReads); none may get a stale one and miss an event."""
    from concurrent.futures import ThreadPoolExecutor

    server = start(servers, migrating_serve_env(tmp_path / "data", database_url))
    key = server.cli("account", "create", "many@example.com", "--credits", "5")
    job_id = submit(server, key, "import time\ntime.sleep(1)\nprint('all')\n")
    with ThreadPoolExecutor(max_workers=30) as pool:
        streams = list(pool.map(lambda _: stream_events(server.base, job_id, key), range(30)))
    assert all([e.id for e in events] == [1, 2, 3] for events in streams)
    assert all(events[-1].data["data"]["stdout"] == "all\n" for events in streams)
