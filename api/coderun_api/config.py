"""All settings, read once from `CODERUN_*` environment variables.

Each one is documented in docs/configuration.md.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "coderun"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODERUN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    # Empty means SQLite at <data_dir>/coderun.db. PostgreSQL: postgresql+psycopg://user:pw@host/db
    database_url: str = ""
    # Empty means in-process rate limits and notifications (one API process).
    redis_url: str = ""
    # Run migrations on start. Unset: only for SQLite (the embedded default); with
    # PostgreSQL run `coderun db upgrade` once per release instead.
    auto_migrate: bool | None = None

    executor: Literal["local", "kubernetes"] = "local"
    local_workers: int = Field(default=2, ge=1, le=64)
    # Runs one account may have running at once on the local executor, over all replicas
    # (weights counted: a job that stands for k runs counts k). The default is the default
    # pool: a lone account still uses every worker of one process, and the fair order
    # between accounts (coderun_operator.fair_share) keeps another account's wait within
    # about one run; with more workers or replicas, the rest stay free for other accounts.
    max_running_per_account: int = Field(default=2, ge=1, le=1000)
    # A job whose executor stops renewing its lease for this long is re-run (or failed with
    # InternalError once max_attempts runs were started).
    job_lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=2, ge=1)

    free_credits: int = Field(default=100, ge=0)
    early_credits: int = Field(default=200, ge=0)
    # Flag every sign-up as an early user (they get early_credits), e.g. during a beta.
    signups_early: bool = False

    submit_rate_limit: str = "60/minute"
    auth_rate_limit: str = "10/minute"
    trust_proxy_headers: bool = False
    # How many proxies in front of the API append to X-Forwarded-For (an ingress: 1; a
    # load balancer in front of the ingress: 2). Used only with trust_proxy_headers.
    trusted_proxy_hops: int = Field(default=1, ge=1, le=10)
    # Failed sign-ins per (email, client address): each window adds a longer wait instead of
    # a lockout, so nobody can lock another person out, from any address.
    signin_failure_limit: str = "5/minute;20/hour;100/day"

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_wait_seconds: float = Field(default=30.0, ge=0, le=30)

    session_ttl_hours: float = Field(default=24 * 7, gt=0)
    cookie_secure: bool = False

    # Webhooks (docs/webhooks.md). Hosts (names or addresses) and networks (CIDR) that
    # callback URLs may reach although they are not public addresses, comma-separated, e.g.
    # "hooks.corp.example,10.20.0.0/16". Empty: only public addresses.
    webhook_allowlist: str = ""
    # First retry delay; each later one doubles (with jitter) up to webhook_backoff_max_seconds,
    # until webhook_retry_horizon_seconds after the job became final.
    webhook_backoff_base_seconds: float = Field(default=10.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_horizon_seconds: float = Field(default=24 * 3600.0, gt=0)
    # One attempt: connecting, sending and reading the status line, all within this.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # At most this much of a receiver's response body is read (the rest is dropped).
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    # After a rotation, deliveries are signed with the previous secret too for this long.
    webhook_secret_grace_seconds: float = Field(default=24 * 3600.0, ge=0)
    # Deliveries one API process sends at once.
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    # How often the sender looks for due retries (finalizations wake it at once).
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # Browser origins allowed to call the API cross-origin (CORS), comma-separated, e.g.
    # "https://app.example.com". Empty (the default): no CORS headers at all.
    cors_origins: str = ""

    static_dir: Path | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if not self.cookie_secure:
                raise ValueError("CODERUN_COOKIE_SECURE must be true when CODERUN_ENV=production")
            if not self.database_url:
                raise ValueError("set CODERUN_DATABASE_URL when CODERUN_ENV=production")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'coderun.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def webhook_allowlist_entries(self) -> list[str]:
        return [entry.strip() for entry in self.webhook_allowlist.split(",") if entry.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def effective_static_dir(self) -> Path:
        return self.static_dir or Path(__file__).with_name("static")


@lru_cache
def get_settings() -> Settings:
    return Settings()
