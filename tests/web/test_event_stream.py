"""The playground follows its run over the event stream, not by polling the result.

The stream (GET /api/v1/runner/{jobId}/events) is opened by the browser's own EventSource with
the session cookie; the test asserts that the result arrived that way and that no request for
/result was made. When the stream fails, the playground falls back to polling and still shows
the verdict.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.web.conftest import DESKTOP, OpenPage, Watched
from tests.web.test_pages import (
    assert_no_errors,
    new_email,
    open_playground_as_new_account,
    run_program,
    set_code,
    sign_up,
    wait_ready,
)

pytestmark = pytest.mark.browser

EVENTS = re.compile(r"/api/v1/runner/[^/]+/events$")
RESULT = re.compile(r"/api/v1/runner/[^/]+/result(\?|$)")
# Runs long enough that the stream is open before the job is final: the verdict is pushed.
# (Well inside the 3 s time limit: on a loaded machine the interpreter's start takes seconds.)
SLOW_HELLO = "import time\ntime.sleep(0.5)\nprint('pushed, not polled')\n"


def run_slow_hello_over_the_stream(page: Page, watched: Watched) -> list[str]:
    """Runs SLOW_HELLO in the open playground and checks that its result came over the
    stream; returns the URLs the page asked for meanwhile."""
    set_code(page, SLOW_HELLO)
    before = len(watched.requests)
    assert run_program(page) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("pushed, not polled\n")
    expect(page.locator("body")).to_have_attribute("data-result-via", "stream")
    return watched.requests[before:]


def test_playground_result_arrives_over_the_stream_with_no_polling(open_page: OpenPage) -> None:
    page, watched = open_page(DESKTOP)
    open_playground_as_new_account(page)
    during = run_slow_hello_over_the_stream(page, watched)
    assert [u for u in during if EVENTS.search(u)], f"no event stream opened: {during}"
    assert not [u for u in during if RESULT.search(u)], f"the playground polled: {during}"
    # A second run opens a stream of its own, and still polls nothing.
    before = len(watched.requests)
    set_code(page, "print('again')\n")
    assert run_program(page, keyboard=True) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("again\n")
    during = watched.requests[before:]
    assert len([u for u in during if EVENTS.search(u)]) == 1, during
    assert not [u for u in during if RESULT.search(u)], during
    assert_no_errors(watched, "the playground on the stream")


def test_a_dropped_stream_is_reopened_not_polled(open_page: OpenPage) -> None:
    """The stream's first connection is reset, as a flaky network might (a fault put in the
    browser's way with a Playwright route): EventSource reopens it and the result still
    arrives over the stream, with no request for /result."""
    page, watched = open_page(DESKTOP)
    sign_up(page, new_email())
    attempts: list[str] = []

    def drop_the_first(route: Route) -> None:
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(EVENTS, drop_the_first)
    page.goto("/playground")
    wait_ready(page)
    during = run_slow_hello_over_the_stream(page, watched)
    assert len(attempts) == 2, attempts
    assert not [u for u in during if RESULT.search(u)], during
    # The one expected error: the browser reports the reset connection.
    assert all("ERR_CONNECTION_RESET" in e for e in watched.errors()), watched.errors()


def test_playground_falls_back_to_polling_when_the_stream_fails(open_page: OpenPage) -> None:
    """The stream answers 502, as a proxy in front of the API might: a fault the real server
    does not make on its own, so the test puts it in the browser's way (a Playwright route)."""
    page, watched = open_page(DESKTOP)
    sign_up(page, new_email())

    def broken_stream(route: Route) -> None:
        route.fulfill(status=502, content_type="text/plain", body="bad gateway")

    page.route(EVENTS, broken_stream)
    page.goto("/playground")
    wait_ready(page)
    set_code(page, "print('polled after all')\n")
    before = len(watched.requests)
    assert run_program(page) == "Success"
    expect(page.locator("#result [data-testid=stdout]")).to_have_text("polled after all\n")
    expect(page.locator("body")).to_have_attribute("data-result-via", "polling")
    during = watched.requests[before:]
    assert [u for u in during if RESULT.search(u)], during
    # The one expected error: the browser reports the failed stream (502).
    assert all("502" in e or "EventSource" in e for e in watched.errors()), watched.errors()
