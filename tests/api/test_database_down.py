"""PostgreSQL stopped under a running API, then started again: every request meanwhile gets an
enveloped 503 that says what happened, and the API recovers by itself when it returns."""

from __future__ import annotations

import pytest

from tests.api.conftest import MakeApi
from tests.fixtures.services import PostgresServer

pytestmark = pytest.mark.postgres


def test_database_down_is_a_503_and_the_api_recovers(
    make_api: MakeApi, own_postgres: PostgresServer
) -> None:
    api = make_api(database_url=own_postgres.create_database())
    _, key = api.new_account(credits=5)
    first = api.submit(key, "print('before')")
    assert first.status_code == 200
    assert api.wait_final(key, first.json()["data"]["jobId"])["status"] == "success"

    own_postgres.stop()
    try:
        for response in (
            api.submit(key, "print('while down')"),
            api.result(key, first.json()["data"]["jobId"]),
            api.client.get("/api/v1/jobs", headers={"X-API-KEY": key}),
        ):
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["success"] is False and body["code"] == 503
            assert "database is unavailable" in body["message"]
            assert int(response.headers["Retry-After"]) >= 1
    finally:
        own_postgres.start()

    again = api.submit(key, "print('after')")
    assert again.status_code == 200, again.text
    result = api.wait_final(key, again.json()["data"]["jobId"])
    assert result["status"] == "success" and result["stdout"] == "after\n"
