"""The TypeScript client's ESM build in Chromium, on the API's own origin.

The server serves the build as static files (CODERUN_STATIC_DIR: the committed pages plus
dist/ under /assets/coderun-client/), so the page loads it exactly as an application would,
under the API's real Content-Security-Policy (script-src and connect-src 'self'). In the
page: a run with an API key, a typed error, a run as the signed-in dashboard user (session
cookie, no key), and webhook verification with the browser's WebCrypto.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from tests.clients.conftest import REPO, ClientServer, server_env, serving
from tests.web.conftest import chromium

pytestmark = pytest.mark.browser

SCENARIO = """
async ({ key, email }) => {
  const m = await import("/assets/coderun-client/index.js");
  const out = {};
  const keyed = new m.CodeRunClient({ apiKey: key });  // no baseUrl: the page's origin
  const job = await keyed.run("print(input()[::-1])", "python", "olleh");
  out.keyed = [job.status, job.stdout];
  try {
    await keyed.submit("puts 1", "ruby");
  } catch (error) {
    out.error = [error.name, error instanceof m.BadRequestError, error.status, error.message];
  }
  const signup = await fetch("/api/v1/auth/signup", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "a long password" }),
  });
  out.signup = signup.status;
  const session = new m.CodeRunClient();  // neither baseUrl nor apiKey: the session cookie
  const own = await session.run("print(6 * 7)", "python");
  out.session = [own.status, own.stdout, (await session.account()).email];
  out.vector = await m.signWebhook(
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
    '{"test": 2432232314}',
  );
  const body = JSON.stringify({ code: 200, success: true, message: "", data: own });
  const secret = "whsec_" + btoa("thirty-two bytes of a test key!!");
  const at = Math.floor(Date.now() / 1000);
  const headers = new Headers({
    "webhook-id": "d-1", "webhook-timestamp": String(at),
    "webhook-signature": await m.signWebhook(secret, "d-1", at, body),
  });
  out.verified = (await m.verifyWebhook(body, headers, secret)).job.jobId === own.jobId;
  try {
    await m.verifyWebhook(body.replace("42", "43"), headers, secret);
    out.forgery = "accepted";
  } catch (error) {
    out.forgery = error.name;
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def serving_the_build(
    built: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClientServer]:
    static = tmp_path_factory.mktemp("static") / "static"
    shutil.copytree(REPO / "api" / "coderun_api" / "static", static)
    shutil.copytree(built, static / "assets" / "coderun-client")
    env = server_env(
        tmp_path_factory.mktemp("browser-api"),
        CODERUN_STATIC_DIR=str(static),
        CODERUN_AUTH_RATE_LIMIT="200/minute",
    )
    with serving(env) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_the_esm_build_works_in_chromium_on_the_same_origin(
    serving_the_build: ClientServer, browser: Browser
) -> None:
    server = serving_the_build
    context = browser.new_context(base_url=server.base)
    page = context.new_page()
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/")
    out: dict[str, Any] = page.evaluate(
        SCENARIO, {"key": server.new_key(), "email": f"b-{uuid.uuid4().hex[:8]}@example.com"}
    )
    context.close()
    assert out["keyed"] == ["success", "hello\n"]
    assert out["error"] == [
        "BadRequestError", True, 400,
        "unsupported language 'ruby'; supported: python, javascript, cpp, java",
    ]  # fmt: skip
    assert out["signup"] == 201
    assert out["session"][:2] == ["success", "42\n"] and out["session"][2].startswith("b-")
    assert out["vector"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert out["verified"] is True and out["forgery"] == "WebhookVerificationError"
    origin = urlsplit(server.base).netloc
    assert {urlsplit(url).netloc for url in requested} == {origin}
    assert any(url.endswith("/assets/coderun-client/index.js") for url in requested)
    # Chromium logs every 4xx answer; the one 400 is the refused "ruby" submit above.
    assert errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
