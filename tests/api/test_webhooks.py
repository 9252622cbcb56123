"""Signed webhooks against a real receiver the test runs on 127.0.0.1 (the only host the
allowlist opens): signatures, retries with backoff, redirects, rotation, the delivery log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.api.conftest import MakeApi
from tests.api.helpers import Api
from tests.api.webhook_listener import running_listener

BASE = 0.3  # the first retry's delay in these tests (seconds)


def webhook_api(make_api: MakeApi, **overrides: Any) -> Api:
    settings: dict[str, Any] = {
        "webhook_allowlist": "127.0.0.1",
        "webhook_backoff_base_seconds": BASE,
        "webhook_poll_seconds": 0.1,
        "webhook_timeout_seconds": 5,
    }
    settings.update(overrides)
    return make_api(**settings)


def with_secret(api: Api, credits: int = 10) -> tuple[str, str]:
    _, key = api.new_account(credits=credits)
    response = api.client.post("/api/v1/account/webhook-secret", headers={"X-API-KEY": key})
    assert response.status_code == 200, response.text
    secret: str = response.json()["data"]["secret"]
    return key, secret


def submit_with_callback(api: Api, key: str, url: str, code: str = "print('hook')") -> str:
    response = api.client.post(
        "/api/v1/runner/submit",
        json={"code": code, "language": "python", "callbackUrl": url},
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["data"]["jobId"]
    return job_id


def delivery_log(api: Api, key: str, job_id: str) -> list[dict[str, Any]]:
    response = api.client.get(f"/api/v1/runner/{job_id}/deliveries", headers={"X-API-KEY": key})
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["data"]["deliveries"]
    return deliveries


def settled_log(api: Api, key: str, job_id: str, attempts: int) -> dict[str, Any]:
    """The delivery once `attempts` attempts are recorded (bounded by rounds, not time)."""
    for _ in range(600):
        deliveries = delivery_log(api, key, job_id)
        if deliveries and len(deliveries[0]["attempts"]) >= attempts:
            return deliveries[0]
        time.sleep(0.05)
    raise AssertionError(f"the delivery log never showed {attempts} attempts: {deliveries}")


def attempts_metric(outcome: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("coderun_webhook_attempts_total", {"outcome": outcome})
    return value or 0.0


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Standard Webhooks, computed here independently of coderun_api.webhooks.signing."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_delivery_is_signed_and_carries_the_result_envelope(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, secret = with_secret(api)
    with running_listener() as listener:
        job_id = submit_with_callback(api, key, listener.url + "/hook?source=test")
        (request,) = listener.wait_for(1)
        delivery = settled_log(api, key, job_id, 1)
    headers = lower(request.headers)
    assert request.path == "/hook?source=test"
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"] == expected_signature(secret, headers, request.body)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
    assert headers["webhook-id"] == delivery["deliveryId"]
    # The same envelope as GET .../result.
    result = api.result(key, job_id).json()
    assert json.loads(request.body) == result
    assert result["data"]["stdout"] == "hook\n"
    assert delivery["state"] == "delivered" and delivery["nextAttemptAt"] is None
    assert delivery["attempts"][0]["statusCode"] == 200
    assert delivery["attempts"][0]["error"] is None
    # A tampered body does not verify.
    assert headers["webhook-signature"] != expected_signature(secret, headers, request.body + b" ")


def test_500_twice_then_200_is_three_attempts_with_growing_waits(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    retries_before = attempts_metric("retry")
    delivered_before = attempts_metric("delivered")
    with running_listener(script=[500, 500]) as listener:
        job_id = submit_with_callback(api, key, listener.url)
        requests = listener.wait_for(3)
        delivery = settled_log(api, key, job_id, 3)
        for _ in range(100):  # counted just after the attempt is recorded
            if attempts_metric("delivered") > delivered_before:
                break
            time.sleep(0.05)
        assert attempts_metric("retry") - retries_before == 2
        assert attempts_metric("delivered") - delivered_before == 1
        time.sleep(BASE * 8)  # long enough for a (wrong) fourth attempt to show up
        assert len(listener.received) == 3
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert delivery["attempts"][0]["error"] == "HTTP 500"
    assert delivery["state"] == "delivered"
    # One id for every attempt: receivers deduplicate by it.
    assert len({lower(r.headers)["webhook-id"] for r in requests}) == 1
    # Backoff: after the n-th failure the sender waited at least half of BASE * 2^(n-1)
    # (lower bounds only: a slow machine waits longer, never shorter).
    first_gap = requests[1].at - requests[0].at
    second_gap = requests[2].at - requests[1].at
    assert first_gap >= BASE * 0.5
    assert second_gap >= BASE * 2 * 0.5


def test_redirect_is_not_followed(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    with running_listener() as target, running_listener(script=[302]) as redirecting:
        redirecting.location = target.url + "/stolen"
        job_id = submit_with_callback(api, key, redirecting.url)
        delivery = settled_log(api, key, job_id, 2)
        assert target.received == []
    assert [a["statusCode"] for a in delivery["attempts"]] == [302, 200]
    assert "redirects are not followed" in delivery["attempts"][0]["error"]
    assert len(redirecting.received) == 2


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(make_api: MakeApi) -> None:
    api = webhook_api(make_api, webhook_timeout_seconds=1, webhook_backoff_base_seconds=60)
    key, _ = with_secret(api)
    with running_listener(hold_seconds=3) as listener:
        job_id = submit_with_callback(api, key, listener.url)
        delivery = settled_log(api, key, job_id, 1)
    attempt = delivery["attempts"][0]
    assert attempt["statusCode"] is None
    assert attempt["error"] == "no answer within 1 s"
    assert delivery["state"] == "pending" and delivery["nextAttemptAt"] is not None


def test_a_delivery_gives_up_as_failed_after_the_retry_horizon(make_api: MakeApi) -> None:
    api = webhook_api(make_api, webhook_retry_horizon_seconds=1.5)
    key, _ = with_secret(api)
    with running_listener(then=503) as listener:
        job_id = submit_with_callback(api, key, listener.url)
        for _ in range(600):
            delivery = delivery_log(api, key, job_id)[0]
            if delivery["state"] != "pending":
                break
            time.sleep(0.05)
        sent = len(listener.received)
        time.sleep(BASE * 4)
        assert len(listener.received) == sent  # no attempt after giving up
    assert delivery["state"] == "failed" and delivery["nextAttemptAt"] is None
    # How many attempts fit in the horizon depends on the machine; at least the first.
    assert len(delivery["attempts"]) == sent >= 1
    assert {a["statusCode"] for a in delivery["attempts"]} == {503}


def test_rotation_signs_with_both_secrets_during_the_grace_period(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, old = with_secret(api)
    rotated = api.client.post("/api/v1/account/webhook-secret", headers={"X-API-KEY": key})
    new = rotated.json()["data"]["secret"]
    assert new != old and rotated.json()["data"]["previousValidUntil"] is not None
    status = api.client.get("/api/v1/account/webhook-secret", headers={"X-API-KEY": key})
    assert status.json()["data"]["configured"] is True
    assert "whsec_" not in status.text  # the secret is shown only once
    with running_listener() as listener:
        submit_with_callback(api, key, listener.url)
        (request,) = listener.wait_for(1)
    headers = lower(request.headers)
    entries = headers["webhook-signature"].split(" ")
    assert entries == [
        expected_signature(new, headers, request.body),
        expected_signature(old, headers, request.body),
    ]


def test_rotation_without_grace_signs_with_the_new_secret_only(make_api: MakeApi) -> None:
    api = webhook_api(make_api, webhook_secret_grace_seconds=0)
    key, old = with_secret(api)
    new = api.client.post("/api/v1/account/webhook-secret", headers={"X-API-KEY": key}).json()
    with running_listener() as listener:
        submit_with_callback(api, key, listener.url)
        (request,) = listener.wait_for(1)
    headers = lower(request.headers)
    assert headers["webhook-signature"] == expected_signature(
        new["data"]["secret"], headers, request.body
    )
    assert expected_signature(old, headers, request.body) not in headers["webhook-signature"]


def test_secret_rotation_from_the_dashboard_session_needs_the_csrf_header(api: Api) -> None:
    body = {"email": "hooks@example.com", "password": "correct horse battery"}
    assert api.client.post("/api/v1/auth/signup", json=body).status_code in (200, 201)
    assert api.client.post("/api/v1/auth/signin", json=body).status_code == 200
    refused = api.client.post("/api/v1/account/webhook-secret")
    assert refused.status_code == 403
    made = api.client.post(
        "/api/v1/account/webhook-secret", headers={"X-Requested-With": "coderun-web"}
    )
    assert made.status_code == 200 and made.json()["data"]["secret"].startswith("whsec_")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://10.1.2.3/hook", "private address"),
        ("http://192.168.0.10/hook", "private address"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("http://[::1]/", "loopback"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.251/", "multicast"),
        ("http://localhost:8080/", "internal name"),
        ("http://kubernetes.default.svc/", "internal name"),
        ("http://coderun-api/", "single-label"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http://user:pw@example.com/", "user name or password"),
    ],
)
def test_internal_callback_urls_are_refused_at_submit(
    make_api: MakeApi, url: str, says: str
) -> None:
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    response = api.client.post(
        "/api/v1/runner/submit",
        json={"code": "print(1)", "language": "python", "callbackUrl": url},
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["message"]
    assert response.json()["success"] is False
    history = api.client.get("/api/v1/jobs", headers={"X-API-KEY": key}).json()["data"]
    assert history["total"] == 0  # nothing was accepted


def test_loopback_listener_is_refused_without_the_allowlist(make_api: MakeApi) -> None:
    api = make_api()  # no CODERUN_WEBHOOK_ALLOWLIST
    key, _ = with_secret(api)
    with running_listener() as listener:
        response = api.client.post(
            "/api/v1/runner/submit",
            json={"code": "print(1)", "language": "python", "callbackUrl": listener.url},
            headers={"X-API-KEY": key},
        )
        assert response.status_code == 400
        assert "127.0.0.1 is a loopback address" in response.json()["message"]
        assert listener.received == []


def test_callback_without_a_secret_is_refused_with_what_to_do(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    _, key = api.new_account()
    response = api.client.post(
        "/api/v1/runner/submit",
        json={"code": "print(1)", "language": "python", "callbackUrl": "http://127.0.0.1:9/"},
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400
    assert "POST /api/v1/account/webhook-secret" in response.json()["message"]


def test_refused_again_at_delivery_before_any_connection(make_api: MakeApi) -> None:
    """A delivery whose URL became internal since submit (here: written straight into the
    table, as a changed DNS answer would) is refused by the sender's own check, which runs
    before any connection: the attempt logs the refusal, not a connection error."""
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    job_id = api.run(key, "print(1)")["jobId"]
    api.state.webhooks.ensure_delivery(job_id, api.job(job_id).account_id, "http://10.9.8.7/x")
    api.state.sender.wake()
    delivery = settled_log(api, key, job_id, 1)
    attempt = delivery["attempts"][0]
    assert attempt["statusCode"] is None
    assert "10.9.8.7 is a private address" in attempt["error"]
    assert delivery["state"] == "pending" and delivery["nextAttemptAt"] is not None


def test_delivery_log_is_per_account(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    _, other = api.new_account(email="other@example.com")
    with running_listener() as listener:
        job_id = submit_with_callback(api, key, listener.url)
        listener.wait_for(1)
    response = api.client.get(f"/api/v1/runner/{job_id}/deliveries", headers={"X-API-KEY": other})
    assert response.status_code == 404
    plain = api.run(key, "print(2)")["jobId"]
    assert delivery_log(api, key, plain) == []


def test_idempotent_replay_keeps_one_delivery(make_api: MakeApi) -> None:
    api = webhook_api(make_api)
    key, _ = with_secret(api)
    with running_listener() as listener:
        body = {"code": "print(3)", "language": "python", "callbackUrl": listener.url}
        headers = {"X-API-KEY": key, "Idempotency-Key": "once"}
        first = api.client.post("/api/v1/runner/submit", json=body, headers=headers)
        second = api.client.post("/api/v1/runner/submit", json=body, headers=headers)
        job_id = first.json()["data"]["jobId"]
        assert second.json()["data"]["jobId"] == job_id
        settled_log(api, key, job_id, 1)
        time.sleep(BASE * 4)
        assert len(listener.received) == 1
    assert len(delivery_log(api, key, job_id)) == 1


def test_the_worked_example_in_docs_webhooks_md_verifies() -> None:
    from pathlib import Path

    from coderun_api.webhooks.signing import verify

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    fields = dict(
        line.split(None, 1)
        for line in doc.split("```")[1].strip().splitlines()
        if line.split(None, 1)[0] in ("secret", "webhook-id", "webhook-timestamp", "body")
        or line.startswith("webhook-signature")
    )
    headers = {name: fields[name].strip() for name in ("webhook-id", "webhook-timestamp")}
    body = fields["body"].strip().encode()
    signature = fields["webhook-signature"].strip()
    assert signature == expected_signature(fields["secret"].strip(), headers, body)
    assert verify(
        fields["secret"].strip(), headers["webhook-id"], int(headers["webhook-timestamp"]), body,
        signature,
    )  # fmt: skip
    # The page's stand-alone Python verifier accepts it too (the example is old: no
    # tolerance), and refuses it once a byte of the body changes.
    snippet = doc.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    signed = {**headers, "webhook-signature": signature}
    assert namespace["verify"](fields["secret"].strip(), signed, body, tolerance=10**12)
    assert not namespace["verify"](fields["secret"].strip(), signed, body + b" ", tolerance=10**12)
    assert not namespace["verify"](fields["secret"].strip(), signed, body)  # too old
