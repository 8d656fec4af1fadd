"""EventSource against real servers on 127.0.0.1 (tests/_sse_test_servers.py), on StreamSelectLoop.

Every test is bounded: ``drive`` runs the loop until the source is CLOSED, and closes it (failing
the test) after a few seconds. Server-side retry values are tiny (``retry: 10``): the file is fast.
"""

from __future__ import annotations

import gc
import io
import random
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
import trustme
from _connector_helpers import refusing_port
from _sse_test_servers import Exchange, ScriptedServer, chunk, gzip_stream, sse_head

from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    ContentTypeError,
    EventTimeout,
    HTTPStatusError,
    LimitExceeded,
    ReactSSEError,
    ReadTimeout,
    RemoteProtocolError,
    TLSError,
    TooManyRedirects,
)
from reactsse.eventsource import EventSource, ReadyState, TextTrace, Trace
from reactsse.eventsource.policy import JITTER, reconnect_delay
from reactsse.loop import StreamSelectLoop, VirtualTimeLoop
from reactsse.sse import MessageEvent

# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[StreamSelectLoop]:
    created = StreamSelectLoop()
    yield created
    created.close()


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    """A loop on virtual time: timeouts and reconnect delays pass at once, to the exact tick.

    The threshold is the real time the loop waits for the test server's bytes before it decides
    it is idle and jumps to its next timer: generous, for a loaded machine."""
    created = VirtualTimeLoop(autojump_threshold=0.25)
    yield created
    created.close()


class Recorder:
    """Everything a source emitted, in order, with the ready_state seen at each error."""

    def __init__(self, source: EventSource, *, close_after: int | None = None) -> None:
        self.source = source
        self.log: list[str] = []
        self.events: list[MessageEvent] = []
        self.errors: list[ReactSSEError] = []
        self.error_states: list[ReadyState] = []
        self.close_after = close_after
        source.on("open", self._open)
        source.on("*", self._event)
        source.on("error", self._error)
        source.on("close", self._close)

    def _open(self) -> None:
        self.log.append("open")

    def _event(self, event: MessageEvent) -> None:
        self.log.append(f"event:{event.type}:{event.data}")
        self.events.append(event)
        if self.close_after is not None and len(self.events) >= self.close_after:
            self.source.close()

    def _error(self, error: ReactSSEError) -> None:
        self.log.append(f"error:{type(error).__name__}")
        self.errors.append(error)
        self.error_states.append(self.source.ready_state)

    def _close(self) -> None:
        self.log.append("close")

    @property
    def data(self) -> list[str]:
        return [event.data for event in self.events]


def drive(loop: StreamSelectLoop, source: EventSource, limit: float = 5.0) -> float:
    """Run ``loop`` until ``source`` is CLOSED; fail if that takes more than ``limit`` seconds.

    Returns the time it took on the loop's clock (virtual time on a ``VirtualTimeLoop``, where
    ``limit`` is virtual too: a check every few milliseconds would cost a jump each)."""
    started = time.monotonic()
    loop_started = loop.now()
    timed_out = False
    if isinstance(loop, VirtualTimeLoop):

        def give_up(_timer: object) -> None:
            nonlocal timed_out
            if source.ready_state is not ReadyState.CLOSED:
                timed_out = True
                source.close()

        guard = loop.add_timer(limit, give_up)
        source.add_done_callback(lambda: loop.cancel_timer(guard))
        loop.run()
        assert not timed_out, f"source did not close within {limit} virtual s"
        return loop.now() - loop_started

    def check(timer: object) -> None:
        nonlocal timed_out
        if source.ready_state is ReadyState.CLOSED:
            loop.cancel_timer(timer)  # type: ignore[arg-type]
        elif time.monotonic() - started > limit:
            timed_out = True
            source.close()
            loop.cancel_timer(timer)  # type: ignore[arg-type]

    loop.add_periodic_timer(0.005, check)
    loop.run()
    assert not timed_out, f"source did not close within {limit} s"
    return loop.now() - loop_started


def serve_events(body: bytes, *, chunked: bool = True) -> Callable[[Exchange], None]:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(chunked=chunked))
        if chunked:
            ex.send_chunk(body)
            ex.end_chunks()
        else:
            ex.send(body)

    return handler


# -- basic framing ---------------------------------------------------------------------------


