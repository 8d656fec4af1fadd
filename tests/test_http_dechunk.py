"""Differential tests: the batch de-chunker against h11's own chunked reader.

``ClientConnection(body_reader="batch")`` and ``ClientConnection(body_reader="h11")`` are fed the
same response, cut into the same receive_data calls, then EOF. Every call must give the same
events (head, body bytes, end with trailers), and the first fault must come at the same call,
with the same exception class (raised by the next call) and the same events returned before it.
Inputs: random bodies chunked at random sizes, hex case and leading zeros, extensions, trailing
whitespace, malformed sizes (non-hex, signs, 0x, too many digits, bare LF), malformed footers,
trailers (valid and invalid), EOF at random points, bytes after the end, small size limits, and
raw random bytes drawn from the chunk grammar's alphabet.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reactsse.errors import ConnectionClosed, ReactSSEError, RemoteProtocolError
from reactsse.http import (
    ClientConnection,
    ConnectionState,
    ResponseEnd,
    ResponseEvent,
    parse_url,
)
from reactsse.http.chunked import BatchDechunker

URL = parse_url("http://127.0.0.1:8000/stream")
HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
LIMITS = [len(HEAD), 64, 65536]

Outcome = list[tuple[str, object, list[ResponseEvent]]]
_T = TypeVar("_T")


def _through_reused_buffer(
    receive: Callable[[memoryview], _T], buffer: bytearray, piece: bytes
) -> _T:
    """Call ``receive`` as a transport does: with a view of a reused buffer, released after the
    call; then scribble over the buffer, so that anything kept of it shows up as wrong bytes."""
    buffer[: len(piece)] = piece
    view = memoryview(buffer)[: len(piece)]
    try:
        return receive(view)
    finally:
        view.release()
        buffer[:] = b"\xa5" * len(buffer)


def _run(
    reader: str, wire: bytes, cuts: list[int], limit: int, eof: bool = True, method: str = "GET"
) -> Outcome:
    """Feed ``wire`` cut at ``cuts`` (then EOF); return each call's result, the first fault as
    ("error", its class, what the faulty call returned); the next call must raise the fault.

    ``reader`` is "h11", "batch" (bytes), or "batch-view" (views of a reused buffer, as the
    transport gives them: the de-chunker's ``feed_view`` path)."""
    conn = ClientConnection(
        body_reader="h11" if reader == "h11" else "batch", max_header_size=limit
    )
    buffer = bytearray(len(wire) + 1)
    conn.send_request(method, URL)
    # Cuts are taken modulo the length, so that short inputs get cut as often as long ones.
    points = sorted({c % len(wire) for c in cuts if c % len(wire)}) if wire else []
    pieces = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    if eof:
        pieces.append(b"")
    outcome: Outcome = []
    for piece in pieces:
        if reader == "batch-view" and piece:
            events = _through_reused_buffer(conn.receive_data, buffer, piece)
        else:
            events = conn.receive_data(piece)
        bodies = [e for e in events if isinstance(e, bytes)]
        assert len(bodies) <= 1 and all(bodies), events  # one joined, non-empty bytes per call
        if conn.state is ConnectionState.ERROR:
            with pytest.raises(ReactSSEError) as info:
                conn.receive_data(b"")
            outcome.append(("error", type(info.value), events))
            break
        outcome.append(("ok", None, events))
    return outcome


def _compare(
    wire: bytes, cuts: list[int], limit: int = 65536, eof: bool = True, method: str = "GET"
) -> Outcome:
    batch = _run("batch", wire, cuts, limit, eof, method)
    reference = _run("h11", wire, cuts, limit, eof, method)
    assert batch == reference
    assert _run("batch-view", wire, cuts, limit, eof, method) == reference
    return reference


def _body(outcome: Outcome) -> bytes:
    return b"".join(e for _, _, events in outcome for e in events if isinstance(e, bytes))


# --------------------------------------------------------------------------------------------
# Strategies

MALFORMED_SIZES = [
    b"",
    b"zz",
    b"g",
    b"-5",
    b"+5",
    b"0x5",
    b" 5",
    b"5 ;x",
    b"1_0",
    b"\xef\xbc\x91",  # a full-width digit one, in UTF-8
    b"f" * 21,
    b"0" * 21,
    b"5\n",
    b"\n5",
    b"5;a\nb",
    b"5\x00",
    b"5\r",
]
EXTENSIONS = [b"", b";a", b";name=value", b';q="x y"', b";", b"; \t", b";\r", b";\xff"]
WHITESPACE = [b"", b" ", b"\t", b" \t "]
BAD_FOOTERS = [b"", b"\n", b"\r", b"X\r\n", b"\r\r\n", b" \r\n"]
TRAILER_LINES = [
    b"X-Trailer: 1",
    b"x-a:b",
    b"Server-Timing: total;dur=12",
    b"bad line",
    b" folded",
    b"Content-Length: 5",
    b"Transfer-Encoding: gzip",
    b"X: \x00",
]


@st.composite
def chunked_streams(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A chunked body (wire bytes) and the body it carries if it is valid, with random defects."""
    body = draw(st.binary(max_size=2000))
    wire = bytearray()
    pos = 0
    defect_rate = draw(st.sampled_from([0.0, 0.0, 0.02, 0.1]))
    while pos < len(body):
        size = draw(st.integers(1, max(1, min(300, len(body) - pos))))
        digits = format(size, "x")
        if draw(st.booleans()):
            digits = digits.upper()
        digits = "0" * draw(st.integers(0, 3)) + digits
        line = (
            digits.encode() + draw(st.sampled_from(EXTENSIONS)) + draw(st.sampled_from(WHITESPACE))
        )
        if draw(st.floats(0, 1)) < defect_rate:
            line = draw(st.sampled_from(MALFORMED_SIZES))
        footer = b"\r\n"
        if draw(st.floats(0, 1)) < defect_rate:
            footer = draw(st.sampled_from(BAD_FOOTERS))
        wire += line + b"\r\n" + body[pos : pos + size] + footer
        pos += size
    last = b"0" * draw(st.integers(1, 3)) + draw(st.sampled_from(EXTENSIONS))
    wire += last + draw(st.sampled_from(WHITESPACE)) + b"\r\n"
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    for trailer in draw(st.lists(st.sampled_from(TRAILER_LINES), max_size=3)):
        wire += trailer + newline
    wire += newline
    wire += draw(st.sampled_from([b"", b"", b"HTTP/1.1 200 OK\r\n\r\n", b"garbage"]))
    return bytes(wire), body


FRAGMENTS = [
    b"0",
    b"1",
    b"5",
    b"a",
    b"F",
    b"g",
    b"x",
    b";",
    b"=",
    b" ",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b"-",
    b"hello",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
]

cut_lists = st.lists(st.integers(0, 2200), max_size=12)


# --------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked_streams(), cut_lists, st.sampled_from(LIMITS), st.integers(0, 3000))
def test_batch_equals_h11(
    stream: tuple[bytes, bytes], cuts: list[int], limit: int, truncate_at: int
) -> None:
    wire, _ = stream
    _compare(HEAD + wire, cuts, limit)
    # EOF at a random point of the same stream.
    _compare(HEAD + wire[:truncate_at], cuts, limit)


@settings(max_examples=200, deadline=None)
@given(chunked_streams(), cut_lists)
def test_valid_streams_give_the_body(stream: tuple[bytes, bytes], cuts: list[int]) -> None:
    wire, body = stream
    outcome = _compare(HEAD + wire, cuts)
    if all(kind == "ok" for kind, _, _ in outcome):
        assert _body(outcome) == body
        ends = [e for _, _, events in outcome for e in events if isinstance(e, ResponseEnd)]
        assert len(ends) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), cut_lists, st.sampled_from(LIMITS))
def test_batch_equals_h11_on_grammar_noise(
    fragments: list[bytes], cuts: list[int], limit: int
) -> None:
    _compare(HEAD + b"".join(fragments), cuts, limit)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), cut_lists)
def test_batch_equals_h11_on_random_bytes(noise: bytes, cuts: list[int]) -> None:
    _compare(HEAD + noise, cuts)


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5;ext=1 \r\nhello\r\n0;last\r\nX-T: 1\r\n\r\n",
        b"5\r\nhello\r\nzz\r\n",
        b"5\r\nhelloXX",
        b"5\r\nhello\r",
        b"5\r\nhello\r\r\n0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\rX",
        b"2\r\nab\r\n3;x \r\ncde\r\n00 \r\n\r\n",
        b"ffffffffffffffffffff\r\nabc",
        b"fffffffffffffffffffff\r\nabc",
        b"5\r\nhello\r\n" + b"1" * 100,
        b"0\r\n" + b"X-Long: " + b"a" * 100,
        b"0\r\nbad trailer\r\n\r\n",
        b"0\r\n\n",
        b"0\r\nX: 1\n\n",
    ],
)
def test_examples_every_cut(body: bytes) -> None:
    wire = HEAD + body
    for cut in range(len(wire) + 1):
        for limit in (64, 65536):
            _compare(wire, [cut], limit)
            _compare(wire, [cut], limit, eof=False)
    _compare(wire, list(range(len(wire))), 64)  # one byte per call


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["GET", "HEAD", "POST", "CONNECT"]),
    st.sampled_from([200, 201, 204, 206, 304, 404, 500]),
    st.sampled_from([b"1.1", b"1.0"]),
    st.lists(
        st.sampled_from(
            [
                (b"Transfer-Encoding", b"chunked"),
                (b"Transfer-Encoding", b"Chunked"),
                (b"Content-Length", b"7"),
                (b"Connection", b"close"),
                (b"Content-Type", b"text/event-stream"),
            ]
        ),
        max_size=3,
        unique=True,
    ),
    cut_lists,
)
def test_framing_decision_is_h11s(
    method: str, status: int, version: bytes, headers: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    """The batch reader decides the body's framing from the public response head (RFC 9112
    §6.3: none, chunked, Content-Length, until close); h11 decides it for its own reader. The
    body bytes read as chunked, as 7 bytes of length or as all bytes up to EOF differ, so equal
    outcomes mean equal decisions."""
    head = b"HTTP/%s %d X\r\n" % (version, status)
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    _compare(head + b"5\r\nhello\r\n0\r\n\r\n", cuts, method=method)


@example(b"")
@given(st.binary(max_size=50))
def test_dechunker_direct_never_loses_bytes_before_an_error(data: bytes) -> None:
    """Pieces appended before an error stay in ``out`` (what the connection returns before the
    fault)."""
    dechunker = BatchDechunker(max_line_size=64)
    out: list[bytes | bytearray | memoryview] = []
    with contextlib.suppress(ReactSSEError):
        dechunker.feed(b"3\r\nabc\r\n" + data, out)
    assert b"".join(out).startswith(b"abc")


def test_size_cache_is_bounded_and_only_holds_validated_sizes() -> None:
    # The cache of parsed chunk sizes is shared by every connection of the process, so its bound
    # is a memory guarantee that no public call can observe (short of measuring the heap): this
    # test reads the module's private cache for that reason alone. What it may not change, the
    # sizes accepted, is checked through the public API below.
    from reactsse.http import chunked as _dechunk

    dechunker = BatchDechunker(max_line_size=64)
    out: list[bytes | bytearray | memoryview] = []
    wire = b"".join(b"%x\r\n%s\r\n" % (n, b"x" * n) for n in range(1, 5000))
    dechunker.feed(wire, out)
    assert b"".join(out) == b"".join(b"x" * n for n in range(1, 5000))
    assert len(_dechunk._SIZE_CACHE) <= _dechunk._SIZE_CACHE_ENTRIES
    assert all(not key.strip(b"0123456789abcdefABCDEF") for key in _dechunk._SIZE_CACHE)
    # A warm cache accepts nothing the parser refuses: int() would take "+5" and "0x5".
    for bad in (b"+5", b"0x5", b"-5"):
        with pytest.raises(RemoteProtocolError):
            BatchDechunker(max_line_size=64).feed(bad + b"\r\nhello\r\n", [])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 6000), min_size=1, max_size=8),
    st.lists(st.integers(0, 50_000), max_size=8),
    st.integers(0, 2**32),
)
def test_large_chunks(sizes: list[int], cuts: list[int], seed: int) -> None:
    """Chunks over the de-chunker's copy threshold take the memoryview path; same result."""
    body = random.Random(seed).randbytes(sum(sizes))
    wire, pos = bytearray(HEAD), 0
    for size in sizes:
        wire += b"%x\r\n%s\r\n" % (size, body[pos : pos + size])
        pos += size
    wire += b"0\r\n\r\n"
    outcome = _compare(bytes(wire), cuts)
    assert _body(outcome) == body
    assert all(kind == "ok" for kind, _, _ in outcome)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 5000), min_size=1, max_size=10),
    st.integers(0, 2**32),
    st.sampled_from([b"", b";ext=1"]),
    st.booleans(),
)
def test_one_chunk_per_read_as_a_live_stream_arrives(
    sizes: list[int], seed: int, extension: bytes, split_footer: bool
) -> None:
    """Each read holds exactly one chunk (a live token stream), or one chunk but for its
    footer's LF: through views of a reused buffer (feed_view's one-copy path for a whole small
    chunk), bytes and h11, the same events; the body is intact."""
    body = random.Random(seed).randbytes(sum(sizes))
    wire, pos, cuts = bytearray(HEAD), 0, [len(HEAD)]
    for size in sizes:
        wire += b"%x%s\r\n%s\r\n" % (size, extension, body[pos : pos + size])
        pos += size
        cuts.append(len(wire) - 1 if split_footer else len(wire))
    wire += b"0\r\n\r\n"
    outcome = _compare(bytes(wire), cuts)
    assert _body(outcome) == body
    assert all(kind == "ok" for kind, _, _ in outcome)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=3000),
    cut_lists,
    st.sampled_from(["close", "close-1.0", "length", "length-short", "length-long", "no-body"]),
    st.integers(0, 3500),
)
def test_close_delimited_and_length_bodies(
    body: bytes, cuts: list[int], framing: str, truncate_at: int
) -> None:
    """body_reader="batch" passes close-delimited bodies straight through (h11 ends them at
    EOF); Content-Length and bodiless responses stay with h11. Same results as "h11"."""
    heads = {
        "close": b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
        "close-1.0": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
        "length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body),
        "length-short": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) + 5),
        "length-long": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) // 2),
        "no-body": b"HTTP/1.1 204 No Content\r\n\r\n",
    }
    wire = heads[framing] + body
    outcome = _compare(wire, cuts)
    if framing.startswith("close") or framing == "length":
        assert _body(outcome) == body
        ends = [e for _, _, events in outcome for e in events if isinstance(e, ResponseEnd)]
        assert ends == [ResponseEnd()]
    _compare(wire[:truncate_at], cuts)
    _compare(wire, cuts, eof=False)


