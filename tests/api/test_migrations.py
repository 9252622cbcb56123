"""The Alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import coderun_api.models  # noqa: F401  (registers the tables)
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from coderun_api import db
from coderun_api.config import Settings
from sqlalchemy import create_engine
from sqlmodel import SQLModel


def test_migrations_match_the_models(database_url: str, tmp_path: Path) -> None:
    db.upgrade(Settings(data_dir=tmp_path, database_url=database_url))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