def test_chunked_stream_events_open_and_clean_close_without_reconnect(
    loop: StreamSelectLoop,
) -> None:
    body = b"retry: 10\n\ndata: one\nid: 1\n\nevent: tick\ndata: two\n\n: ping\n\ndata: three\n\n"
    with ScriptedServer(serve_events(body)) as server:
        source = EventSource(server.url("/s"), loop=loop, reconnect=False)
        assert source.ready_state is ReadyState.CONNECTING
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == [
        "open",
        "event:message:one",
        "event:tick:two",
        "event:message:three",
        "close",
    ]
    assert [e.last_event_id for e in rec.events] == ["1", "1", "1"]
    assert source.last_event_id == "1"
    assert source.url == server.url("/s")
    request = server.requests[0]
    assert (request.method, request.target) == ("GET", "/s")
    assert request.header("accept") == "text/event-stream"
    assert request.header("last-event-id") is None


def test_content_length_body(loop: StreamSelectLoop) -> None:
    body = b"data: a\n\ndata: b\n\n"

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(("Content-Length", str(len(body))), chunked=False))
        ex.send(body)
        ex.wait_client_close(2.0)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["open", "event:message:a", "event:message:b", "close"]


def test_close_delimited_body(loop: StreamSelectLoop) -> None:
    with ScriptedServer(
        serve_events(b"data: a\n\ndata: b\n\ndata: unfinished", chunked=False)
    ) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    # WHATWG §9.2.6: the unterminated last block is discarded at end of stream.
    assert rec.log == ["open", "event:message:a", "event:message:b", "close"]


def test_server_drips_one_byte_at_a_time(loop: StreamSelectLoop) -> None:
    body = "data: héllo\r\ndata: wörld\r\n\r\nid: 7\ndata: 🎉\n\n".encode()

    def handler(ex: Exchange) -> None:
        ex.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ex.send_head(200, sse_head())
        for byte in body:
            ex.send_chunk(bytes([byte]))
            time.sleep(0.0005)
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["héllo\nwörld", "🎉"]
    assert rec.events[1].last_event_id == "7"


class RecordingTrace(Trace):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def socket_read(self, data: bytes) -> None:
        self.calls.append("read")

    def body(self, size: int, decoded_size: int) -> None:
        self.calls.append("body")


def test_all_body_bytes_of_one_read_reach_the_decoder_in_one_feed(loop: StreamSelectLoop) -> None:
    events = b"".join(chunk(b"data: %d\n\n" % i) for i in range(200))

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(events + b"0\r\n\r\n")  # 200 HTTP chunks in (very likely) few reads

    trace = RecordingTrace()
    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False, trace=trace)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == [str(i) for i in range(200)]
    # Never two body pieces for one read: each read's body bytes go to one feed() call.
    joined = "".join("r" if c == "read" else "b" for c in trace.calls)
    assert "bb" not in joined
    assert joined.count("b") < 200


# -- status codes and content type ---------------------------------------------------------------


def test_204_stops_for_good(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(204)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["close"]
    assert server.connection_count == 1


def test_404_fails_with_status_headers_and_body_without_reconnecting(
    loop: StreamSelectLoop,
) -> None:
    def handler(ex: Exchange) -> None:
        body = b'{"error": "no such stream"}'
        ex.send_head(
            404, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        ex.send(body)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url("/missing"), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["error:HTTPStatusError", "close"]
    assert rec.error_states == [ReadyState.CLOSED]
    error = rec.errors[0]
    assert isinstance(error, HTTPStatusError)
    assert error.status == 404
    assert error.body == '{"error": "no such stream"}'
    assert error.url == server.url("/missing")
    assert ("content-type", "application/json") in error.headers
    assert "404" in str(error) and "no such stream" in str(error)
    assert server.connection_count == 1


def test_error_body_is_bounded_to_64_kib_and_the_wait_is_bounded(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(403, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        ex.send_chunk(b"x" * 100_000)
        ex.stall()  # never ends the body: the 64 KiB bound ends the wait

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop)
        rec = Recorder(source)
        drive(loop, source)
    error = rec.errors[0]
    assert isinstance(error, HTTPStatusError)
    assert len(error.body) == 64 * 1024


def test_500_then_retry_then_stream(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        if ex.index == 0:
            ex.send_head(500, [("Content-Length", "4")])
            ex.send(b"oops")
        else:
            ex.send_head(200, sse_head())
            ex.send_chunk(b"data: ok\n\n")
            ex.end_chunks()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source, close_after=1)
        drive(loop, source)
    assert rec.log == ["error:HTTPStatusError", "open", "event:message:ok"]
    assert rec.error_states == [ReadyState.CONNECTING]
    assert isinstance(rec.errors[0], HTTPStatusError) and rec.errors[0].body == "oops"


class DelayTrace(Trace):
    """Records each scheduled delay, and the loop's time of it and of each connection attempt."""

    def __init__(self, loop: StreamSelectLoop) -> None:
        self.loop = loop
        self.delays: list[float] = []
        self.scheduled_at: list[float] = []
        self.connecting_at: list[float] = []

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        self.delays.append(delay)
        self.scheduled_at.append(self.loop.now())

    def connecting(self, host: str, port: int, tls: bool) -> None:
        self.connecting_at.append(self.loop.now())


def test_429_honours_retry_after_seconds(vloop: VirtualTimeLoop) -> None:
    loop = vloop

    def handler(ex: Exchange) -> None:
        if ex.index == 0:
            ex.send_head(429, [("Retry-After", "1"), ("Content-Length", "0")])
        else:
            ex.send_head(200, sse_head())
            ex.send_chunk(b"data: ok\n\n")
            ex.stall()

    trace = DelayTrace(loop)
    # Retry-After is the floor of the backoff instead of retry (10 s): the first failure's wait
    # is drawn between 1 s and 2 s, exactly as the policy draws it from the same seed.
    JITTER.seed(15)
    expected = reconnect_delay(1.0, 1, 30.0, random.Random(15))
    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=10.0, trace=trace)
        rec = Recorder(source, close_after=1)
        drive(loop, source, limit=60.0)
    assert trace.delays == [expected]
    assert 1.0 <= expected <= 2.0
    assert rec.data == ["ok"]
    assert len(trace.connecting_at) == 2
    assert trace.connecting_at[1] - trace.scheduled_at[0] == pytest.approx(expected, abs=1e-9)


def test_wrong_content_type_fails_with_body(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "13")])
        ex.send(b"<html></html>")

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    error = rec.errors[0]
    assert isinstance(error, ContentTypeError)
    assert error.status == 200 and error.body == "<html></html>"
    assert "text/html" in str(error)
    assert server.connection_count == 1


