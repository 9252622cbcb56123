"""The OpenAPI document the clients are generated from and checked against: clients/openapi.json.

    .venv/bin/python -m tests.clients.openapi_snapshot     # or: make clients-openapi

writes the API's current document there (FastAPI builds it from the code, exactly as the
server serves it at /openapi.json); `make clients-openapi` then regenerates the Python models
(clients/python/generate.py) and the TypeScript types from it. test_openapi_drift.py fails
while the live server's document and the snapshot differ in anything but prose, so an API
change cannot slip past the clients.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parents[2] / "clients" / "openapi.json"
# Words for people, not shapes: a reworded description is no drift for a client.
PROSE_KEYS = frozenset({"description", "summary", "example", "examples"})


def shape(document: Any) -> Any:
    """The document without its prose, for comparing what clients depend on."""
    if isinstance(document, dict):
        return {k: shape(v) for k, v in document.items() if k not in PROSE_KEYS}
    if isinstance(document, list):
        return [shape(item) for item in document]
    return document


def current_document() -> dict[str, Any]:
    from coderun_api.config import Settings
    from coderun_api.main import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        document: dict[str, Any] = create_app(Settings(data_dir=Path(data_dir))).openapi()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SNAPSHOT.write_text(render(current_document()))
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
