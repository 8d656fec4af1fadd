"""EventSource's pure parts (backoff, Retry-After, error classes, arguments), the trace, and a
property: any chunking of any event list, served over a real socket, gives the same events."""

from __future__ import annotations

import io
import random
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from _sse_test_servers import Exchange, ScriptedServer, chunk, sse_head
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    ContentTypeError,
    EventTimeout,
    HTTPStatusError,
    InvalidURL,
    LimitExceeded,
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    TLSError,
    TooManyRedirects,
)
from reactsse.eventsource import EventSource, TextTrace, connect
from reactsse.eventsource.policy import is_retryable, parse_retry_after, reconnect_delay
from reactsse.eventsource.trace import excerpt
from reactsse.loop import StreamSelectLoop
from reactsse.sse import encode_event

# -- backoff -----------------------------------------------------------------------------------


def test_first_reconnect_after_an_open_stream_waits_exactly_retry() -> None:
    assert reconnect_delay(3.0, 0, 30.0, random.Random(1)) == 3.0


@given(
    retry=st.floats(min_value=0.001, max_value=120.0),
    failures=st.integers(min_value=1, max_value=200),
    cap=st.floats(min_value=0.0, max_value=300.0),
    seed=st.integers(),
)
def test_backoff_is_full_jitter_between_retry_and_the_capped_exponential(
    retry: float, failures: int, cap: float, seed: int
) -> None:
    delay = reconnect_delay(retry, failures, cap, random.Random(seed))
    ceiling = max(retry, min(cap, retry * 2.0 ** min(failures, 60)))
    assert retry <= delay <= ceiling


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    maxima = [max(reconnect_delay(1.0, n, 10.0, rng) for _ in range(300)) for n in (1, 2, 3, 6)]
    assert 1.8 < maxima[0] <= 2.0
    assert 3.5 < maxima[1] <= 4.0
    assert 7.0 < maxima[2] <= 8.0
    assert 9.0 < maxima[3] <= 10.0


def test_server_retry_above_the_cap_is_still_the_floor() -> None:
    assert reconnect_delay(60.0, 5, 30.0, random.Random(0)) == 60.0


# -- Retry-After -----------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == min(float(seconds), 86400.0)


def test_retry_after_http_date() -> None:
    now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc)
    future = now + timedelta(seconds=120)
    assert parse_retry_after(format_datetime(future, usegmt=True), now) == 120.0
    assert parse_retry_after("Sun, 06 Dec 2026 11:59:00 GMT", now) == 0.0  # in the past
    # Without now, the date is measured from the current time: one long past is 0, one far
    # ahead is capped.
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") == 86400.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "١٢", " +3"])
def test_retry_after_invalid(value: str | None) -> None:
    assert parse_retry_after(value) is None


@given(st.text(max_size=40))
def test_retry_after_never_crashes(value: str) -> None:
    delay = parse_retry_after(value)
    assert delay is None or 0.0 <= delay <= 86400.0


# -- which errors are retried ----------------------------------------------------------------


def _status(status: int) -> HTTPStatusError:
    return HTTPStatusError("x", url="http://h/", status=status)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (_status(408), True),
        (_status(429), True),
        (_status(500), True),
        (_status(503), True),
        (_status(599), True),
        (_status(400), False),
        (_status(401), False),
        (_status(404), False),
        (_status(201), False),
        (ContentTypeError("x", url="http://h/", status=200), False),
        (ConnectError("refused"), True),
        (ConnectionClosed("gone"), True),
        (TLSError("bad cert"), False),
        (ConnectTimeout("slow", timeout=1.0), True),
        (ReadTimeout("stall", timeout=1.0), True),
        (EventTimeout("quiet", timeout=1.0), True),
        (RemoteProtocolError("garbage"), False),
        (LimitExceeded("big", limit=1), False),
        (TooManyRedirects("loop"), False),
    ],
)
def test_retryable_errors(error: Exception, retryable: bool) -> None:
    assert is_retryable(error) is retryable


# -- arguments -------------------------------------------------------------------------------


@pytest.fixture
def loop() -> StreamSelectLoop:
    return StreamSelectLoop()