def test_content_type_with_parameters_is_accepted(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, [("Content-Type", "Text/Event-Stream; charset=utf-8")])
        ex.send(b"data: ok\n\n")

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["ok"]


# -- redirects -----------------------------------------------------------------------------------


def test_redirect_chain_is_followed(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        if ex.request.target == "/a":
            ex.send_head(301, [("Location", "/b"), ("Content-Length", "0")])
        elif ex.request.target == "/b":
            ex.send_head(302, [("Location", f"http://127.0.0.1:{ex.server.port}/c?x=1")])
        else:
            serve_events(b"data: at %s\n\n" % ex.request.target.encode())(ex)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url("/a"), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["at /c?x=1"]
    assert [r.target for r in server.requests] == ["/a", "/b", "/c?x=1"]
    assert source.url == server.url("/a")


def test_redirect_loop_is_detected(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        target = "/b" if ex.request.target == "/a" else "/a"
        ex.send_head(307, [("Location", target), ("Content-Length", "0")])

    with ScriptedServer(handler) as server:
        source = EventSource(server.url("/a"), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["error:TooManyRedirects", "close"]
    assert "loop" in str(rec.errors[0])
    assert len(server.requests) == 2


def test_too_many_redirects(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        n = int(ex.request.target.strip("/") or 0)
        ex.send_head(302, [("Location", f"/{n + 1}"), ("Content-Length", "0")])

    with ScriptedServer(handler) as server:
        source = EventSource(server.url("/0"), loop=loop, max_redirects=3)
        rec = Recorder(source)
        drive(loop, source)
    assert isinstance(rec.errors[0], TooManyRedirects)
    assert len(server.requests) == 4  # the original request and three redirects


def test_cross_origin_redirect_drops_authorization_and_cookie(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"data: there\n\n")) as target:
        location = target.url("/there", host="localhost")  # another origin: another host name

        def handler(ex: Exchange) -> None:
            ex.send_head(302, [("Location", location), ("Content-Length", "0")])

        with ScriptedServer(handler) as origin:
            headers = {"Authorization": "Bearer s3cret", "Cookie": "a=b", "X-Keep": "yes"}
            source = EventSource(origin.url(), loop=loop, headers=headers, reconnect=False)
            rec = Recorder(source)
            drive(loop, source)
    assert rec.data == ["there"]
    first, second = origin.requests[0], target.requests[0]
    assert first.header("authorization") == "Bearer s3cret" and first.header("cookie") == "a=b"
    assert second.header("authorization") is None and second.header("cookie") is None
    assert second.header("x-keep") == "yes"


def test_same_origin_redirect_keeps_authorization(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        if ex.request.target == "/a":
            ex.send_head(302, [("Location", "/b"), ("Content-Length", "0")])
        else:
            serve_events(b"data: x\n\n")(ex)

    with ScriptedServer(handler) as server:
        source = EventSource(
            server.url("/a"), loop=loop, headers=[("Authorization", "t")], reconnect=False
        )
        Recorder(source)
        drive(loop, source)
    assert server.requests[1].header("authorization") == "t"


@pytest.mark.parametrize(
    ("status", "method", "kept"),
    [
        (303, "POST", False),
        (301, "POST", False),
        (302, "POST", False),
        (307, "POST", True),
        (308, "PUT", True),
    ],
)
def test_redirect_method_and_body_rules(
    loop: StreamSelectLoop, status: int, method: str, kept: bool
) -> None:
    def handler(ex: Exchange) -> None:
        if ex.request.target == "/a":
            ex.send_head(status, [("Location", "/b"), ("Content-Length", "0")])
        else:
            serve_events(b"data: x\n\n")(ex)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url("/a"), loop=loop, method=method, json={"q": 1})
        Recorder(source)
        drive(loop, source)
    first, second = server.requests
    assert (first.method, first.body) == (method, b'{"q":1}')
    if kept:
        assert (second.method, second.body) == (method, b'{"q":1}')
        assert second.header("content-type") == "application/json"
    else:
        assert (second.method, second.body) == ("GET", b"")
        assert second.header("content-type") is None


# -- gzip -------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_stream_is_decoded_incrementally(loop: StreamSelectLoop, coding: str) -> None:
    parts = [b"data: %d\n\n" % i for i in range(5)]
    seen_before_end: list[str] = []
    gate = threading.Event()
    seen_in_time: list[bool] = []

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(("Content-Encoding", coding)))
        pieces = gzip_stream(parts, coding=coding)
        for piece in pieces[:-1]:
            ex.send_chunk(piece)
        # The client must see every event before the compressed stream ends.
        seen_in_time.append(gate.wait(3.0))
        ex.send_chunk(pieces[-1])
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)

        def on_message(event: MessageEvent) -> None:
            seen_before_end.append(event.data)
            if len(seen_before_end) == 5:
                gate.set()

        source.on("message", on_message)
        drive(loop, source)
    assert rec.data == ["0", "1", "2", "3", "4"]
    assert seen_in_time == [True]
    assert server.requests[0].header("accept-encoding") is None


# -- reconnection --------------------------------------------------------------------------------


def test_reconnect_sends_last_event_id_and_loses_or_repeats_nothing(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        start = int(ex.request.header("last-event-id") or 0) + 1
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 10\n\n")
        for n in range(start, min(start + 3, 11)):
            ex.send_chunk(b"id: %d\ndata: event %d\n\n" % (n, n))
        # then drop the connection: three times cleanly, every fourth time abruptly
        if ex.index % 4 == 3:
            ex.reset()
        else:
            ex.end_chunks()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=5.0)
        rec = Recorder(source, close_after=10)
        drive(loop, source)
    assert rec.data == [f"event {n}" for n in range(1, 11)]
    sent_ids = [r.header("last-event-id") for r in server.requests]
    assert sent_ids == [None, "3", "6", "9"]
    assert rec.log.count("open") == 4
    assert all(state is ReadyState.CONNECTING for state in rec.error_states)


def test_last_event_id_option_seeds_the_first_request(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"data: x\n\n")) as server:
        source = EventSource(server.url(), loop=loop, last_event_id="41", reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert server.requests[0].header("last-event-id") == "41"
    assert rec.events[0].last_event_id == "41"


def test_body_request_is_not_resent_unless_opted_in(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"retry: 10\ndata: x\n\n")) as server:
        source = EventSource(server.url(), loop=loop, method="POST", body="hello")
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["open", "event:message:x", "close"]
    assert server.connection_count == 1


