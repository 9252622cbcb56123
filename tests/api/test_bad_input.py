"""Bad input: 4xx with the envelope and a message saying what to fix; nothing queued or charged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.helpers import Api

SUBMIT = "/api/v1/runner/submit"
BIG = 64 * 1024 + 1


@pytest.mark.parametrize(
    ("body", "status", "fix"),
    [
        ({"code": "print(1)", "language": "ruby", "input": ""}, 400, "unsupported language 'ruby'"),
        ({"language": "python", "input": ""}, 400, "`code` is required"),
        ({"code": "", "language": "python", "input": ""}, 400, "code is empty"),
        ({"code": "   \n", "language": "python", "input": ""}, 400, "code is empty"),
        ({"code": "print(1)", "input": ""}, 400, "`language` is required"),
        ({"code": "x" * BIG, "language": "python", "input": ""}, 400, "the limit is 65536 bytes"),
        ({"code": "print(1)", "language": "python", "input": "y" * BIG}, 400, "input is 65537"),
        ({"code": 123, "language": "python", "input": ""}, 400, "`code` must be a string"),
        ({"code": "print(1)", "language": ["python"], "input": ""}, 400, "`language` must be a"),
        ({"code": "print(1)", "language": "python", "input": None}, 400, "`input` must be a"),
        (["print(1)", "python"], 400, "must be a JSON object"),
    ],
    ids=[
        "unknown-language", "missing-code", "empty-code", "blank-code", "missing-language",
        "code-too-big", "input-too-big", "code-not-string", "language-not-string",
        "input-null", "array-body",
    ],
)  # fmt: skip
def test_bad_submissions(api: Api, body: object, status: int, fix: str) -> None:
    account_id, key = api.new_account(credits=3)
    response = api.client.post(SUBMIT, json=body, headers={"X-API-KEY": key})
    assert response.status_code == status, response.text
    envelope = response.json()
    assert envelope["success"] is False and envelope["code"] == status
    assert envelope["data"] is None
    assert fix in envelope["message"]
    assert api.job_count() == 0
    assert api.account(account_id).credits == 3


def test_malformed_json(api: Api) -> None:
    _, key = api.new_account()
    response = api.client.post(
        SUBMIT,
        content=b'{"code": "print(1)", "language": ',
        headers={"X-API-KEY": key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert api.job_count() == 0


def test_oversized_body_by_content_length(api: Api) -> None:
    _, key = api.new_account()
    body = json.dumps({"code": "x" * 300_000, "language": "python", "input": ""})
    response = api.client.post(
        SUBMIT, content=body, headers={"X-API-KEY": key, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["success"] is False and "larger than" in response.json()["message"]
    assert api.job_count() == 0


def test_oversized_body_streamed_without_content_length(api: Api) -> None:
    _, key = api.new_account()

    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'", "language": "python", "input": ""}'

    response = api.client.post(
        SUBMIT, content=chunks(), headers={"X-API-KEY": key, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == 413
    assert api.job_count() == 0


def test_unknown_route_and_method_use_the_envelope(api: Api) -> None:
    missing = api.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["success"] is False
    wrong_method = api.client.get(SUBMIT)
    assert wrong_method.status_code == 405 and wrong_method.json()["success"] is False


def test_bad_history_filters(api: Api) -> None:
    _, key = api.new_account()
    headers = {"X-API-KEY": key}
    for query, word in [
        ("status=done", "`status`"),
        ("language=cobol", "`language`"),
        ("errorType=Oops", "`errorType`"),
        ("from=yesterday", "`from`"),
        ("pageSize=1000", "pageSize"),
        ("page=0", "page"),
    ]:
        response = api.client.get(f"/api/v1/jobs?{query}", headers=headers)
        assert response.status_code == 400, query
        assert word in response.json()["message"], query
