"""verify_webhook on real deliveries: the server POSTs a job's result to a listener this test
runs on 127.0.0.1 (opened by CODERUN_WEBHOOK_ALLOWLIST), and the client's helper accepts
exactly what the server signed, with either secret during a rotation; the delivery log and the
secret routes through both clients."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from coderun_client import (
    AsyncClient,
    BadRequestError,
    Client,
    WebhookVerificationError,
    verify_webhook,
)

from tests.api.webhook_listener import running_listener
from tests.clients.conftest import ClientServer


def test_a_real_delivery_verifies_and_is_the_result(client: Client) -> None:
    assert client.webhook_secret_status().configured is False
    with pytest.raises(BadRequestError, match="webhook-secret"):
        client.submit("print(1)", "python", callback_url="http://127.0.0.1:9/")
    secret = client.rotate_webhook_secret()
    assert secret.secret.startswith("whsec_") and secret.previous_valid_until is None
    assert client.webhook_secret_status().configured is True

    with running_listener() as listener:
        job = client.run("print('pushed')", "python", callback_url=listener.url + "/hook")
        (delivery,) = listener.wait_for(1)
    event = verify_webhook(delivery.body, delivery.headers, secret.secret)
    assert event.job == job  # the same envelope as GET .../result
    assert event.envelope["success"] is True and delivery.path == "/hook"

    logged = _settled(client, job.job_id)
    assert logged.state == "delivered" and logged.url == listener.url + "/hook"
    assert [a.status_code for a in logged.attempts] == [200]
    assert event.id == logged.delivery_id

    with pytest.raises(WebhookVerificationError):
        verify_webhook(delivery.body.replace(b"pushed", b"pulled"), delivery.headers, secret.secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(delivery.body, delivery.headers, client.rotate_webhook_secret().secret)


def _settled(client: Client, job_id: str) -> Any:
    """The job's one delivery once the sender has recorded its answer: the receiver has the
    request before the log does (bounded rounds, not a timed assertion)."""
    (logged,) = client.deliveries(job_id)
    for _ in range(100):
        if logged.state != "pending":
            break
        time.sleep(0.1)
        (logged,) = client.deliveries(job_id)
    return logged


def test_after_a_rotation_both_secrets_verify(client: Client) -> None:
    old = client.rotate_webhook_secret().secret
    new = client.rotate_webhook_secret()
    assert new.previous_valid_until is not None
    with running_listener() as listener:
        client.run("print(2)", "python", callback_url=listener.url)
        (delivery,) = listener.wait_for(1)
    assert len(delivery.headers["webhook-signature"].split()) == 2
    assert verify_webhook(delivery.body, delivery.headers, old).job.stdout == "2\n"
    assert verify_webhook(delivery.body, delivery.headers, new.secret).job.stdout == "2\n"


def test_a_retried_delivery_keeps_its_id_and_verifies_each_time(client: Client) -> None:
    secret = client.rotate_webhook_secret().secret
    with running_listener(script=[500]) as listener:
        job = client.run("print(3)", "python", callback_url=listener.url)
        received = listener.wait_for(2)
    first, second = received[:2]
    for delivery in (first, second):
        assert verify_webhook(delivery.body, delivery.headers, secret).job.job_id == job.job_id
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers dedupe by it
    logged = _settled(client, job.job_id)
    assert [a.status_code for a in logged.attempts][:2] == [500, 200]


def test_the_async_client_has_the_same_webhook_methods(server: ClientServer, api_key: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url=server.base, api_key=api_key) as client:
            assert (await client.webhook_secret_status()).configured is False
            secret = (await client.rotate_webhook_secret()).secret
            with running_listener() as listener:
                job = await client.run("print(4)", "python", callback_url=listener.url)
                (delivery,) = await asyncio.to_thread(listener.wait_for, 1)
            assert verify_webhook(delivery.body, delivery.headers, secret).job == job
            (logged,) = await client.deliveries(job.job_id)
            for _ in range(100):  # the receiver has it before the sender records the answer
                if logged.state != "pending":
                    break
                await asyncio.sleep(0.1)
                (logged,) = await client.deliveries(job.job_id)
            assert logged.state == "delivered"

    asyncio.run(scenario())
