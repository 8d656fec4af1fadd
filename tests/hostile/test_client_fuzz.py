"""Fuzzing the client's parsers with hypothesis: hostile bytes in any chunking.

* ``ClientConnection.receive_data`` on random response bytes (raw, or after a plausible status
  line) in random chunking, then EOF: it raises only ``ReactSSEError`` subclasses (the
  translated faults), never a foreign exception; and a valid response (Content-Length, chunked
  or close-delimited, plain or gzip) parses to the same head and body whatever the chunking.
* ``EventStreamDecoder`` on random bytes in random chunking: the only error is the documented
  ``EventTooLarge``, and the chunking never changes the result (the events and the error).
"""

from __future__ import annotations

import contextlib
import gzip
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.errors import EventTooLarge, ReactSSEError
from reactsse.http import ClientConnection, ResponseEnd, ResponseHead, parse_url
from reactsse.sse import EventStreamDecoder, MessageEvent

URL = parse_url("http://127.0.0.1:9/stream")
READERS = ("batch", "h11")
cuts = st.lists(st.integers(min_value=0, max_value=4096), max_size=12)


def split(data: bytes, positions: list[int]) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in positions})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return [piece for piece in pieces if piece]


def feed_all(reader: str, pieces: list[bytes], max_header_size: int = 4096) -> list[object]:
    """Every event ``receive_data`` returns for ``pieces`` then EOF; raises its fault."""
    connection = ClientConnection(body_reader=reader, max_header_size=max_header_size)  # type: ignore[arg-type]
    connection.send_request("GET", URL, [], None)
    events: list[object] = []
    for piece in [*pieces, b""]:
        events.extend(connection.receive_data(memoryview(piece) if len(piece) % 2 else piece))
        connection.raise_error()
        if events and isinstance(events[-1], ResponseEnd):
            break
    return events


prefixes = st.sampled_from(
    [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ]
)


@settings(max_examples=300)
@given(prefixes, st.binary(max_size=600), cuts, st.sampled_from(READERS))
def test_random_response_bytes_raise_only_our_errors(
    prefix: bytes, noise: bytes, positions: list[int], reader: str
) -> None:
    # Expected: a parse, or a ReactSSEError subclass; any other exception propagates and fails
    # the test.
    with contextlib.suppress(ReactSSEError):
        feed_all(reader, split(prefix + noise, positions), max_header_size=256)


def frame(body: bytes, framing: str, sizes: list[int]) -> bytes:
    if framing == "length":
        return b"Content-Length: %d\r\n\r\n" % len(body) + body
    if framing == "close":
        return b"\r\n" + body
    out, pos = [b"Transfer-Encoding: chunked\r\n\r\n"], 0
    for size in [*sizes, len(body)]:
        piece = body[pos : pos + max(size, 1)]
        if not piece:
            break
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        pos += len(piece)
    out.append(b"0\r\n\r\n")
    return b"".join(out)


@settings(max_examples=200)
@given(
    st.binary(max_size=3000),
    st.sampled_from(["length", "chunked", "close"]),
    st.booleans(),
    st.lists(st.integers(1, 700), max_size=6),
    cuts,
    st.sampled_from(READERS),
)
def test_valid_responses_parse_the_same_in_any_chunking(
    body: bytes, framing: str, gzipped: bool, sizes: list[int], positions: list[int], reader: str
) -> None:
    wire_body = gzip.compress(body, mtime=0) if gzipped else body
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    if gzipped:
        head += b"Content-Encoding: gzip\r\n"
    events = feed_all(reader, split(head + frame(wire_body, framing, sizes), positions))
    heads = [event for event in events if isinstance(event, ResponseHead)]
    assert len(heads) == 1 and heads[0].status == 200
    assert b"".join(event for event in events if isinstance(event, bytes)) == body
    assert isinstance(events[-1], ResponseEnd)


def decode(pieces: list[bytes], limit: int) -> tuple[list[MessageEvent], bool]:
    """The events seen and whether the limit error came; any other exception propagates."""
    decoder = EventStreamDecoder(max_event_size=limit)
    seen: list[MessageEvent] = []
    try:
        for piece in pieces:
            seen.extend(decoder.feed(piece))
        seen.extend(decoder.close())
    except EventTooLarge as error:
        assert error.limit == limit
        return seen, True
    return seen, False


sse_noise = st.lists(
    st.sampled_from(
        [b"data:", b"data: x", b"event: e", b"id: 1", b"retry: 5", b":c", b"\n", b"\r", b"\r\n"]
    )
    | st.binary(max_size=20),
    max_size=60,
).map(b"".join)


@settings(max_examples=300)
@given(sse_noise, cuts, st.integers(1, 200))
def test_decoder_random_bytes_any_chunking_same_result(
    stream: bytes, positions: list[int], limit: int
) -> None:
    whole = decode([stream], limit)
    assert decode(split(stream, positions), limit) == whole
    assert decode([bytes([b]) for b in stream], limit) == whole


@pytest.mark.parametrize("seed", range(3))
def test_decoder_large_random_stream_any_chunking(seed: int) -> None:
    # Bounded in size and time: 200 KB of SSE-shaped noise, cut at random points.
    rng = random.Random(seed)
    parts = [b"data: ", b"x" * 50, b"\n", b"\r\n", b"id: 7\n", b"\n\n", bytes(range(256))]
    stream = b"".join(rng.choice(parts) for _ in range(6000))
    positions = [rng.randrange(len(stream)) for _ in range(300)]
    whole = decode([stream], 4096)
    assert decode(split(stream, positions), 4096) == whole
