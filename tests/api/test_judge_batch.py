"""Batch submissions through REST (embedded executor): one bad item does not reject the
others; rate limits, credits and Idempotency-Key count and work per item."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import MakeApi
from tests.api.helpers import Api
from tests.utils.judge_programs import CPP_SUM, ten_sum_cases

BATCH = "/api/v1/runner/submissions/batch"


def post_batch(
    api: Api, key: str, items: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> httpx.Response:
    response: httpx.Response = api.client.post(
        BATCH, json={"submissions": items}, headers={"X-API-KEY": key, **(headers or {})}
    )
    return response


def test_a_batch_with_one_invalid_item(api: Api) -> None:
    account_id, key = api.new_account(credits=20)
    items: list[dict[str, Any]] = [
        {"code": "print('a')", "language": "python"},
        {"code": "print('b')", "language": "ruby"},
        {"code": CPP_SUM, "language": "cpp", "testCases": ten_sum_cases()[:3]},
        {"language": "python"},
        {"code": CPP_SUM, "language": "cpp", "compilerOptions": ["-fplugin=/tmp/x.so"]},
    ]
    response = post_batch(api, key, items)
    assert response.status_code == 200, response.text
    answers = response.json()["data"]["submissions"]
    assert [a["index"] for a in answers] == [0, 1, 2, 3, 4]
    assert answers[1]["error"]["type"] == "BadRequest" and "ruby" in answers[1]["error"]["message"]
    assert answers[3]["error"]["message"] == "`code` is required"
    assert "-fplugin=/tmp/x.so" in answers[4]["error"]["message"]
    ids = [answers[0]["jobId"], answers[2]["jobId"]]
    finals = [api.wait_final(key, job_id) for job_id in ids]
    assert finals[0]["stdout"] == "a\n"
    assert finals[1]["testCasesPassed"] == 3
    # GET many at once, in the order asked; an unknown id is an error in its place.
    fetched = api.client.get(
        BATCH, params={"jobIds": f"{ids[1]},{'0' * 24},{ids[0]}"}, headers={"X-API-KEY": key}
    )
    assert fetched.status_code == 200
    got = fetched.json()["data"]["submissions"]
    assert got[0]["jobId"] == ids[1] and got[0]["testCasesTotal"] == 3
    assert got[1] == {
        "jobId": "0" * 24,
        "error": {"type": "NotFound", "code": 404, "message": f"job {'0' * 24} not found"},
    }
    assert got[2]["jobId"] == ids[0] and got[2]["status"] == "success"
    # Charged per item: 1 for the python run, 3 for the three right sums.
    assert api.account(account_id).credits == 16


def test_another_accounts_jobs_are_not_found_in_a_batch_get(api: Api) -> None:
    _, key = api.new_account("a@example.com", credits=5)
    _, other = api.new_account("b@example.com", credits=5)
    answers = post_batch(api, key, [{"code": "print(1)", "language": "python"}])
    job_id = answers.json()["data"]["submissions"][0]["jobId"]
    fetched = api.client.get(BATCH, params={"jobIds": job_id}, headers={"X-API-KEY": other})
    assert fetched.json()["data"]["submissions"][0]["error"]["type"] == "NotFound"


def test_credits_and_rate_limits_count_each_item(make_api: MakeApi) -> None:
    api = make_api(submit_rate_limit="4/minute")
    _, key = api.new_account(credits=2)
    items = [{"code": f"print({i})", "language": "python"} for i in range(5)]
    answers = post_batch(api, key, items).json()["data"]["submissions"]
    kinds = [a.get("error", {}).get("type", "queued") for a in answers]
    # Two credits reserve two runs; the third and fourth are refused for credits; the fifth
    # is over the limit of four submissions a minute.
    assert kinds == ["queued", "queued", "PaymentRequired", "PaymentRequired", "TooManyRequests"]
    single = api.client.post("/api/v1/runner/submit", json=items[0], headers={"X-API-KEY": key})
    assert single.status_code == 429  # the batch's items counted against the same limit


def test_idempotency_key_for_a_batch(api: Api) -> None:
    account_id, key = api.new_account(credits=10)
    items = [
        {"code": "print('x')", "language": "python"},
        {"code": "print('y')", "language": "python"},
    ]
    headers = {"Idempotency-Key": "batch-1"}
    first = post_batch(api, key, items, headers)
    again = post_batch(api, key, items, headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    ids = [a["jobId"] for a in first.json()["data"]["submissions"]]
    assert [a["jobId"] for a in again.json()["data"]["submissions"]] == ids
    for job_id in ids:
        api.wait_final(key, job_id)
    assert api.account(account_id).credits == 8  # two runs, not four
    changed = post_batch(
        api, key, [items[0], {"code": "print('z')", "language": "python"}], headers
    )
    answers = changed.json()["data"]["submissions"]
    assert answers[0]["jobId"] == ids[0]
    assert answers[1]["error"]["type"] == "Conflict"
    assert "Idempotency-Key" in answers[1]["error"]["message"]


def test_batch_shape_errors(api: Api) -> None:
    _, key = api.new_account(credits=10)
    empty = post_batch(api, key, [])
    assert empty.status_code == 400 and "send 1 to 20" in empty.json()["message"]
    many = post_batch(api, key, [{"code": "print(1)", "language": "python"}] * 21)
    assert many.status_code == 400 and "21 items" in many.json()["message"]
    not_list = api.client.post(BATCH, json={"submissions": "x"}, headers={"X-API-KEY": key})
    assert not_list.status_code == 400
    unauthenticated = api.client.post(BATCH, json={"submissions": []})
    assert unauthenticated.status_code == 401
