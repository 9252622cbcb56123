"""`AsyncClient`: `Client` for asyncio. Its methods are the same plans (_methods.py), driven
with awaits, so the two have the same methods, arguments and docstrings."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import httpx

from . import _methods as plans

T = TypeVar("T")


class AsyncClient(plans.ClientMethods[httpx.AsyncClient]):
    """The CodeRun API from asyncio; the same methods as `Client`, awaited.

    async with AsyncClient(base_url="http://127.0.0.1:8000", api_key="nr_live_...") as c:
        job = await c.run("print(1)", "python")
    """

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient()

    async def _drive(self, plan: plans.Plan[T]) -> T:
        step = plans.resume(plan, None)
        while not isinstance(step, plans.Done):
            step = plans.resume(plan, await self._do(step))
        return step.value

    async def _do(self, step: plans.Step) -> plans.Outcome:
        if isinstance(step, plans.Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._http.request(**self._request(step))
        except httpx.TransportError as error:
            return error

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
