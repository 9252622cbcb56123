"""The admin CLI: `coderun account create` and its credit defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from coderun_api import cli
from coderun_api.config import get_settings

from tests.api.conftest import MakeApi


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CODERUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CODERUN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_account_create_prints_a_working_key_with_default_credits(
    cli_env: Path, capsys: pytest.CaptureFixture[str], make_api: MakeApi
) -> None:
    assert cli.main(["account", "create", "Plain@Example.com"]) == 0
    plain_key = capsys.readouterr().out.strip()
    assert cli.main(["account", "create", "early@example.com", "--early"]) == 0
    early_key = capsys.readouterr().out.strip()
    assert cli.main(["account", "create", "rich@example.com", "--credits", "5"]) == 0
    rich_key = capsys.readouterr().out.strip()
    assert cli.main(["account", "create", "plain@example.com"]) == 1  # already exists

    api = make_api(data_dir=cli_env)
    for key, email, credits, early in [
        (plain_key, "plain@example.com", 100, False),
        (early_key, "early@example.com", 200, True),
        (rich_key, "rich@example.com", 5, False),
    ]:
        data = api.client.get("/api/v1/account", headers={"X-API-KEY": key}).json()["data"]
        assert (data["email"], data["credits"], data["early"]) == (email, credits, early)

    assert cli.main(["account", "new-key", "rich@example.com"]) == 0
    rotated = capsys.readouterr().out.strip()
    assert api.client.get("/api/v1/account", headers={"X-API-KEY": rich_key}).status_code == 401
    assert api.client.get("/api/v1/account", headers={"X-API-KEY": rotated}).status_code == 200


def test_signups_can_be_flagged_early(make_api: MakeApi) -> None:
    api = make_api(signups_early=True, early_credits=250)
    response = api.client.post(
        "/api/v1/auth/signup", json={"email": "beta@example.com", "password": "long enough"}
    )
    assert response.json()["data"]["credits"] == 250
    assert api.client.get("/api/v1/account").json()["data"]["early"] is True


def test_account_create_with_a_dashboard_password(
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_api: MakeApi,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert cli.main(["account", "create", "ops@example.com", "--password-stdin"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["account", "create", "weak@example.com", "--password-stdin"]) == 2
    api = make_api(data_dir=cli_env)
    signin = api.client.post(
        "/api/v1/auth/signin", json={"email": "ops@example.com", "password": "a long password"}
    )
    assert signin.status_code == 200
    keyless = api.client.post(
        "/api/v1/auth/signin", json={"email": "weak@example.com", "password": "short"}
    )
    assert keyless.status_code == 401
