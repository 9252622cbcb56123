"""Apps under test: the real app, the real runner, SQLite or a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coderun_api.config import Settings
from coderun_api.main import create_app
from fastapi.testclient import TestClient

from tests.api.helpers import Api

MakeApi = Callable[..., Api]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coderun.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[MakeApi]:
    """Start an app (lifespan included) with settings overrides; all closed at teardown."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        fields: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "auto_migrate": True,
            "log_format": "text",
        }
        fields.update(overrides)
        settings = Settings(**fields)
        client = TestClient(create_app(settings), base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        return Api(client)

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """SQLite, defaults: the everyday app."""
    return make_api()


@pytest.fixture
def any_db_api(make_api: MakeApi, database_url: str) -> Api:
    """The same app on SQLite and on the real PostgreSQL server."""
    return make_api(database_url=database_url)