# --------------------------------------------------------------------------------------------
# Read boundaries at every structural position (an intermittent "malformed chunk footer ... got
# ''" report from a benchmark run: these pin down that no cut, pair of cuts or transport-sized
# read sequence can produce a footer error, or any error, on a valid body).


def _framed(sizes: list[int], seed: int) -> tuple[bytes, bytes, list[int]]:
    """A valid chunked body of ``sizes``, its decoded body, and its structural positions: start
    of each size line, its CR, start of data, end of data (footer CR), footer LF, footer end,
    and the last chunk's line."""
    body = random.Random(seed).randbytes(sum(sizes))
    wire, marks, pos = bytearray(), [], 0
    for size in sizes:
        line = b"%x\r\n" % size
        marks += [len(wire), len(wire) + len(line) - 2, len(wire) + len(line)]
        wire += line + body[pos : pos + size]
        pos += size
        marks += [len(wire), len(wire) + 1, len(wire) + 2]
        wire += b"\r\n"
    marks += [len(wire), len(wire) + 1, len(wire) + 3]
    wire += b"0\r\n\r\n"
    return bytes(wire), body, marks


def _feed_checked(wire: bytes, body: bytes, cuts: list[int], *, views: bool = False) -> None:
    """Feed ``wire`` to a de-chunker cut at ``cuts``; assert the body comes out and the end
    (the last chunk, no trailers) is reported by the call that completes it. Pieces are checked
    by length and both ends (a full comparison per cut of a 256 KiB body would make the test
    slow; a shifted boundary changes the ends). With ``views``, each read is a view of one
    reused buffer (``feed_view``), pieces checked before the next read overwrites it."""
    dechunker = BatchDechunker(max_line_size=65536)
    points = [0, *sorted({c for c in cuts if 0 < c < len(wire)}), len(wire)]
    offset = 0
    trailers: tuple[tuple[bytes, bytes], ...] | None = None
    buffer = bytearray(max(b - a for a, b in itertools.pairwise(points)))
    for start, stop in itertools.pairwise(points):
        assert trailers is None, cuts  # the end is reported once all of it has arrived
        out: list[bytes | bytearray | memoryview] = []
        if views:
            buffer[: stop - start] = wire[start:stop]
            trailers = dechunker.feed_view(memoryview(buffer)[: stop - start], out)
        else:
            trailers = dechunker.feed(wire[start:stop], out)
        for piece in out:
            n = len(piece)
            assert n > 0, cuts
            assert bytes(piece[:8]) == body[offset : offset + 8][:n], (cuts, offset)
            assert bytes(piece[-8:]) == body[max(offset, offset + n - 8) : offset + n], cuts
            offset += n
    assert offset == len(body), cuts
    assert trailers == (), cuts


