"""Engine, sessions and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, make_url, text
from sqlmodel import create_engine

from coderun_api.config import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _make_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(settings: Settings) -> Engine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        _make_sqlite_dir(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets result readers proceed while a worker writes; foreign keys are off by
            # default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # pool_pre_ping: a connection that died with its server is replaced, not handed out, so
    # the API recovers by itself when the database returns. connect_timeout: an unreachable
    # server fails a request in seconds (a 503), not after the kernel's TCP retries.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    if settings.is_sqlite:
        _make_sqlite_dir(settings.effective_database_url)
    command.upgrade(alembic_config(settings.effective_database_url), revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Run the downgrades of every migration after `revision` (each migration has one)."""
    command.downgrade(alembic_config(settings.effective_database_url), revision)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