def test_body_request_is_resent_with_reconnect_with_body(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"retry: 10\ndata: x\n\n")) as server:
        source = EventSource(
            server.url(), loop=loop, method="POST", body=b"hello", reconnect_with_body=True
        )
        rec = Recorder(source, close_after=2)
        drive(loop, source)
    assert rec.data == ["x", "x"]
    assert [(r.method, r.body) for r in server.requests] == [("POST", b"hello")] * 2


def test_refused_connection_is_retried_then_fatal_after_max_retries(loop: StreamSelectLoop) -> None:
    trace = DelayTrace(loop)
    with refusing_port() as port:
        source = EventSource(
            f"http://127.0.0.1:{port}/",
            loop=loop,
            retry=0.01,
            min_reconnect_delay=0.01,
            max_retries=2,
            trace=trace,
        )
        rec = Recorder(source)
        drive(loop, source)
    assert [type(e) for e in rec.errors] == [ConnectError] * 3
    assert rec.error_states == [ReadyState.CONNECTING, ReadyState.CONNECTING, ReadyState.CLOSED]
    assert rec.log[-1] == "close"
    assert len(trace.delays) == 2
    assert 0.01 <= trace.delays[0] <= 0.02 and 0.01 <= trace.delays[1] <= 0.04


def test_open_resets_the_failure_count(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        if ex.index % 2 == 0:
            ex.send_head(503, [("Content-Length", "0")])
        else:
            serve_events(b"data: %d\n\n" % ex.index)(ex)

    with ScriptedServer(handler) as server:
        # max_retries=1: one failure in a row is retried; opening in between resets the count.
        source = EventSource(server.url(), loop=loop, retry=0.01, max_retries=1)
        rec = Recorder(source, close_after=3)
        drive(loop, source)
    assert rec.data == ["1", "3", "5"]


# -- timeouts ------------------------------------------------------------------------------------


def test_read_timeout_fires_when_the_server_stalls(vloop: VirtualTimeLoop) -> None:
    loop = vloop

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: first\n\n")
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, read_timeout=0.2, reconnect=False)
        rec = Recorder(source)
        times: dict[str, float] = {}
        source.on("message", lambda _event: times.setdefault("event", loop.now()))
        source.on("error", lambda _error: times.setdefault("error", loop.now()))
        drive(loop, source)
    assert rec.log == ["open", "event:message:first", "error:ReadTimeout", "close"]
    error = rec.errors[0]
    assert isinstance(error, ReadTimeout) and error.timeout == 0.2
    # The last byte came with the event: the timeout is 0.2 s after it, to the tick.
    assert times["error"] - times["event"] == pytest.approx(0.2, abs=1e-9)