@pytest.mark.parametrize(
    "sizes",
    [
        [65535, 65536, 65537, 1, 2],
        [65536, 65536, 3],
        [1, 2, 3, 2047, 2048, 2049, 4],  # around the copy/view threshold too
    ],
)
def test_cuts_at_every_structural_position_of_64k_chunks(sizes: list[int]) -> None:
    """Chunks around the transport's recv(65536): one cut, and two cuts, at and around every
    boundary (inside the size line, size line/data, data end, between the footer's CR and LF,
    after the footer, the last chunk), every pair of them, and 65536-byte reads starting at each
    such offset."""
    wire, body, marks = _framed(sizes, seed=len(sizes))
    near = sorted({m + d for m in marks for d in range(-3, 4) if 0 < m + d < len(wire)})
    for cut in near:
        for views in (False, True):
            _feed_checked(wire, body, [cut], views=views)
            _feed_checked(wire, body, list(range(cut, len(wire), 65536)), views=views)
    for first, second in itertools.combinations(near, 2):
        _feed_checked(wire, body, [first, second])
        _feed_checked(wire, body, [first, second], views=True)


@st.composite
def marked_streams(draw: st.DrawFn) -> tuple[bytes, list[int], bool]:
    """A chunked body with its structural positions and whether it is valid: chunk-data ends
    and footers are where read boundaries and EOF are aimed, with bad footers sometimes."""
    wire, marks, valid = bytearray(), [], True
    for _ in range(draw(st.integers(0, 6))):
        size = draw(st.sampled_from([1, 2, 3, 5, 16, 255, 256, 2047, 2048, 2049, 5000]))
        line = format(size, draw(st.sampled_from(["x", "X"]))).encode()
        line += draw(st.sampled_from(EXTENSIONS)) + b"\r\n"
        marks += [len(wire), len(wire) + len(line) - 1, len(wire) + len(line)]
        wire += line + bytes([draw(st.integers(0, 255))]) * size
        footer = b"\r\n"
        if draw(st.integers(0, 9)) == 0:
            footer = draw(st.sampled_from(BAD_FOOTERS))
            valid = False
        marks += [len(wire), len(wire) + 1, len(wire) + len(footer)]
        wire += footer
    marks += [len(wire), len(wire) + 1, len(wire) + 2, len(wire) + 3]
    wire += b"0\r\n" + draw(st.sampled_from([b"", b"X-T: 1\r\n"])) + b"\r\n"
    return bytes(wire), marks, valid


