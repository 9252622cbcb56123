"""Test helpers: an account with a key, submit, wait for the final result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from coderun_api.accounts import create_account, rotate_api_key
from coderun_api.models import Account, Job
from coderun_api.state import AppState
from fastapi.testclient import TestClient
from sqlmodel import Session

CSRF = {"X-Requested-With": "coderun-web"}
FINAL = ("success", "failed")


@dataclass
class Api:
    client: TestClient

    @property
    def state(self) -> AppState:
        state: AppState = self.client.app.state.coderun  # type: ignore[attr-defined]
        return state

    def new_account(
        self, email: str = "user@example.com", credits: int = 10, password: str | None = None
    ) -> tuple[int, str]:
        account = create_account(self.state.engine, email, password=password, credits=credits)
        assert account.id is not None
        return account.id, rotate_api_key(self.state.engine, account.id)

    def submit(
        self,
        key: str,
        code: str,
        language: str = "python",
        stdin: str = "",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        response: httpx.Response = self.client.post(
            "/api/v1/runner/submit",
            json={"code": code, "language": language, "input": stdin},
            headers={"X-API-KEY": key, **(headers or {})},
        )
        return response

    def result(self, key: str, job_id: str, wait: float = 0) -> httpx.Response:
        params = {"wait": str(wait)} if wait else {}
        response: httpx.Response = self.client.get(
            f"/api/v1/runner/{job_id}/result", params=params, headers={"X-API-KEY": key}
        )
        return response

    def wait_final(self, key: str, job_id: str, rounds: int = 8) -> dict[str, Any]:
        """Long-poll (?wait=30) until final; the bound is on rounds, not on time."""
        for _ in range(rounds):
            response = self.result(key, job_id, wait=30)
            assert response.status_code == 200, response.text
            data: dict[str, Any] = response.json()["data"]
            if data["status"] in FINAL:
                return data
        raise AssertionError(f"job {job_id} never became final")

    def run(self, key: str, code: str, language: str = "python", stdin: str = "") -> dict[str, Any]:
        response = self.submit(key, code, language, stdin)
        assert response.status_code == 200, response.text
        return self.wait_final(key, response.json()["data"]["jobId"])

    def account(self, account_id: int) -> Account:
        with Session(self.state.engine) as session:
            account = session.get(Account, account_id)
            assert account is not None
            return account

    def job(self, job_id: str) -> Job:
        with Session(self.state.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def job_count(self) -> int:
        from sqlalchemy import func, select

        with Session(self.state.engine) as session:
            return int(session.execute(select(func.count()).select_from(Job)).scalar_one())