def test_read_timeout_also_covers_waiting_for_the_head(loop: StreamSelectLoop) -> None:
    with ScriptedServer(lambda ex: ex.stall()) as server:
        source = EventSource(server.url(), loop=loop, read_timeout=0.1, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert isinstance(rec.errors[0], ReadTimeout)


def test_event_timeout_ignores_keep_alive_comments(vloop: VirtualTimeLoop) -> None:
    loop = vloop
    tick = threading.Semaphore(0)

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: first\n\n")
        # A comment each time the loop's clock says 0.1 s passed: bytes flow, events do not.
        while not ex.server.stopping.is_set():
            if tick.acquire(timeout=0.05):
                ex.send_chunk(b": keep-alive\n\n")

    with ScriptedServer(handler) as server:
        # read_timeout is 5 comment periods: only the event timeout can end this stream.
        source = EventSource(
            server.url(), loop=loop, read_timeout=0.5, event_timeout=0.8, reconnect=False
        )
        rec = Recorder(source)
        times: dict[str, float] = {}
        source.on("open", lambda: loop.add_periodic_timer(0.1, lambda timer: tick.release()))
        source.on("message", lambda _event: times.setdefault("event", loop.now()))
        source.on("error", lambda _error: times.setdefault("error", loop.now()))
        source.on("close", loop.stop)  # the periodic timer would keep the loop running
        drive(loop, source)
    assert rec.log == ["open", "event:message:first", "error:EventTimeout", "close"]
    assert isinstance(rec.errors[0], EventTimeout)
    assert times["error"] - times["event"] == pytest.approx(0.8, abs=1e-9)


def test_event_timeout_reconnects_by_default(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 10\nid: %d\ndata: x\n\n" % ex.index)
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, event_timeout=0.1)
        rec = Recorder(source, close_after=2)
        drive(loop, source)
    assert rec.log == ["open", "event:message:x", "error:EventTimeout", "open", "event:message:x"]
    assert server.requests[1].header("last-event-id") == "0"


def test_connect_timeout_with_a_tls_server_that_never_handshakes(loop: StreamSelectLoop) -> None:
    with ScriptedServer(lambda ex: ex.stall(), read_request=False) as server:
        url = server.url().replace("http:", "https:")
        source = EventSource(url, loop=loop, connect_timeout=0.2, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert isinstance(rec.errors[0], ConnectTimeout)


# -- limits and malformed input ------------------------------------------------------------------


def test_endless_line_hits_the_limit_with_bounded_memory(loop: StreamSelectLoop) -> None:
    sent = [0]

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: ok\n\ndata: ")
        block = chunk(b"x" * 65536)
        while sent[0] < 20 * 1024 * 1024 and not ex.server.stopping.is_set():
            ex.send(block)  # raises once the client has closed: the handler ends
            sent[0] += 65536

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, max_event_size=1024 * 1024)
        rec = Recorder(source)
        tracemalloc.start()
        try:
            drive(loop, source, limit=10.0)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rec.log == ["open", "event:message:ok", "error:EventTooLarge", "close"]
    error = rec.errors[0]
    assert isinstance(error, LimitExceeded) and error.limit == 1024 * 1024
    assert peak < 6 * 1024 * 1024, f"peak {peak} bytes"
    assert sent[0] < 20 * 1024 * 1024  # the client closed long before the 20 MB were sent


def test_malformed_chunk_size_is_a_clear_fatal_error(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(b"a\r\ndata: ok\n\n\r\nzz\r\nnope\r\n")
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["ok"]
    assert isinstance(rec.errors[0], RemoteProtocolError)
    assert rec.error_states == [ReadyState.CLOSED]
    assert server.connection_count == 1


def test_events_before_corrupt_gzip_in_the_same_read_are_delivered(loop: StreamSelectLoop) -> None:
    """Valid gzip data holding whole events, then corrupt bytes, in one chunk and one read: the
    events arrive, then the decoding error, at once (the server stalls: no later read)."""

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(("Content-Encoding", "gzip")))
        valid = b"".join(gzip_stream([b"data: one\n\n", b"data: two\n\n"])[:-1])
        ex.send(chunk(valid + b"\xff" * 16))
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["one", "two"]
    assert isinstance(rec.errors[0], RemoteProtocolError)
    assert "gzip" in str(rec.errors[0])
    assert rec.error_states == [ReadyState.CLOSED]
    assert server.connection_count == 1


def test_garbage_instead_of_http_is_a_clear_fatal_error(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert isinstance(rec.errors[0], RemoteProtocolError)
    assert rec.log == ["error:RemoteProtocolError", "close"]


def test_eof_in_the_middle_of_a_chunk_reconnects(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(chunk(b"retry: 10\nid: %d\ndata: x\n\n" % ex.index) + b"ff\r\ndata: half")

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop)
        rec = Recorder(source, close_after=2)
        drive(loop, source)
    assert isinstance(rec.errors[0], ConnectionClosed)
    assert rec.data == ["x", "x"]


# -- named events, listeners -----------------------------------------------------------------------


def test_typed_listeners_and_reserved_names(loop: StreamSelectLoop) -> None:
    body = b"data: m\n\nevent: add\ndata: a\n\nevent: error\ndata: e\n\nevent: open\ndata: o\n\n"
    with ScriptedServer(serve_events(body)) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        got: list[str] = []
        errors: list[ReactSSEError] = []
        opens: list[int] = []
        source.on("message", lambda e: got.append("message:" + e.data))
        source.on("add", lambda e: got.append("add:" + e.data))
        source.on("error", errors.append)
        source.on("open", lambda: opens.append(1))
        rec = Recorder(source)
        drive(loop, source)
    assert got == ["message:m", "add:a"]
    assert errors == [] and opens == [1]
    assert [e.type for e in rec.events] == ["message", "add", "error", "open"]


def test_remove_listener(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"data: 1\n\ndata: 2\n\n")) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        got: list[str] = []

        def first(event: MessageEvent) -> None:
            got.append("first:" + event.data)
            source.remove_listener("message", first)

        def second(event: MessageEvent) -> None:
            got.append("second:" + event.data)

        source.on("message", first)
        source.on("message", second)
        source.remove_listener("message", lambda e: None)  # unknown: ignored
        source.remove_listener("nothing", second)
        drive(loop, source)
    assert got == ["first:1", "second:1", "second:2"]


def test_batch_listener_alone_gets_a_whole_read_in_one_call(loop: StreamSelectLoop) -> None:
    body = b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(20))
    with ScriptedServer(serve_events(body)) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        calls: list[list[str]] = []
        source.on_batch(lambda events: calls.append([e.data for e in events]))
        drive(loop, source)
    assert [data for call in calls for data in call] == [str(i) for i in range(20)]
    assert len(calls) <= 2  # one chunk, one send: one read (two if TCP splits it)


