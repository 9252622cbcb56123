"""At-least-once, never twice at once: a delivery survives a SIGKILL of the API between
attempts, and two replicas sharing a database never send one delivery concurrently."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import MakeApi
from tests.api.server import Server
from tests.api.test_webhooks import submit_with_callback, webhook_api, with_secret
from tests.api.webhook_listener import running_listener
from tests.fixtures.environment import migrating_serve_env


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    env = migrating_serve_env(
        tmp_path / "data",
        database_url,
        CODERUN_WEBHOOK_ALLOWLIST="127.0.0.1",
        # Long enough that the kill lands between the attempts; the attempt after the
        # restart is due at most this long after the first.
        CODERUN_WEBHOOK_BACKOFF_BASE_SECONDS="20",
        CODERUN_WEBHOOK_POLL_SECONDS="0.2",
    )
    server = Server(env)
    yield server
    server.stop()


def deliveries(server: Server, key: str, job_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.base}/api/v1/runner/{job_id}/deliveries", headers={"X-API-KEY": key}, timeout=30
    )
    found: list[dict[str, Any]] = response.json()["data"]["deliveries"]
    return found


def test_a_delivery_survives_an_api_killed_between_attempts(server: Server) -> None:
    key = server.cli("account", "create", "killed@example.com", "--credits", "3")
    server.start()
    secret = httpx.post(
        server.base + "/api/v1/account/webhook-secret", headers={"X-API-KEY": key}, timeout=30
    )
    assert secret.status_code == 200
    with running_listener(script=[500]) as listener:
        response = httpx.post(
            server.base + "/api/v1/runner/submit",
            json={"code": "print('after the crash')", "language": "python",
                  "callbackUrl": listener.url + "/hook"},
            headers={"X-API-KEY": key},
            timeout=30,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        job_id = response.json()["data"]["jobId"]
        for _ in range(600):
            log = deliveries(server, key, job_id)
            if log and log[0]["attempts"]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first attempt was never recorded")
        server.kill()  # SIGKILL: no shutdown, the retry is only in the database
        assert len(listener.received) == 1
        assert log[0]["state"] == "pending" and log[0]["nextAttemptAt"] is not None
        server.start()
        requests = listener.wait_for(2, timeout=120)
        for _ in range(600):
            log = deliveries(server, key, job_id)
            if log[0]["state"] != "pending":
                break
            time.sleep(0.05)
    assert log[0]["state"] == "delivered"
    assert [a["statusCode"] for a in log[0]["attempts"]] == [500, 200]
    ids = {request.headers["webhook-id"] for request in requests}
    assert ids == {log[0]["deliveryId"]}
    assert b"after the crash" in requests[1].body


def test_an_api_killed_during_an_attempt_leaves_a_lease_that_lapses_and_is_retried(
    tmp_path: Path,
) -> None:
    """The process dies with a request in flight, so its attempt is never recorded; the
    next process waits for the lease to lapse (3 x 1 s + 30 s here), then sends again,
    under the same webhook-id: at least once."""
    env = migrating_serve_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'lease.db'}",
        CODERUN_WEBHOOK_ALLOWLIST="127.0.0.1",
        CODERUN_WEBHOOK_TIMEOUT_SECONDS="1",
        CODERUN_WEBHOOK_POLL_SECONDS="0.2",
    )
    server = Server(env)
    key = server.cli("account", "create", "lease@example.com", "--credits", "3")
    server.start()
    try:
        httpx.post(
            server.base + "/api/v1/account/webhook-secret", headers={"X-API-KEY": key}, timeout=30
        ).raise_for_status()
        with running_listener(hold_seconds=5, hold_requests=1) as listener:
            response = httpx.post(
                server.base + "/api/v1/runner/submit",
                json={"code": "print(1)", "language": "python", "callbackUrl": listener.url},
                headers={"X-API-KEY": key},
                timeout=30,
            )
            job_id = response.json()["data"]["jobId"]
            listener.wait_for(1)
            server.kill()  # mid-attempt: the receiver is still holding the request
            server.start()
            first, second = listener.wait_for(2, timeout=120)
            for _ in range(600):
                log = deliveries(server, key, job_id)
                if log[0]["state"] == "delivered":
                    break
                time.sleep(0.05)
    finally:
        server.stop()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == log[0]["deliveryId"]
    assert second.at - first.at >= 30  # not before the lease lapsed
    assert [a["statusCode"] for a in log[0]["attempts"]] == [200]  # the lost one left no row


@pytest.mark.redis
def test_two_replicas_never_send_one_delivery_twice_at_once(
    make_api: MakeApi, database_url: str, redis_clean: str
) -> None:
    """Both replicas' senders compete for the same due rows; receivers hold each request
    a while, so a second concurrent send of one delivery would be seen as an overlap."""
    replica_a = webhook_api(make_api, database_url=database_url, redis_url=redis_clean)
    replica_b = webhook_api(make_api, database_url=database_url, redis_url=redis_clean)
    key, _ = with_secret(replica_a, credits=40)
    with running_listener(hold_seconds=0.3, script=[500] * 6) as listener:
        replicas = (replica_a, replica_b)
        jobs = [
            submit_with_callback(replicas[i % 2], key, f"{listener.url}/{i}", f"print({i})")
            for i in range(12)
        ]
        logs: dict[str, dict[str, Any]] = {}
        for _ in range(1200):
            for job_id in jobs:
                found = (
                    replicas[0]
                    .client.get(f"/api/v1/runner/{job_id}/deliveries", headers={"X-API-KEY": key})
                    .json()["data"]["deliveries"]
                )
                if found and found[0]["state"] == "delivered":
                    logs[job_id] = found[0]
            if len(logs) == len(jobs):
                break
            time.sleep(0.05)
        time.sleep(1)  # room for a wrong extra send to arrive
        received = list(listener.received)
    assert len(logs) == len(jobs), "not every delivery was delivered"
    assert listener.overlaps == 0  # never two sends of one delivery at once
    sent: dict[str, int] = {}
    for request in received:
        sent[request.headers["webhook-id"]] = sent.get(request.headers["webhook-id"], 0) + 1
    for log in logs.values():
        codes = [a["statusCode"] for a in log["attempts"]]
        assert codes.count(200) == 1 and codes[-1] == 200
        # Every send the receiver saw is one logged attempt: none was made twice.
        assert sent[log["deliveryId"]] == len(codes)
    assert sum(sent.values()) == len(received) >= len(jobs) + 6
