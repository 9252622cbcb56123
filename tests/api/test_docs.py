"""The interactive API documentation is served whole by the API: no CDN, no other origin.

Self-hosted clusters are often offline, and a script from a CDN would run with the API's
origin (the dashboard's session cookie's origin); /docs must need neither.
"""

from __future__ import annotations

import re

from tests.api.helpers import Api

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


def test_documentation_page_uses_only_its_own_assets(api: Api) -> None:
    page = "/docs"
    response = api.client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
    assets = [a or b for a, b in ASSET.findall(html)]
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, f"no script found in {page}"
    for url in assets:
        assert url.startswith("/"), url
        fetched = api.client.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 100, url
    assert "/openapi.json" in html
    assert api.client.get("/openapi.json").json()["info"]["title"] == "CodeRun API"
    # ReDoc's bundle loads its logo from a CDN, so it is not offered.
    assert api.client.get("/redoc").status_code == 404
