"""A small Server-Sent Events reader for tests: the events of a stream, as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    id: int
    name: str
    data: dict[str, Any]


def read_events(lines: Iterator[str]) -> Iterator[SseEvent]:
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield SseEvent(int(fields.get("id", "0")), fields.get("event", "message"),
                               json.loads(fields["data"]))  # fmt: skip
            fields = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def stream_events(
    base: str, job_id: str, key: str, last_event_id: str | None = None, stop_after: int = 0
) -> list[SseEvent]:
    """Read the job's stream until it ends, or drop the connection after `stop_after`
    events (0: read to the end)."""
    headers = {"X-API-KEY": key}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events: list[SseEvent] = []
    with httpx.stream(
        "GET", f"{base}/api/v1/runner/{job_id}/events", headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in read_events(response.iter_lines()):
            events.append(event)
            if stop_after and len(events) >= stop_after:
                break  # leaving the block closes the connection: a dropped stream
    return events