def test_batch_listener_with_other_listeners_gets_one_event_per_call_in_order(
    loop: StreamSelectLoop,
) -> None:
    body = b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
    with ScriptedServer(serve_events(body)) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        log: list[str] = []

        def batch(events: list[MessageEvent]) -> None:
            log.append("batch:" + ",".join(e.data for e in events))

        def gone(events: list[MessageEvent]) -> None:
            log.append("removed batch listener called")

        source.on("message", lambda e: log.append("message:" + e.data))
        source.on_batch(batch)
        source.on_batch(gone)
        source.remove_batch_listener(gone)

        def every(event: MessageEvent) -> None:
            log.append("*:" + event.data)
            if event.data == "2":
                source.close()

        source.on("*", every)
        done: list[str] = []
        source.add_done_callback(lambda: done.append(source.ready_state.name))
        drive(loop, source)
    # Typed first, then "*" and batch listeners in registration order; close() stops the rest.
    assert log == ["message:1", "batch:1", "*:1", "message:2", "batch:2", "*:2"]
    assert done == ["CLOSED"]  # unlike the "close" event, it runs after close() too


# -- close() at every moment ---------------------------------------------------------------------


def test_close_inside_a_listener_stops_everything_at_once(loop: StreamSelectLoop) -> None:
    body = b"data: 1\n\ndata: 2\n\ndata: 3\n\n"

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(body)  # three events in one read
        ex.wait_client_close(5.0)

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop)
        rec = Recorder(source)
        seen: list[str] = []

        def closer(event: MessageEvent) -> None:
            seen.append(event.data)
            source.close()

        source.on("message", closer)
        elapsed = drive(loop, source)
    assert seen == ["1"]
    assert rec.log == ["open"]  # "*" listeners run after the typed ones: not called after close()
    assert elapsed < 2.0


