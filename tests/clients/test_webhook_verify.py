"""verify_webhook against the Standard Webhooks specification's published test vector, and the
forgeries and replays it must refuse. (A real delivery from the server: test_webhooks_live.py.)

The vector (secret, id, timestamp, body, signature) is the one the reference libraries test
with: standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts, "sign
function works". Reproducing it is what shows interoperability; a round trip through our own
signer would pass just as well with the delimiter or the key decoding wrong.
"""

from __future__ import annotations

import base64

import pytest
from coderun_client import WebhookVerificationError, sign_webhook, verify_webhook

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

RESULT = (
    b'{"code":200,"success":true,"message":"job result fetched successfully","data":'
    b'{"jobId":"695bd82641bcbdea08ee3fbc","status":"success","language":"python",'
    b'"stdout":"hi\\n","stderr":"","exitCode":0,"sandboxErrorType":null}}'
)
NOW = 1_800_000_000
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of thirty-two by").decode()


def headers(
    secret: str | list[str], body: bytes, *, at: int = NOW, id: str = "d-1"
) -> dict[str, str]:
    secrets = [secret] if isinstance(secret, str) else secret
    signature = " ".join(sign_webhook(s, id, at, body) for s in secrets)
    return {"webhook-id": id, "webhook-timestamp": str(at), "webhook-signature": signature}


def test_the_published_vector_signs_and_verifies_exactly() -> None:
    assert sign_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    # the prefix is optional, as in the reference libraries
    bare = VECTOR_SECRET.removeprefix("whsec_")
    assert sign_webhook(bare, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    vector_headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    # The vector's body is not a result envelope: the signature passes, then the body check
    # refuses it with that reason (not a signature error).
    with pytest.raises(WebhookVerificationError, match="not a result envelope"):
        verify_webhook(VECTOR_BODY, vector_headers, VECTOR_SECRET, now=VECTOR_TIMESTAMP)


def test_a_signed_result_verifies_and_parses() -> None:
    event = verify_webhook(RESULT, headers(OTHER_SECRET, RESULT), OTHER_SECRET, now=NOW)
    assert (event.id, event.timestamp) == ("d-1", NOW)
    assert (event.job.job_id, event.job.status, event.job.stdout) == (
        "695bd82641bcbdea08ee3fbc", "success", "hi\n",
    )  # fmt: skip
    assert event.envelope["success"] is True
    # header names are case-insensitive, as HTTP's are
    upper = {k.upper(): v for k, v in headers(OTHER_SECRET, RESULT).items()}
    assert verify_webhook(RESULT.decode(), upper, OTHER_SECRET, now=NOW).id == "d-1"


def test_during_a_rotation_either_signature_is_enough() -> None:
    both = headers([VECTOR_SECRET, OTHER_SECRET], RESULT)
    assert verify_webhook(RESULT, both, VECTOR_SECRET, now=NOW)
    assert verify_webhook(RESULT, both, OTHER_SECRET, now=NOW)
    # and a receiver may hold both while rolling its configuration out
    old_only = headers(VECTOR_SECRET, RESULT)
    assert verify_webhook(RESULT, old_only, [OTHER_SECRET, VECTOR_SECRET], now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b'"hi', b'"ho')), id="body changed"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "d-2"}, b), id="id changed"),
        pytest.param(
            lambda h, b: ({**h, "webhook-timestamp": str(NOW + 1)}, b), id="timestamp changed"
        ),
        pytest.param(
            lambda h, b: ({**h, "webhook-signature": h["webhook-signature"][:12]}, b),
            id="signature cut",
        ),
        pytest.param(
            lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
            id="unknown version",
        ),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v1,"}, b), id="empty signature"),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), id="no id"
        ),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), id="bad timestamp"),
    ],
)
def test_forgeries_are_refused(tamper: object) -> None:
    signed_headers, body = tamper(headers(OTHER_SECRET, RESULT), RESULT)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, signed_headers, OTHER_SECRET, now=NOW)


def test_the_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(RESULT, headers(OTHER_SECRET, RESULT), VECTOR_SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="not base64"):
        verify_webhook(RESULT, headers(OTHER_SECRET, RESULT), "whsec_not*base64", now=NOW)


def test_replays_outside_five_minutes_are_refused_both_ways() -> None:
    signed = headers(OTHER_SECRET, RESULT)
    assert verify_webhook(RESULT, signed, OTHER_SECRET, now=NOW + 300)
    assert verify_webhook(RESULT, signed, OTHER_SECRET, now=NOW - 300)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(WebhookVerificationError, match="tolerance"):
            verify_webhook(RESULT, signed, OTHER_SECRET, now=now)
    assert verify_webhook(RESULT, signed, OTHER_SECRET, now=NOW + 3600, tolerance_seconds=3600)
