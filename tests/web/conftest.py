"""Fixtures for the browser tests: the real API as a subprocess, and Debian's Chromium.

The API runs as `coderun serve` (tests/api/server.py) on a free port with its own data directory, so the pages are
tested exactly as they are served: same origin, real sign-up, real sandbox runs. Chromium is
Debian's, driven by the Python `playwright` package through its executable path (its own
browser download is never used).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from tests.api.server import Server

CHROMIUM = os.environ.get("CODERUN_TEST_CHROMIUM", "/usr/bin/chromium")
# Chromium aborts a request in flight when the host's network interfaces change, and retries
# it: the test cluster's pods (their veth interfaces) come and go beside the browser while
# the cluster half of the suite runs. That is the host's doing, not the page's, so it is no
# console error of the page (CI: a playground load, retried, in test_event_stream).
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 360, "height": 740}


class ApiServer(Server):
    """tests/api's `coderun serve` subprocess, plus a CLI call fed on stdin."""

    def cli_with_input(self, stdin: str, *args: str) -> str:
        """`coderun ARGS` against this server's database, with `stdin` as its input."""
        done = subprocess.run(
            [sys.executable, "-m", "coderun_api.cli", *args],
            input=stdin, env=self.env, capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """`coderun serve` on a free port with a fresh data directory (SQLite, local executor)."""
    env = {
        **os.environ,
        "CODERUN_DATA_DIR": str(tmp_path_factory.mktemp("coderun-data")),
        "CODERUN_ENV": "development",
        "CODERUN_EXECUTOR": "local",  # real runs in the local sandbox, no cluster needed
        # Each test signs up its own account; the default 10/minute per address would make the
        # suite's pace, not the pages, decide the outcome. tests/api covers the limit itself.
        "CODERUN_AUTH_RATE_LIMIT": "200/minute",
        # The delivery-log test's own listener on 127.0.0.1: private addresses are refused
        # otherwise (tests/api covers that). Retries a second apart, so its log moves on.
        "CODERUN_WEBHOOK_ALLOWLIST": "127.0.0.1",
        "CODERUN_WEBHOOK_BACKOFF_BASE_SECONDS": "1",
        "CODERUN_WEBHOOK_BACKOFF_MAX_SECONDS": "2",
    }
    # the committed build, SQLite and in-process limits, whatever the caller's shell has set
    for name in ("CODERUN_STATIC_DIR", "CODERUN_DATABASE_URL", "CODERUN_REDIS_URL"):
        env.pop(name, None)
    server = ApiServer(env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, launched by Playwright from its executable path."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's package `chromium`")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Watched:
    """What a page did: console errors, uncaught exceptions, and every URL it requested."""

    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        origin = urlsplit(self.base_url)
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                foreign.append(url)
        return foreign

    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors

    def clear_errors(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under artifacts/screenshots/ (gitignored, kept by CI). Whole pages by
    default; full_page=False for a modal dialog, whose backdrop covers only the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


OpenPage = Callable[..., tuple[Page, Watched]]


@pytest.fixture
def open_page(browser: Browser, api_server: ApiServer) -> Iterator[OpenPage]:
    """Opens pages in fresh browser contexts (own cookies), each watched; checks at the end
    that no page asked anything of another origin: every asset is bundled and served by the API.
    """
    contexts = []
    watches: list[Watched] = []

    def _open(viewport: dict[str, int] = DESKTOP) -> tuple[Page, Watched]:
        context = browser.new_context(
            base_url=api_server.base,
            viewport=viewport,  # type: ignore[arg-type]
            is_mobile=viewport["width"] < 600,
            has_touch=viewport["width"] < 600,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(api_server.base)
        watches.append(watched)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and NETWORK_CHANGED not in msg.text:
                watched.console_errors.append(f"{page.url}: {msg.text}")

        def on_request(request: Request) -> None:
            watched.requests.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watched.page_errors.append(f"{page.url}: {exc}"))
        page.on("request", on_request)
        return page, watched

    yield _open
    for context in contexts:
        context.close()
    foreign = [url for w in watches for url in w.foreign_requests()]
    assert not foreign, f"pages requested other origins: {foreign}"