def test_close_while_connecting_before_the_loop_runs(loop: StreamSelectLoop) -> None:
    with ScriptedServer(lambda ex: ex.stall()) as server:
        source = EventSource(server.url(), loop=loop)
        rec = Recorder(source)
        source.close()
        source.close()  # idempotent
        started = time.monotonic()
        loop.run()  # nothing left: returns at once
        assert time.monotonic() - started < 1.0
    assert rec.log == []
    assert source.ready_state is ReadyState.CLOSED


def test_close_while_resolving_a_name(loop: StreamSelectLoop) -> None:
    with ScriptedServer(lambda ex: ex.stall()) as server:
        source = EventSource(server.url(host="localhost"), loop=loop)
        rec = Recorder(source)
        loop.future_tick(source.close)
        drive(loop, source)
    assert rec.log == []


def test_close_during_the_tls_handshake(loop: StreamSelectLoop) -> None:
    accepted = threading.Event()

    def handler(ex: Exchange) -> None:
        accepted.set()
        ex.stall()

    with ScriptedServer(handler, read_request=False) as server:
        url = server.url().replace("http:", "https:")
        source = EventSource(url, loop=loop)
        rec = Recorder(source)

        def poll(timer: object) -> None:
            if accepted.is_set():
                loop.cancel_timer(timer)  # type: ignore[arg-type]
                source.close()

        loop.add_periodic_timer(0.005, poll)
        elapsed = drive(loop, source)
    assert rec.log == [] and elapsed < 2.0


def test_close_while_waiting_to_reconnect(vloop: VirtualTimeLoop) -> None:
    loop = vloop
    with ScriptedServer(serve_events(b"data: x\n\n")) as server:
        source = EventSource(server.url(), loop=loop, retry=30.0)
        rec = Recorder(source)

        times: dict[str, float] = {}

        def on_error(error: ReactSSEError) -> None:
            assert source.ready_state is ReadyState.CONNECTING  # the reconnect timer is armed
            times["error"] = loop.now()
            loop.future_tick(source.close)

        source.on("error", on_error)
        source.add_done_callback(lambda: times.setdefault("closed", loop.now()))
        drive(loop, source, limit=60.0)
    assert rec.log == ["open", "event:message:x", "error:ConnectionClosed"]
    assert times["closed"] == times["error"]  # did not wait the 30 s, not even a tick
    assert server.connection_count == 1


def test_close_from_error_listener_suppresses_close_event(loop: StreamSelectLoop) -> None:
    with ScriptedServer(lambda ex: ex.send_head(404, [("Content-Length", "0")])) as server:
        source = EventSource(server.url(), loop=loop)
        closes: list[int] = []
        source.on("error", lambda e: source.close())
        source.on("close", lambda: closes.append(1))
        drive(loop, source)
    assert closes == []


# -- TLS, IPv6 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def _client_context(ca: trustme.CA | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca is not None:
        ca.configure_trust(context)
    return context


def test_tls_with_a_trusted_certificate(loop: StreamSelectLoop, ca: trustme.CA) -> None:
    server_context = _tls_server_context(ca, "127.0.0.1")
    out = io.StringIO()
    with ScriptedServer(serve_events(b"data: secure\n\n"), ssl_context=server_context) as server:
        source = EventSource(
            server.url(),
            loop=loop,
            ssl_context=_client_context(ca),
            reconnect=False,
            trace=TextTrace(out),
        )
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["secure"]
    assert f"* conn   connecting to 127.0.0.1:{server.port} (TLS)" in out.getvalue()
    assert f"* conn   connected to 127.0.0.1:{server.port} (TLSv1." in out.getvalue()


def test_tls_wrong_host_fails_clearly(loop: StreamSelectLoop, ca: trustme.CA) -> None:
    server_context = _tls_server_context(ca, "example.org")
    with ScriptedServer(serve_events(b"data: x\n\n"), ssl_context=server_context) as server:
        source = EventSource(server.url(), loop=loop, ssl_context=_client_context(ca), retry=0.01)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["error:TLSError", "close"]  # fatal: no reconnect for a bad certificate
    message = str(rec.errors[0]).lower()
    assert "mismatch" in message or "hostname" in message or "127.0.0.1" in message


