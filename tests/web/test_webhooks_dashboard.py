"""The dashboard's webhook secret and a job's delivery log, in Chromium.

The secret is made and rotated with the dashboard's buttons, shown once (never again after a
reload, and never by the API), with the end of the rotation's grace period. A job with a
callbackUrl to the test's own listener on 127.0.0.1 (allowlisted in conftest.py) is delivered
signed with both secrets during the grace period, which the listener verifies with the secrets
the page showed; the job's details show each attempt's status code and the next try, and then
the delivery once the listener accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import DESKTOP, MOBILE, ApiServer, OpenPage, screenshot
from tests.web.test_pages import (
    assert_fits,
    assert_no_errors,
    expect_rows,
    new_email,
    sign_up,
    wait_ready,
)

pytestmark = pytest.mark.browser

DELIVERY_TIMEOUT_MS = 60_000


@dataclass
class Listener:
    """A webhook receiver: answers 500 until `accept` is set, then 200; keeps what it got."""

    url: str = ""
    accept: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    got_one: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            state.got_one.set()
            self.send_response(200 if state.accept.is_set() else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/coderun"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"> among the
    space-separated signatures, keyed by the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [
        s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, g) for g in given)


def test_secret_shown_once_rotated_and_a_delivery_log(
    open_page: OpenPage, api_server: ApiServer, listener: Listener
) -> None:
    page, watched = open_page(DESKTOP)
    sign_up(page, new_email())
    status = page.locator("#webhook-status")
    expect(status).to_contain_text("no webhook secret")

    # --- made: shown once, with a copy button
    page.get_by_role("button", name="Create webhook secret").click()
    box = page.get_by_label("Your new webhook secret")
    expect(box).to_have_value(re.compile(r"^whsec_"))
    first = box.input_value()
    expect(page.locator("#new-webhook-secret-warning")).to_contain_text("only time this secret")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy the webhook secret").click()
    copied = page.locator("#webhook-copy-status")
    expect(copied).to_have_text(re.compile("Copied|Select the"))
    if copied.inner_text().startswith("Copied"):
        assert page.evaluate("() => navigator.clipboard.readText()") == first
    expect(status).to_contain_text("made on")

    # --- never shown again: not after a reload, not by the API
    page.reload()
    wait_ready(page)
    expect(page.locator("#new-webhook-secret")).to_be_hidden()
    expect(status).to_contain_text("made on")
    assert first not in page.content()
    page.get_by_role("button", name="Generate API Key").click()
    key_box = page.get_by_label("Your new API key")
    expect(key_box).to_have_value(re.compile("^nr_live_"))
    key = key_box.input_value()
    state = httpx.get(
        f"{api_server.base}/api/v1/account/webhook-secret", headers={"X-API-KEY": key}, timeout=10
    )
    assert state.status_code == 200 and state.json()["data"]["configured"] is True, state.text
    assert first not in state.text

    # --- rotated after a confirmation: a new secret, and the old one's grace period shown
    page.get_by_role("button", name="Rotate webhook secret").click()
    expect(page.locator("#webhook-confirm")).to_contain_text("grace period")
    # the confirmation takes the focus, and Enter confirms
    expect(page.get_by_role("button", name="Yes, rotate the secret")).to_be_focused()
    page.keyboard.press("Enter")
    # (after the reload the box is empty until the new secret is put in it)
    expect(box).to_have_value(re.compile(r"^whsec_"))
    second = box.input_value()
    assert second != first
    expect(page.locator("[data-testid=webhook-grace-until]")).to_be_visible()
    screenshot(page, "desktop-webhook-secret-rotated")

    # --- a job with a callbackUrl: the listener refuses it (500) until told to accept
    response = httpx.post(
        f"{api_server.base}/api/v1/runner/submit",
        json={"code": "print('hooked')", "language": "python", "callbackUrl": listener.url},
        headers={"X-API-KEY": key},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["jobId"]
    assert listener.got_one.wait(60), "no delivery reached the listener"
    headers, body = listener.received[0]
    assert job_id.encode() in body
    # During the grace period a delivery is signed with both secrets.
    assert signed_by(second, headers, body), headers
    assert signed_by(first, headers, body), headers

    page.reload()
    wait_ready(page)
    expect_rows(page, 1)
    page.get_by_role("button", name=f"View job {job_id}").click()
    dialog = page.get_by_role("dialog")
    log = dialog.locator("[data-testid=deliveries]")
    delivery = log.locator("li.delivery")
    expect(delivery).to_have_count(1)
    expect(delivery.locator(".delivery-url")).to_have_text(listener.url)
    expect(delivery.locator("tr[data-attempt='1'] [data-testid=attempt-status]")).to_have_text(
        "500"
    )
    expect(delivery.locator("[data-testid=delivery-state]")).to_have_text("Pending")
    expect(delivery.locator("[data-testid=next-attempt]")).to_contain_text("Next try")
    screenshot(page, "desktop-delivery-log-pending", full_page=False)

    # --- accepted at a later try: the open dialog follows the log to "Delivered", 200 last
    listener.accept.set()
    expect(delivery.locator("[data-testid=delivery-state]")).to_have_text(
        "Delivered", timeout=DELIVERY_TIMEOUT_MS
    )
    codes = delivery.locator("[data-testid=attempt-status]").all_inner_texts()
    assert codes[0] == "500" and codes[-1] == "200", codes
    expect(delivery.locator("[data-testid=next-attempt]")).to_have_count(0)
    page.set_viewport_size(MOBILE)  # type: ignore[arg-type]
    assert_fits(page, "the delivery log at 360 px")
    log.scroll_into_view_if_needed()
    screenshot(page, "mobile-delivery-log", full_page=False)
    assert_no_errors(watched, "the webhook secret and delivery log")
