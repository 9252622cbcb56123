"""/docs renders in a real browser with every other origin unreachable."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import DESKTOP, ApiServer, OpenPage, screenshot

pytestmark = pytest.mark.browser


def test_api_documentation_renders_offline(open_page: OpenPage, api_server: ApiServer) -> None:
    page, watched = open_page(DESKTOP)
    # Any request that leaves the origin fails, as on a cluster with no internet access.
    page.context.route(
        re.compile(r"^(?!" + re.escape(api_server.base) + r")https?://"),
        lambda route: route.abort(),
    )
    response = page.goto("/docs")
    assert response is not None and response.status == 200
    for operation in ("/api/v1/runner/submit", "/api/v1/runner/{jobId}/result"):
        expect(page.locator(".opblock-summary-path", has_text=operation).first).to_be_visible()
    screenshot(page, "api-docs", full_page=False)
    assert watched.foreign_requests() == []
    assert watched.errors() == [], watched.errors()