@settings(max_examples=300, deadline=None)
@given(
    marked_streams(),
    st.lists(st.tuples(st.integers(0, 200), st.integers(-1, 1)), max_size=6),
    st.integers(0, 200),
)
def test_batch_equals_h11_with_cuts_and_eof_at_footers(
    stream: tuple[bytes, list[int], bool], picks: list[tuple[int, int]], eof_pick: int
) -> None:
    wire, marks, valid = stream
    cuts = [len(HEAD) + marks[i % len(marks)] + d for i, d in picks]
    outcome = _compare(HEAD + wire, cuts)
    assert all(kind == "ok" for kind, _, _ in outcome) == valid
    # EOF right at a structural position: a truncated body is ConnectionClosed, like h11.
    truncated = HEAD + wire[: marks[eof_pick % len(marks)]]
    outcome = _compare(truncated, cuts)
    if valid:
        assert outcome[-1][:2] == ("error", ConnectionClosed)


@settings(max_examples=300, deadline=None)
@given(marked_streams(), st.lists(st.integers(0, 200), max_size=6))
def test_footer_errors_show_the_offending_bytes(
    stream: tuple[bytes, list[int], bool], picks: list[int]
) -> None:
    """A footer error is only raised on bytes that arrived and names them: "got ''" (the
    report) would mean a judgement on bytes not received yet."""
    wire, marks, _ = stream
    points = sorted({marks[i % len(marks)] for i in picks} - {0})
    dechunker = BatchDechunker(max_line_size=65536)
    try:
        for start, stop in zip([0, *points], [*points, len(wire)], strict=True):
            if start < stop and dechunker.feed(wire[start:stop], []) is not None:
                break
    except RemoteProtocolError as exc:
        if "footer" in str(exc):
            assert "got '' " not in str(exc)


