"""`coderun db downgrade REVISION`: every migration steps back (docs/deployment.md, "Rolling
back"), and the schema goes up again, through the real CLI on a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from coderun_api import db
from sqlalchemy import create_engine, inspect, text


def _coderun(url: str, *args: str) -> None:
    env = {**os.environ, "CODERUN_DATABASE_URL": url, "CODERUN_ENV": "development"}
    subprocess.run(
        [sys.executable, "-c", "from coderun_api.cli import console; console()", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _state(url: str) -> tuple[str, set[str], set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        schema = inspect(engine)
        return (
            str(revision),
            set(schema.get_table_names()),
            {c["name"] for c in schema.get_columns("job")},
        )
    finally:
        engine.dispose()


def test_downgrade_steps_each_migration_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coderun.db'}"
    head = ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()
    _coderun(url, "db", "upgrade")
    revision, tables, job = _state(url)
    assert revision == head and "fair_clock" in tables and {"weight", "coderun_uid"} <= job
    _coderun(url, "db", "downgrade", "0002")
    revision, tables, job = _state(url)
    assert revision == "0002" and "fair_clock" not in tables and "weight" not in job
    assert "coderun_uid" in job
    _coderun(url, "db", "downgrade", "0001")
    assert "coderun_uid" not in _state(url)[2]
    _coderun(url, "db", "upgrade")
    assert _state(url)[0] == head
