"""?next= after sign-in follows only same-origin paths, however the browser parses it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Route, expect

from tests.web.conftest import DESKTOP, ApiServer, OpenPage
from tests.web.test_pages import new_email, sign_up, submit_credentials

pytestmark = pytest.mark.browser

# Each is a path to a string check, and another origin to the URL parser: it drops tab and
# newline characters and reads a backslash as a slash.
HOSTILE_NEXT = [
    "%2F%09%2Fevil.example",
    "%2F%0A%2Fevil.example",
    "%2F%5Cevil.example",
    "%2F%2Fevil.example",
    "https%3A%2F%2Fevil.example%2F",
]


def test_next_never_leaves_the_origin(open_page: OpenPage, api_server: ApiServer) -> None:
    page, _ = open_page(DESKTOP)
    email = new_email()
    sign_up(page, email)
    # Nothing may leave for another origin; the route records any attempt.
    tried: list[str] = []

    def refuse(route: Route) -> None:
        tried.append(route.request.url)
        route.abort()

    page.context.route(re.compile(r"^https?://evil\.example"), refuse)
    for hostile in HOSTILE_NEXT:
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/signin"))
        page.goto(f"/signin?next={hostile}")
        submit_credentials(page, email, "Sign in")
        page.wait_for_url(re.compile(r"/dashboard$"))
        assert page.url.startswith(api_server.base), (hostile, page.url)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert tried == []
    # A same-origin path with a query is still followed.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.goto("/signin?next=%2Fplayground%3Flanguage%3Dcpp")
    submit_credentials(page, email, "Sign in")
    page.wait_for_url(re.compile(r"/playground\?language=cpp$"))