# --------------------------------------------------------------------------------------------
# Bursts: many small chunks in one read (a token server's backlog, a short response read whole),
# the shape the de-chunker takes as a run of whole chunks in C.

BURST_DATA = [
    b"data: tok\n\n",
    b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n',
    b"z" * 40,
    b"y" * 300,
    b"\r",
    b"\n",
    b"ab\r\ncd",  # a CRLF inside chunk data: the split sees a boundary that is not one
    b"\r\n5\r\nhello",  # data that looks like a chunk of its own
]


@st.composite
def bursts(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A chunked body of many small chunks, mostly plain, with the shapes a run stops at: data
    holding CRLF, sizes in other spellings or with extensions or whitespace, bad footers, and
    the last chunk with trailers (then maybe bytes after the end)."""
    defect_rate = draw(st.sampled_from([0.0, 0.0, 0.03, 0.2]))
    wire, body = bytearray(), bytearray()
    for data in draw(st.lists(st.sampled_from(BURST_DATA), min_size=20, max_size=150)):
        line = b"%x" % len(data)
        footer = b"\r\n"
        if draw(st.floats(0, 1)) < defect_rate:
            line = draw(
                st.sampled_from(
                    [line.upper(), b"0" + line, line + b";a", line + b" ", b"zz", b"%x" % 7]
                )
            )
        if draw(st.floats(0, 1)) < defect_rate:
            footer = draw(st.sampled_from(BAD_FOOTERS))
        wire += line + b"\r\n" + data + footer
        body += data
    wire += b"0\r\n" + draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"])) + b"\r\n"
    wire += draw(st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n\r\n"]))
    return bytes(wire), bytes(body)


@settings(max_examples=300, deadline=None)
@given(bursts(), st.lists(st.integers(0, 20_000), max_size=6), st.sampled_from(LIMITS))
def test_bursts_equal_h11_under_any_cuts(
    stream: tuple[bytes, bytes], cuts: list[int], limit: int
) -> None:
    wire, body = stream
    outcome = _compare(HEAD + wire, cuts, limit)
    if all(kind == "ok" for kind, _, _ in outcome):
        assert _body(outcome) == body


class _RunSpy(BatchDechunker):
    """The de-chunker, recording what each try of a run of whole chunks took."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        super().__init__(max_line_size=65536)
        self.taken: list[int] = []  # bytes of the read each try consumed

    def _whole_chunks(
        self, data: bytes, pos: int, end: int, out: list[bytes | bytearray | memoryview]
    ) -> int:
        after = super()._whole_chunks(data, pos, end, out)
        self.taken.append(after - pos)
        return after


def test_a_burst_is_taken_as_one_run_up_to_the_last_chunk() -> None:
    chunks = [b'data: {"n": %d}\n\n' % n for n in range(200)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    dechunker, out = _RunSpy(), []
    assert dechunker.feed(wire, out) == ()  # the end, no trailers
    assert b"".join(out) == b"".join(chunks)
    assert dechunker.taken == [len(wire) - len(b"0\r\n\r\n")]  # one try took every data chunk


def test_a_run_stops_at_a_crlf_inside_data_and_is_not_tried_again_where_it_took_little() -> None:
    plain = [b"x" * 30] * 50
    crlf = b"a\r\nb" * 10
    chunks = [*plain, crlf, *plain]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    dechunker, out = _RunSpy(), []
    dechunker.feed(wire, out)
    assert b"".join(out) == b"".join(chunks)
    assert dechunker.taken == [50 * (2 + 2 + 30 + 2)]  # once a call: the loop read the rest
    dechunker.feed(wire, out)  # it took less than half of that read: not tried again
    assert dechunker.taken == [50 * (2 + 2 + 30 + 2)]
    assert b"".join(out) == b"".join(chunks) * 2
    # A body whose first chunk holds a CRLF: the one try takes nothing, and none follows.
    dechunker, out = _RunSpy(), []
    for _ in range(3):
        dechunker.feed(b"".join(b"%x\r\n%s\r\n" % (len(crlf), crlf) for _ in range(60)), out)
    assert dechunker.taken == [0]
    assert b"".join(out) == crlf * 180