def test_bad_arguments_raise_at_once(loop: StreamSelectLoop) -> None:
    with pytest.raises(InvalidURL):
        EventSource("ftp://127.0.0.1/", loop=loop)
    with pytest.raises(LocalProtocolError):
        EventSource("http://127.0.0.1/", loop=loop, headers={"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="body or json"):
        EventSource("http://127.0.0.1/", loop=loop, body=b"x", json={})
    with pytest.raises(TypeError):
        EventSource("http://127.0.0.1/", loop=loop, json=object())
    with pytest.raises(InvalidURL):
        connect("not a url")
    for bad in ({"retry": -1.0}, {"read_timeout": 0.0}, {"event_timeout": float("nan")}):
        with pytest.raises(ValueError):
            EventSource("http://127.0.0.1/", loop=loop, **bad)
    with pytest.raises(ValueError):
        EventSource("http://127.0.0.1/", loop=loop, max_redirects=-1)
    loop.close()


# -- trace -----------------------------------------------------------------------------------


def test_text_trace_shows_each_layer_and_no_secret(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(("Set-Cookie", "session=topsecret")))
        ex.send_chunk(b": keep-alive\nid: 9\ndata: hello\n\n")
        ex.end_chunks()

    out = io.StringIO()
    with ScriptedServer(handler) as server:
        source = EventSource(
            server.url("/t?q=1&api_key=qsecret&x=2"),
            loop=loop,
            headers={"Authorization": "Bearer sk-verysecret", "X-Api-Key": "k-secret2"},
            body="{}",
            trace=TextTrace(out, width=None),
        )
        loop.run()
    loop.close()
    text = out.getvalue()
    assert source.ready_state.name == "CLOSED"
    for secret in ("sk-verysecret", "k-secret2", "topsecret", "qsecret"):
        assert secret not in text
    # Request: the query value and two headers; response: Set-Cookie in the read and the head.
    assert text.count("<redacted>") == 5
    for expected in (
        f"* conn   connecting to 127.0.0.1:{server.port} (TCP)",
        f"* conn   connected to 127.0.0.1:{server.port}\n",
        "> http   GET /t?q=1&api_key=<redacted>&x=2 HTTP/1.1",
        "> http   (2 bytes of body)",
        "< wire   read ",
        "Set-Cookie: <redacted>",
        "< http   HTTP/1.1 200 OK",
        "< http   chunk-size line b'20' (32 bytes follow)\n",
        "< http   chunk-size line b'0' (the last chunk)\n",
        "| sse    ': keep-alive'\n",
        "| sse    'id: 9'\n| sse    'data: hello'\n| sse    '' (empty line: dispatch)\n",
        "= event  'message', 5 chars of data, last_event_id '9'\n",
        "* source closed",
    ):
        assert expected in text, expected


def test_read_excerpts_redact_secret_headers() -> None:
    raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: s=topsecret\r\nContent-Type: text/event-stream\r\n"
    text = excerpt(raw, limit=60)
    assert "topsecret" not in text
    assert "Set-Cookie: <redacted>" in text
    assert excerpt(b"data: x\n\n") == "b'data: x\\n\\n'"


def test_trace_reports_reconnect_scheduling(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 10\nid: 5\ndata: x\n\n")
        ex.end_chunks()

    out = io.StringIO()
    with ScriptedServer(handler) as server:
        # A stream that stays open (here: any) resets the backoff: the wait is the server's 10 ms.
        source = EventSource(
            server.url(),
            loop=loop,
            trace=TextTrace(out),
            min_reconnect_delay=0.01,
            backoff_reset_after=0.0,
        )
        count = [0]

        def on_message(_event: object) -> None:
            count[0] += 1
            if count[0] == 2:
                source.close()

        source.on("message", on_message)
        loop.run()
    loop.close()
    assert "* source reconnecting in 0.010 s (ConnectionClosed: the server ended the stream)" in (
        out.getvalue()
    )
    assert "Last-Event-ID: '5'" in out.getvalue()


# -- property: any chunking, over a real socket, gives the same events -----------------------

_fields = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
    max_size=12,
)

# Data may hold LF (several data: lines); a CR would come back as LF, so it is left out here.
_data = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=30
)


@settings(max_examples=25, deadline=None)
@given(
    events=st.lists(
        st.tuples(_data, _fields, _fields),
        min_size=1,
        max_size=8,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12),
    gzip=st.booleans(),
)
def test_any_chunking_over_a_socket_gives_the_same_events(
    events: list[tuple[str, str, str]], cuts: list[int], gzip: bool
) -> None:
    from _sse_test_servers import gzip_stream

    body = b"".join(
        encode_event(data, event=etype or None, id=eid or None) for data, etype, eid in events
    )
    pieces, position = [], 0
    for cut in sorted(set(cuts)):
        if cut < len(body):
            pieces.append(body[position:cut])
            position = cut
    pieces.append(body[position:])
    pieces = [p for p in pieces if p]
    if gzip:
        pieces = [p for p in gzip_stream(pieces) if p]

    def handler(ex: Exchange) -> None:
        ex.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = sse_head(("Content-Encoding", "gzip")) if gzip else sse_head()
        ex.send_head(200, headers)
        for piece in pieces:
            ex.send(chunk(piece))
        ex.end_chunks()

    with ScriptedServer(handler) as server, connect(server.url(), reconnect=False) as stream:
        got = [(e.data, e.type) for e in stream]
    assert got == [(data, etype or "message") for data, etype, _ in events]
