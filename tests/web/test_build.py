"""The committed pages in api/coderun_api/static are a build of the committed api/web sources.

The API serves the built files on machines without Node, so a source change committed without
`make web` would ship stale pages. The build writes a hash of its sources into build-info.json;
this recomputes it. No Node and no browser needed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "api" / "web"
STATIC = REPO / "api" / "coderun_api" / "static"
PAGES = ["index.html", "signin.html", "signup.html", "dashboard.html", "playground.html"]
TOP_LEVEL_SOURCES = {"package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"}


def source_files() -> list[str]:
    """The same list as sourceFiles() in api/web/vite.config.ts."""
    top = [
        p
        for p in WEB.iterdir()
        if p.is_file() and (p.suffix == ".html" or p.name in TOP_LEVEL_SOURCES)
    ]
    nested = [p for p in (WEB / "src").rglob("*") if p.is_file()]
    return sorted(p.relative_to(WEB).as_posix() for p in top + nested)


def source_hash(files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        content_hash = hashlib.sha256((WEB / name).read_bytes()).hexdigest()
        digest.update(f"{name}\n{content_hash}\n".encode())
    return digest.hexdigest()


def test_built_pages_match_their_sources() -> None:
    info_path = STATIC / "build-info.json"
    assert info_path.is_file(), "api/coderun_api/static is not built: run `make web`"
    info = json.loads(info_path.read_text())
    files = source_files()
    assert info["files"] == files, "api/web gained or lost files since the build: run `make web`"
    assert info["sourceHash"] == source_hash(files), (
        "api/web changed since api/coderun_api/static was built: run `make web` and commit"
    )


@pytest.mark.parametrize("page", PAGES)
def test_each_page_names_only_bundled_files(page: str) -> None:
    html = (STATIC / page).read_text()
    refs = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assets = [r for r in refs if r.startswith("/assets/")]
    assert assets, f"{page} loads no bundled script or style"
    for ref in refs:
        if ref.startswith("#"):
            continue
        assert ref.startswith("/"), f"{page} refers to {ref}: only same-origin paths are allowed"
        assert not ref.startswith("//"), f"{page} refers to another host: {ref}"
    for ref in assets:
        assert (STATIC / ref.lstrip("/")).is_file(), f"{page} refers to missing {ref}"
