"""The dashboard's static pages, served on the same origin as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from coderun_api.envelope import ApiError

# The policy the pages are built and tested for (api/web/README.md).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

PAGES = {
    "/": "index.html",
    "/signin": "signin.html",
    "/signup": "signup.html",
    "/dashboard": "dashboard.html",
    "/playground": "playground.html",
}


class OptionalStaticFiles(StaticFiles):
    """StaticFiles that answers 404 (instead of failing) while its directory is missing."""

    async def check_config(self) -> None:
        if self.directory is not None and not Path(self.directory).is_dir():
            return
        await super().check_config()


def mount_web(app: FastAPI, static_dir: Path) -> None:
    router = APIRouter(include_in_schema=False)

    def page_route(path: str, file_name: str) -> None:
        @router.get(path, name=f"page:{file_name}")
        def page() -> FileResponse:
            target = static_dir / file_name
            if not target.is_file():
                raise ApiError(404, f"page not installed: {file_name}")
            return FileResponse(target, headers=PAGE_HEADERS)

    for path, file_name in PAGES.items():
        page_route(path, file_name)
    app.include_router(router)
    # The directory may appear after start (or not at all).
    app.mount(
        "/assets",
        OptionalStaticFiles(directory=static_dir / "assets", check_dir=False),
        name="assets",
    )