def test_tls_untrusted_certificate_fails_clearly(loop: StreamSelectLoop, ca: trustme.CA) -> None:
    server_context = _tls_server_context(ca, "127.0.0.1")
    with ScriptedServer(serve_events(b"data: x\n\n"), ssl_context=server_context) as server:
        source = EventSource(server.url(), loop=loop, ssl_context=_client_context(None))
        rec = Recorder(source)
        drive(loop, source)
    assert isinstance(rec.errors[0], TLSError)
    assert (
        "verify failed" in str(rec.errors[0]).lower() or "certificate" in str(rec.errors[0]).lower()
    )


def _has_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"data: six\n\n"), family=socket.AF_INET6) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.data == ["six"]
    assert server.requests[0].header("host") == f"[::1]:{server.port}"


def test_default_loop_is_the_facade_loop() -> None:
    from reactsse.loop.facade import Loop

    # The facade's loop is process-wide and Loop.get() registers an autorun at exit: start from
    # none, and leave none behind (nor an autorun that would run a loop when pytest exits).
    Loop._reset()
    errors: list[ReactSSEError] = []
    with refusing_port() as port:
        source = EventSource(f"http://127.0.0.1:{port}/", connect_timeout=1.0, reconnect=False)
        source.on("error", errors.append)
        default = Loop.get()
        try:
            assert isinstance(default, StreamSelectLoop)  # created by get(): ours to close
            # The source connects on that loop: running it (and nothing else) brings the failure.
            guard = default.add_timer(10.0, lambda _timer: default.stop())
            source.add_done_callback(lambda: default.cancel_timer(guard))
            default.run()
            assert source.ready_state is ReadyState.CLOSED
            assert len(errors) == 1 and isinstance(errors[0], (ConnectError, ConnectTimeout))
        finally:
            source.close()
            Loop._reset()
            default.close()
    gc.collect()


def test_last_event_id_replaces_a_stale_user_header_on_reconnect(loop: StreamSelectLoop) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 10\nid: new%d\ndata: x\n\n" % ex.index)
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, headers={"last-event-id": "user"})
        Recorder(source, close_after=2)
        drive(loop, source)
    assert [r.header("last-event-id") for r in server.requests] == ["user", "new0"]


def test_error_body_wait_is_bounded_by_the_read_timeout(vloop: VirtualTimeLoop) -> None:
    loop = vloop

    def handler(ex: Exchange) -> None:
        ex.send_head(403, [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        ex.send_chunk(b"forbidden")
        ex.stall()  # the body never ends

    with ScriptedServer(handler) as server:
        trace = HeadTimeTrace(loop)
        source = EventSource(server.url(), loop=loop, read_timeout=0.2, trace=trace)
        rec = Recorder(source)
        times: dict[str, float] = {}
        source.on("error", lambda _error: times.setdefault("error", loop.now()))
        drive(loop, source, limit=60.0)
    error = rec.errors[0]
    assert isinstance(error, HTTPStatusError) and error.body == "forbidden"
    # Not the 5 s an error body may take at most: the read timeout, to the tick.
    assert times["error"] - trace.last_read_at == pytest.approx(0.2, abs=1e-9)


class HeadTimeTrace(Trace):
    """Records the loop's time of the last socket read."""

    def __init__(self, loop: StreamSelectLoop) -> None:
        self.loop = loop
        self.last_read_at = 0.0

    def socket_read(self, data: bytes | memoryview) -> None:
        self.last_read_at = self.loop.now()


def test_close_inside_the_open_listener(loop: StreamSelectLoop) -> None:
    with ScriptedServer(serve_events(b"data: never seen\n\n")) as server:
        source = EventSource(server.url(), loop=loop)
        states: list[ReadyState] = []

        def on_open() -> None:
            states.append(source.ready_state)
            source.close()

        source.on("open", on_open)
        rec = Recorder(source)
        drive(loop, source)
    assert states == [ReadyState.OPEN]
    assert rec.log == []  # the Recorder's open listener came after: not called


def test_events_before_an_oversized_line_in_the_same_read_are_delivered(
    loop: StreamSelectLoop,
) -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: a\n\ndata: b\n\ndata: " + b"x" * 5000 + b"\n\n")  # one read
        ex.stall()

    with ScriptedServer(handler) as server:
        source = EventSource(server.url(), loop=loop, max_event_size=1000)
        rec = Recorder(source)
        drive(loop, source)
    assert rec.log == ["open", "event:message:a", "event:message:b", "error:EventTooLarge", "close"]
