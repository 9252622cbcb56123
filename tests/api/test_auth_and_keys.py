"""Sign-up, sign-in, sessions with CSRF header, API keys and their rotation."""

from __future__ import annotations

from tests.api.helpers import CSRF, Api

MISSING_KEY_WORD = "X-API-KEY"


def signup(api: Api, email: str = "ada@example.com", password: str = "correct horse") -> None:
    response = api.client.post("/api/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text


def test_signup_sets_a_hardened_session_cookie(api: Api) -> None:
    response = api.client.post(
        "/api/v1/auth/signup", json={"email": "Ada@Example.com", "password": "correct horse"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "code": 201,
        "success": True,
        "message": "account created",
        "data": {"email": "ada@example.com", "credits": 100},
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("coderun_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = cookie.split(";")[0].split("=", 1)[1]
    # Stored hashed: the raw token is nowhere in the database.
    from coderun_api.models import WebSession
    from sqlmodel import Session, select

    with Session(api.state.engine) as session:
        stored = session.exec(select(WebSession)).all()
    assert len(stored) == 1 and stored[0].token_hash != token and token not in stored[0].token_hash


def test_signup_refuses_duplicates_and_short_passwords(api: Api) -> None:
    signup(api)
    again = api.client.post(
        "/api/v1/auth/signup", json={"email": "ADA@example.com", "password": "another one"}
    )
    assert again.status_code == 409 and again.json()["success"] is False
    short = api.client.post(
        "/api/v1/auth/signup", json={"email": "b@example.com", "password": "1234567"}
    )
    assert short.status_code == 400 and "8 characters" in short.json()["message"]
    bad_email = api.client.post(
        "/api/v1/auth/signup", json={"email": "nope", "password": "12345678"}
    )
    assert bad_email.status_code == 400 and "email" in bad_email.json()["message"]


def test_signin_signout_and_password_hash(api: Api) -> None:
    signup(api)
    api.client.cookies.clear()
    wrong = api.client.post(
        "/api/v1/auth/signin", json={"email": "ada@example.com", "password": "wrong password"}
    )
    unknown = api.client.post(
        "/api/v1/auth/signin", json={"email": "nobody@example.com", "password": "correct horse"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]
    ok = api.client.post(
        "/api/v1/auth/signin", json={"email": "ada@example.com", "password": "correct horse"}
    )
    assert ok.status_code == 200 and "coderun_session=" in ok.headers["set-cookie"]
    assert api.client.get("/api/v1/account").json()["data"]["email"] == "ada@example.com"
    from coderun_api.models import Account
    from sqlmodel import Session, select

    with Session(api.state.engine) as session:
        account = session.exec(select(Account)).one()
    assert account.password_hash is not None and account.password_hash.startswith("$argon2")
    out = api.client.post("/api/v1/auth/signout", headers=CSRF)
    assert out.status_code == 200
    api.client.cookies.clear()  # the browser drops it on the expired Set-Cookie
    assert api.client.get("/api/v1/account").status_code == 401


def test_session_unsafe_requests_need_the_csrf_header(api: Api) -> None:
    signup(api)
    no_header = api.client.post("/api/v1/account/api-key")
    assert no_header.status_code == 403 and "X-Requested-With" in no_header.json()["message"]
    submit = api.client.post(
        "/api/v1/runner/submit", json={"code": "print(1)", "language": "python", "input": ""}
    )
    assert submit.status_code == 403
    assert api.job_count() == 0
    # Safe methods do not need it.
    assert api.client.get("/api/v1/account").status_code == 200


def test_playground_uses_the_runner_api_with_the_session(api: Api) -> None:
    signup(api)
    response = api.client.post(
        "/api/v1/runner/submit",
        json={"code": "print(6*7)", "language": "python", "input": ""},
        headers=CSRF,
    )
    assert response.status_code == 200
    job_id = response.json()["data"]["jobId"]
    data = api.client.get(f"/api/v1/runner/{job_id}/result?wait=30").json()["data"]
    assert data["stdout"] == "42\n"


def test_key_generation_rotation_and_revocation(api: Api) -> None:
    signup(api)
    account = api.client.get("/api/v1/account").json()["data"]
    assert account["hasApiKey"] is False and account["apiKeyPrefix"] is None
    first = api.client.post("/api/v1/account/api-key", headers=CSRF)
    assert first.status_code == 201
    key1 = first.json()["data"]["apiKey"]
    assert first.headers["cache-control"] == "no-store"
    assert key1.startswith("nr_live_") and len(key1) == len("nr_live_") + 43
    info = api.client.get("/api/v1/account", headers={"X-API-KEY": key1}).json()["data"]
    assert info["hasApiKey"] is True and key1.startswith(info["apiKeyPrefix"])
    # Stored only as a hash.
    from coderun_api.models import ApiKey
    from sqlmodel import Session, select

    with Session(api.state.engine) as session:
        stored = session.exec(select(ApiKey)).all()
    assert all(key1 not in (row.key_hash, row.prefix) for row in stored)

    key2 = api.client.post("/api/v1/account/api-key", headers=CSRF).json()["data"]["apiKey"]
    assert key2 != key1
    api.client.cookies.clear()
    revoked = api.client.get("/api/v1/account", headers={"X-API-KEY": key1})
    assert revoked.status_code == 401 and MISSING_KEY_WORD in revoked.json()["message"]
    old_submit = api.submit(key1, "print(1)")
    assert old_submit.status_code == 401
    assert api.client.get("/api/v1/account", headers={"X-API-KEY": key2}).status_code == 200
    with Session(api.state.engine) as session:
        active = [row for row in session.exec(select(ApiKey)).all() if row.revoked_at is None]
    assert len(active) == 1


def test_api_key_cannot_mint_keys(api: Api) -> None:
    _, key = api.new_account()
    response = api.client.post("/api/v1/account/api-key", headers={"X-API-KEY": key, **CSRF})
    assert response.status_code == 401


def test_bad_keys_are_401_naming_the_header(api: Api) -> None:
    _, key = api.new_account()
    body = {"code": "print(1)", "language": "python", "input": ""}
    cases = {
        "missing": {},
        "malformed": {"X-API-KEY": "sk_test_123"},
        "unknown": {"X-API-KEY": "nr_live_" + "A" * 43},
        "truncated": {"X-API-KEY": key[:-1]},
    }
    for name, headers in cases.items():
        response = api.client.post("/api/v1/runner/submit", json=body, headers=headers)
        assert response.status_code == 401, name
        envelope = response.json()
        assert envelope["success"] is False and envelope["code"] == 401 and envelope["data"] is None
        assert MISSING_KEY_WORD in envelope["message"], name
        result = api.client.get("/api/v1/runner/0123456789abcdef01234567/result", headers=headers)
        assert result.status_code == 401, name
    assert api.job_count() == 0


def test_auth_route_rate_limit_with_retry_after(api: Api) -> None:
    credentials = {"email": "x@example.com", "password": "whatever1"}
    # A different email each time: the per-address limit, not the per-email backoff
    # (tests/api/test_hostile_requests.py), is what this counts.
    statuses = [
        api.client.post(
            "/api/v1/auth/signin", json={**credentials, "email": f"x{i}@example.com"}
        ).status_code
        for i in range(10)
    ]
    assert statuses == [401] * 10
    limited = api.client.post("/api/v1/auth/signup", json=credentials)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["success"] is False and "retry after" in limited.json()["message"]
