"""`Client`: the blocking client. Its methods are the plans in _methods.py, driven with
blocking calls; `AsyncClient` (async_client.py) drives the same plans with awaits."""

from __future__ import annotations

import time
from typing import TypeVar

import httpx

from . import _methods as plans

T = TypeVar("T")


class Client(plans.ClientMethods[httpx.Client]):
    """The CodeRun API from Python.

        with Client(base_url="http://127.0.0.1:8000", api_key="nr_live_...") as client:
            job = client.run("print(input()[::-1])", "python", input="olleh")
            print(job.status, job.stdout)

    Rate-limited (429) and unavailable (503) answers are retried after their Retry-After;
    errors raise `ApiError` subclasses carrying the server's message.
    """

    def _new_http(self) -> httpx.Client:
        return httpx.Client()

    def _drive(self, plan: plans.Plan[T]) -> T:
        step = plans.resume(plan, None)
        while not isinstance(step, plans.Done):
            step = plans.resume(plan, self._do(step))
        return step.value

    def _do(self, step: plans.Step) -> plans.Outcome:
        if isinstance(step, plans.Sleep):
            time.sleep(step.seconds)
            return None
        try:
            return self._http.request(**self._request(step))
        except httpx.TransportError as error:
            return error

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
