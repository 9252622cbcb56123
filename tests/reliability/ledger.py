"""A client's ledger of one fault test: what it submitted, what the API answered, how each
accepted job ended, and what the account was charged, all through the REST API."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.operator.harness import FINAL, ApiProcess
from tests.reliability.figures import FaultFigures, record


def sleeper(index: int, seconds: float = 2.0) -> tuple[str, str]:
    """A run that stays in flight for a while and prints an output only it prints."""
    return f"import time\ntime.sleep({seconds})\nprint({index} * {index})\n", f"{index * index}\n"


@dataclass
class Ledger:
    api: ApiProcess
    key: str
    credits: int
    """The account's balance before the first submission."""
    expected: dict[str, str | None] = field(default_factory=dict)
    """Accepted jobIds -> the stdout a success must have (None: not a success's business)."""
    refused: Counter[str] = field(default_factory=Counter)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    began: float = field(default_factory=time.monotonic)
    """When the fault test began (time.monotonic): its figures' seconds count from here."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    # -- submitting ----------------------------------------------------------------------

    def submit(self, code: str, expect_stdout: str | None) -> str | None:
        """One submission; its jobId when accepted, None when refused (counted either way)."""
        try:
            response = httpx.post(
                f"{self.api.base_url}/api/v1/runner/submit",
                json={"code": code, "language": "python", "input": ""},
                headers={"X-API-KEY": self.key},
                timeout=60,
            )
        except httpx.HTTPError:
            with self._lock:
                self.refused["no answer"] += 1
            return None
        with self._lock:
            if response.status_code != 200:
                self.refused[str(response.status_code)] += 1
                return None
            job_id: str = response.json()["data"]["jobId"]
            self.expected[job_id] = expect_stdout
        return job_id

    def next_sleeper(self, seconds: float = 2.0) -> tuple[str, str]:
        with self._lock:
            self._serial += 1
            index = self._serial
        return sleeper(index, seconds)

    def submit_sleepers(self, count: int, seconds: float = 2.0) -> list[str | None]:
        """`count` sleepers at once, as a burst of clients would send them."""
        programs = [self.next_sleeper(seconds) for _ in range(count)]
        return self.submit_all(programs)

    def submit_all(self, programs: Sequence[tuple[str, str | None]]) -> list[str | None]:
        with ThreadPoolExecutor(max_workers=min(len(programs), 10)) as pool:
            return list(pool.map(lambda p: self.submit(*p), programs))

    @contextmanager
    def submitting_meanwhile(self, count: int, pause: float = 0.5) -> Iterator[None]:
        """Submit `count` sleepers one by one, `pause` apart, while the body runs (the fault)."""

        def paced() -> None:
            for _ in range(count):
                self.submit(*self.next_sleeper())
                time.sleep(pause)

        thread = threading.Thread(target=paced, name="submit-meanwhile")
        thread.start()
        try:
            yield
        finally:
            thread.join(timeout=600)

    # -- observing -----------------------------------------------------------------------

    def _get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.api.base_url}{path}", params=params, headers={"X-API-KEY": self.key}, timeout=30
        )

    def running(self) -> int:
        """How many of the account's jobs are `running` now (one request: the history's total)."""
        try:
            response = self._get("/api/v1/jobs", status="running", pageSize="1")
        except httpx.HTTPError:
            return 0
        return int(response.json()["data"]["total"]) if response.status_code == 200 else 0

    def wait_in_flight(self, at_least: int = 2, rounds: int = 1200) -> int:
        """Wait (bounded by rounds) until `at_least` accepted jobs run; how many run then."""
        for _ in range(rounds):
            running = self.running()
            if running >= at_least:
                return running
            time.sleep(0.1)
        raise AssertionError(f"never {at_least} runs in flight:\n{self.api.tail()}")

    def settle(self, rounds: int = 400, pause: float = 1.0) -> None:
        """Poll every unfinished job until all are final or the rounds run out (then the
        rest count as lost). Generous: a healthy run finishes in seconds."""
        for _ in range(rounds):
            pending = [job_id for job_id in self.expected if job_id not in self.results]
            if not pending:
                return
            for job_id in pending:
                try:
                    response = self._get(f"/api/v1/runner/{job_id}/result")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    data: dict[str, Any] = response.json()["data"]
                    if data["status"] in FINAL:
                        self.results[job_id] = data
            time.sleep(pause)

    def failures(self) -> list[str]:
        """Each final job that did not succeed: its error type and message, for a report."""
        return [
            f"{job_id}: {data.get('sandboxErrorType')}: {data.get('sandboxErrorMessage')}"
            for job_id, data in self.results.items()
            if data["status"] != "success"
        ]

    # -- counting ------------------------------------------------------------------------

    def recorded(self, fault: str, title: str, how: str, in_flight: int) -> FaultFigures:
        """The figures, written for docs/reliability.md (figures.record) and then checked:
        nothing lost, nothing charged twice."""
        figures = self.figures(fault, title, how, in_flight, time.monotonic() - self.began)
        record(figures)
        figures.assert_nothing_lost()
        return figures

    def figures(
        self, fault: str, title: str, how: str, in_flight: int, seconds: float
    ) -> FaultFigures:
        account = self._get("/api/v1/account").json()["data"]
        held = self._get("/api/v1/jobs", pageSize="1").json()["data"]["total"]
        successes = [job_id for job_id, data in self.results.items() if data["status"] == "success"]
        failed: Counter[str] = Counter(
            str(data["sandboxErrorType"])
            for data in self.results.values()
            if data["status"] != "success"
        )
        used = int(account["creditsUsed"])
        assert int(account["credits"]) == self.credits - used, account
        return FaultFigures(
            fault=fault,
            title=title,
            how=how,
            accepted=len(self.expected),
            final=len(self.results),
            lost=len(self.expected) - len(self.results),
            double_charges=max(0, used - len(successes)),
            uncharged_successes=max(0, len(successes) - used),
            successes=len(successes),
            wrong_output=sum(
                1
                for job_id in successes
                if self.expected[job_id] is not None
                and self.results[job_id]["stdout"] != self.expected[job_id]
            ),
            failed=dict(sorted(failed.items())),
            refused=dict(sorted(self.refused.items())),
            unreported_jobs=max(0, int(held) - len(self.expected)),
            in_flight_at_fault=in_flight,
            seconds=round(seconds, 1),
        )


def new_ledger(api: ApiProcess, credits: int = 500) -> Ledger:
    return Ledger(api, api.new_key(credits=credits), credits)


def bounded(check: Callable[[], bool], what: str, rounds: int = 600, pause: float = 0.5) -> None:
    """Poll `check` until true; bounded by rounds, never asserted as a time."""
    for _ in range(rounds):
        if check():
            return
        time.sleep(pause)
    raise AssertionError(f"{what}: not reached")
