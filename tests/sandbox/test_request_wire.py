"""The run request on the wire (contract.RunRequest.to_wire / read_framed_request): what the
operator writes to a sandbox container's stdin and the runner reads. Every field travels,
a request cut short is never taken for a whole one, and the size bound holds both ways."""

from __future__ import annotations

import io

import pytest
from coderun_sandbox.contract import (
    MAX_REQUEST_WIRE_BYTES,
    IncompleteRequest,
    InvalidRequest,
    RunLimits,
    RunRequest,
    frame_request,
    read_framed_request,
)

REQUEST = RunRequest(
    language="python",
    code="print('h\u00e9llo \u2028 \U0001f600')\n\udc80",  # non-ASCII, a separator, a lone surrogate
    input="1 2\n",
    limits=RunLimits(time_limit_ms=1500, memory_limit_mb=128),
)


def test_every_field_survives_the_round_trip() -> None:
    assert read_framed_request(io.BytesIO(frame_request(REQUEST)).read) == REQUEST
    assert RunRequest.from_wire(REQUEST.to_wire()) == REQUEST


def test_a_stream_read_in_small_pieces_is_read_whole() -> None:
    stream = io.BytesIO(frame_request(REQUEST))
    assert read_framed_request(lambda n: stream.read(min(n, 3))) == REQUEST


@pytest.mark.parametrize("cut", [0, 5, 20, -1])
def test_a_request_cut_short_is_incomplete_never_a_request(cut: int) -> None:
    framed = frame_request(REQUEST)
    with pytest.raises(IncompleteRequest):
        read_framed_request(io.BytesIO(framed[:cut]).read)


def test_nothing_after_the_frame_is_read() -> None:
    stream = io.BytesIO(frame_request(REQUEST) + b"trailing")
    read_framed_request(stream.read)
    assert stream.read() == b"trailing"


@pytest.mark.parametrize(
    "framed",
    [
        b"coderun-request/2 2\n{}",
        b"something else\n",
        b"coderun-request/1 -3\n",
        f"coderun-request/1 {MAX_REQUEST_WIRE_BYTES + 1}\n".encode(),
        b"coderun-request/1 " + b"9" * 100,
        b"coderun-request/1 2\n{}",
        b'coderun-request/1 8\n{"v": 1}',
        b"coderun-request/1 4\n[1,]",
    ],
)
def test_what_is_not_a_request_is_refused(framed: bytes) -> None:
    with pytest.raises(InvalidRequest):
        read_framed_request(io.BytesIO(framed).read)


def test_unknown_fields_are_refused_with_their_names() -> None:
    data = REQUEST.to_wire()[:-1] + b',"surprise":1}'
    with pytest.raises(InvalidRequest, match="surprise"):
        RunRequest.from_wire(data)


def test_a_request_over_the_bound_is_refused_by_the_writer() -> None:
    huge = REQUEST._replace(input="x" * MAX_REQUEST_WIRE_BYTES)
    with pytest.raises(InvalidRequest, match="limit is"):
        huge.to_wire()
