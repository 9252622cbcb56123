"""Requests an attacker or a careless client sends: each gets a 4xx with the envelope (or the
right address), never a 500 and never a bypass."""

from __future__ import annotations

import pytest

from tests.api.conftest import MakeApi
from tests.api.helpers import Api

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("page=99999999999999999999", "`page`"),
        ("page=1000001", "`page`"),
        ("from=0001-01-01T00:00:00%2B01:00", "`from`"),
        ("to=9999-12-31T23:59:59-01:00", "`to`"),
    ],
)
def test_history_bounds_are_a_400_not_a_500(api: Api, query: str, names: str) -> None:
    _, key = api.new_account()
    for route in ("/api/v1/jobs", "/api/v1/jobs/stats"):
        if route.endswith("stats") and query.startswith("page"):
            continue
        response = api.client.get(f"{route}?{query}", headers={"X-API-KEY": key})
        assert response.status_code == 400, (route, response.text)
        body = response.json()
        assert body["success"] is False and names in body["message"], body


def test_deepest_allowed_page_is_answered(api: Api) -> None:
    _, key = api.new_account()
    response = api.client.get("/api/v1/jobs?page=1000000", headers={"X-API-KEY": key})
    assert response.status_code == 200
    assert response.json()["data"]["items"] == []


def _signin(api: Api, email: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    response = api.client.post(
        "/api/v1/auth/signin", json={"email": email, "password": password}, headers=headers
    )
    return int(response.status_code)


def test_forwarded_for_is_read_from_the_trusted_hop_not_the_client(make_api: MakeApi) -> None:
    """Behind one proxy that appends, a client that writes its own X-Forwarded-For entries
    must still be counted under its real address (the rightmost entry)."""
    api = make_api(trust_proxy_headers=True, auth_rate_limit="3/minute")
    codes = [
        _signin(api, "x@example.com", "wrong-password", f"198.51.100.{i}, 203.0.113.7")
        for i in range(4)
    ]
    # Four different leftmost entries, one real address: the fourth is refused.
    assert codes == [401, 401, 401, 429]
    # Another real address has its own budget.
    assert _signin(api, "x@example.com", "wrong-password", "203.0.113.8") == 401


def test_forwarded_for_with_two_trusted_hops(make_api: MakeApi) -> None:
    api = make_api(trust_proxy_headers=True, trusted_proxy_hops=2, auth_rate_limit="2/minute")
    # The second entry from the right is the client the outer proxy saw.
    assert _signin(api, "y@example.com", "wrong-password", "1.1.1.1, 203.0.113.9, 10.0.0.2") == 401
    assert _signin(api, "y@example.com", "wrong-password", "2.2.2.2, 203.0.113.9, 10.0.0.3") == 401
    assert _signin(api, "y@example.com", "wrong-password", "203.0.113.9, 10.0.0.4") == 429
    # Fewer entries than hops: the request did not pass both proxies, so the peer's address
    # counts, whatever the single entry claims.
    singles = [
        _signin(api, "y@example.com", "wrong-password", f"203.0.113.{i}") for i in (10, 11, 12)
    ]
    assert singles == [401, 401, 429]


def test_failed_signins_back_off_per_email_and_address(make_api: MakeApi) -> None:
    api = make_api(
        trust_proxy_headers=True,
        auth_rate_limit="100/minute",
        signin_failure_limit="3/minute;10/hour",
    )
    api.new_account("victim@example.com", password=PASSWORD)
    attacker = "203.0.113.66"
    codes = [_signin(api, "victim@example.com", f"guess-{i}-x", attacker) for i in range(4)]
    assert codes == [401, 401, 401, 429]
    refused = api.client.post(
        "/api/v1/auth/signin",
        json={"email": "victim@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": attacker},
    )
    # Even the right password waits: the attacker cannot test guesses faster.
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "failed sign-ins" in refused.json()["message"]
    # The owner, from their own address, is not locked out by the attacker.
    assert _signin(api, "victim@example.com", PASSWORD, "198.51.100.20") == 200
    # Other accounts from the attacker's address are unaffected by this pair's count.
    api.new_account("other@example.com", password=PASSWORD)
    assert _signin(api, "other@example.com", PASSWORD, attacker) == 200


def test_successful_signin_clears_the_failure_count(make_api: MakeApi) -> None:
    api = make_api(signin_failure_limit="3/minute")
    api.new_account("ada@example.com", password=PASSWORD)
    assert [_signin(api, "ada@example.com", "nope-nope") for _ in range(2)] == [401, 401]
    assert _signin(api, "ada@example.com", PASSWORD) == 200
    assert [_signin(api, "ada@example.com", "nope-nope") for _ in range(3)] == [401] * 3
    assert _signin(api, "ada@example.com", "nope-nope") == 429


def test_docs_pages_carry_a_csp_and_refuse_framing(api: Api) -> None:
    for path in ("/docs", "/docs/oauth2-redirect"):
        response = api.client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert response.headers["x-frame-options"] == "DENY"
