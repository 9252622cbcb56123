"""Per-key submission limit (60/min by default) and its sharing across replicas via Redis."""

from __future__ import annotations

import pytest

from tests.api.conftest import MakeApi
from tests.api.helpers import Api

# Refused by validation after the limit check: counts against the limit, queues nothing.
CHEAP = {"code": "print(1)", "language": "not-a-language", "input": ""}


def submit_cheap(api: Api, key: str) -> int:
    response = api.client.post("/api/v1/runner/submit", json=CHEAP, headers={"X-API-KEY": key})
    return int(response.status_code)


def test_default_submit_limit_is_60_per_minute_per_key(api: Api) -> None:
    _, key = api.new_account("a@example.com")
    _, other = api.new_account("b@example.com")
    statuses = [submit_cheap(api, key) for _ in range(60)]
    assert statuses == [400] * 60
    limited = api.client.post("/api/v1/runner/submit", json=CHEAP, headers={"X-API-KEY": key})
    assert limited.status_code == 429
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    envelope = limited.json()
    assert envelope["success"] is False and envelope["code"] == 429
    assert "60/minute" in envelope["message"]
    # Another key has its own budget; reading results is not limited.
    assert submit_cheap(api, other) == 400
    assert api.result(key, "f" * 24).status_code == 404


@pytest.mark.redis
def test_limits_are_shared_between_replicas_through_redis(
    make_api: MakeApi, redis_clean: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'coderun.db'}"
    replica_a = make_api(database_url=database, redis_url=redis_clean, submit_rate_limit="4/minute")
    replica_b = make_api(database_url=database, redis_url=redis_clean, submit_rate_limit="4/minute")
    _, key = replica_a.new_account()
    assert [submit_cheap(replica_a, key), submit_cheap(replica_b, key)] == [400, 400]
    assert [submit_cheap(replica_a, key), submit_cheap(replica_b, key)] == [400, 400]
    assert submit_cheap(replica_a, key) == 429
    assert submit_cheap(replica_b, key) == 429


@pytest.mark.redis
def test_auth_limit_is_shared_through_redis(
    make_api: MakeApi, redis_clean: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'coderun.db'}"
    replica_a = make_api(database_url=database, redis_url=redis_clean)
    replica_b = make_api(database_url=database, redis_url=redis_clean)
    body = {"email": "x@example.com", "password": "whatever1"}
    # One email per attempt: this counts the per-address limit, not the per-email backoff.
    codes = [
        (replica_a if i % 2 else replica_b)
        .client.post("/api/v1/auth/signin", json={**body, "email": f"x{i}@example.com"})
        .status_code
        for i in range(10)
    ]
    assert codes == [401] * 10
    limited = replica_a.client.post("/api/v1/auth/signin", json=body)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_unreachable_redis_fails_closed_with_503(make_api: MakeApi) -> None:
    from tests.fixtures.services import free_port

    api = make_api(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    _, key = api.new_account()
    response = api.submit(key, "print(1)")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5" and "Redis" in response.json()["message"]
    assert api.job_count() == 0
