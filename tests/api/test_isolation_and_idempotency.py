"""Tenant isolation and Idempotency-Key."""

from __future__ import annotations

from tests.api.helpers import Api


def test_another_accounts_job_is_indistinguishable_from_a_missing_one(any_db_api: Api) -> None:
    _, alice = any_db_api.new_account("alice@example.com")
    _, bob = any_db_api.new_account("bob@example.com")
    job_id = any_db_api.run(alice, "print('secret')")["jobId"]
    theirs = any_db_api.result(bob, job_id)
    missing_id = "f" * 24
    missing = any_db_api.result(bob, missing_id)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["message"].replace(job_id, "ID") == missing.json()["message"].replace(
        missing_id, "ID"
    )
    assert "secret" not in theirs.text
    # Nor is it in Bob's history.
    listing = any_db_api.client.get("/api/v1/jobs", headers={"X-API-KEY": bob}).json()["data"]
    assert listing["total"] == 0
    # And waiting on it does not leak either.
    assert any_db_api.result(bob, job_id, wait=1).status_code == 404


def test_idempotency_key_makes_retries_safe(api: Api) -> None:
    account_id, key = api.new_account(credits=5)
    headers = {"Idempotency-Key": "retry-1"}
    first = api.submit(key, "print('once')", headers=headers)
    second = api.submit(key, "print('once')", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["jobId"] == second.json()["data"]["jobId"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert api.job_count() == 1
    api.wait_final(key, first.json()["data"]["jobId"])
    assert api.account(account_id).credits_used == 1
    conflict = api.submit(key, "print('different')", headers=headers)
    assert conflict.status_code == 409 and "Idempotency-Key" in conflict.json()["message"]
    # Keys are per account: another account may use the same string.
    _, other = api.new_account("other@example.com")
    assert (
        api.submit(other, "print('once')", headers=headers).json()["data"]["jobId"]
        != (first.json()["data"]["jobId"])
    )
