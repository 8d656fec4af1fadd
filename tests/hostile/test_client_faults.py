"""Hostile servers against the client's faults: broken connections, framing and limits, statuses,
redirects, TLS certificates, HTTP/1.0, and a server that closes after every few events.

Each case starts its own server on 127.0.0.1 (a thread per connection, ``ScriptedServer``, or
one on the loop, ``LoopServer``), runs one ``EventSource`` with a guard timer (nothing hangs),
and checks the error's class and message, or the recovery; every event sent before the fault is
delivered exactly once.
"""

from __future__ import annotations

import datetime
import random
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import trustme
from _sse_test_servers import Exchange, ScriptedServer, chunk, sse_head

from hostile._loop_server import LoopConnection, LoopServer
from reactsse.errors import (
    ConnectionClosed,
    ContentTypeError,
    EventTooLarge,
    HTTPStatusError,
    LimitExceeded,
    ReactSSEError,
    RemoteProtocolError,
    TLSError,
    TooManyRedirects,
    TransportError,
)
from reactsse.eventsource import EventSource, ReadyState, Trace
from reactsse.eventsource.policy import JITTER, reconnect_delay
from reactsse.loop import StreamSelectLoop, TimerInterface, VirtualTimeLoop

Observed = Callable[[str], None]
GUARD = 10.0  # real seconds: no case runs longer


@dataclass
class Outcome:
    """What a source emitted: the events' data, the errors (and the ready_state at each)."""

    data: list[str] = field(default_factory=list)
    errors: list[ReactSSEError] = field(default_factory=list)
    states: list[ReadyState] = field(default_factory=list)
    closed: bool = False

    @property
    def fatal(self) -> ReactSSEError:
        assert self.states[-1] is ReadyState.CLOSED, self.states
        return self.errors[-1]


def run(
    url: str,
    loop: StreamSelectLoop | None = None,
    *,
    stop_after: int | None = None,
    **options: object,
) -> Outcome:
    """One source on ``url`` until it closes (or ``stop_after`` events); bounded by GUARD."""
    own = loop is None
    loop = StreamSelectLoop() if loop is None else loop
    outcome = Outcome()
    source = EventSource(url, loop=loop, **options)

    def on_message(event: object) -> None:
        outcome.data.append(event.data)
        if stop_after is not None and len(outcome.data) >= stop_after:
            source.close()
            loop.stop()

    def on_error(error: ReactSSEError) -> None:
        outcome.errors.append(error)
        outcome.states.append(source.ready_state)

    def on_close() -> None:
        outcome.closed = True
        loop.stop()

    def guard(_timer: TimerInterface) -> None:
        source.close()
        loop.stop()

    source.on("message", on_message)
    source.on("error", on_error)
    source.on("close", on_close)
    started = time.monotonic()
    # On a given (virtual) loop the guard is in virtual time: a day; pytest-timeout bounds the rest.
    timer = loop.add_timer(GUARD if own else 86400.0, guard)
    if source.ready_state is not ReadyState.CLOSED:
        loop.run()
    loop.cancel_timer(timer)
    source.close()
    if own:
        loop.close()
    assert time.monotonic() - started < GUARD + 5
    return outcome


def serve(handler: Callable[[Exchange], None]) -> ScriptedServer:
    return ScriptedServer(handler)


# -- connections reset mid-way -------------------------------------------------------------------


def test_reset_mid_head(observed: Observed) -> None:
    """The server resets the connection in the middle of the response head.

    Expected: a TransportError (ConnectionClosed) from the HTTP layer, fatal with reconnect off;
    no event, no ``open``.
    """

    def handler(ex: Exchange) -> None:
        ex.send(b"HTTP/1.1 200 OK\r\nContent-Ty")
        time.sleep(0.2)
        ex.reset()

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert isinstance(outcome.fatal, TransportError)
    assert outcome.data == []
    observed(type(outcome.fatal).__name__)


def test_reset_mid_chunk(observed: Observed) -> None:
    """The server resets the connection inside a chunk, after a complete event.

    Expected: the complete event, then ConnectionClosed; fatal with reconnect off.
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(chunk(b"data: 1\n\n") + b"40\r\ndata: 2")
        time.sleep(0.2)
        ex.reset()

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert outcome.data == ["1"]
    assert isinstance(outcome.fatal, ConnectionClosed)
    observed(f"['1'], then {type(outcome.fatal).__name__}")


def test_reset_mid_event(observed: Observed) -> None:
    """The server resets the connection in the middle of an event (the chunk is complete).

    Expected: the complete event before it, never the partial one; ConnectionClosed.
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: 1\n\ndata: par")
        time.sleep(0.2)
        ex.reset()

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert outcome.data == ["1"]
    assert isinstance(outcome.fatal, ConnectionClosed)
    observed(f"['1'], then {type(outcome.fatal).__name__}")


# -- framing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size_line",
    [b"zz\r\n", b"-1\r\n", b"1 0\r\n", b"ffffffffffffffffffffffffffff\r\n", b"0x10\r\n"],
    ids=["not-hex", "negative", "space", "overflow", "0x-prefix"],
)
def test_bad_chunk_size(size_line: bytes, observed: Observed) -> None:
    """A chunk-size line that is not a chunk size, after a good chunk.

    Expected: the good chunk's event, then RemoteProtocolError (fatal: garbage does not heal).
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(chunk(b"data: 1\n\n") + size_line + b"data: 2\n\n\r\n")
        ex.stall(5.0)

    with serve(handler) as server:
        outcome = run(server.url())
    assert outcome.data == ["1"]
    assert isinstance(outcome.fatal, RemoteProtocolError)
    assert len(outcome.errors) == 1
    observed(f"['1'], then {type(outcome.fatal).__name__}")


def test_short_content_length(observed: Observed) -> None:
    """``Content-Length: 100``, but 9 bytes (one event) and the server closes.

    Expected: the event, then ConnectionClosed "before the response was complete".
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, [("Content-Type", "text/event-stream"), ("Content-Length", "100")])
        ex.send(b"data: 1\n\n")

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert outcome.data == ["1"]
    assert isinstance(outcome.fatal, ConnectionClosed)
    assert "before the response was complete" in str(outcome.fatal)
    observed(f"['1'], then {type(outcome.fatal).__name__}")


def test_long_content_length(observed: Observed) -> None:
    """``Content-Length: 9``, but the server sends two events (18 bytes) in one write.

    Expected: only the 9 bytes of the body count: one event, then a clean end (no error with
    reconnect off); the extra bytes are never taken for events.
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, [("Content-Type", "text/event-stream"), ("Content-Length", "9")])
        ex.send(b"data: 1\n\ndata: 2\n\n")
        ex.stall(5.0)

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert outcome.data == ["1"]
    assert outcome.errors == []
    assert outcome.closed
    observed("['1'], clean end")


def test_endless_header_line(observed: Observed) -> None:
    """A response head with a header line that never ends (200 KB and counting).

    Expected: LimitExceeded naming max_header_size=65536, fatal, after at most ~64 KiB read.
    """

    def handler(ex: Exchange) -> None:
        ex.send(b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * 200_000)
        ex.stall(5.0)

    with serve(handler) as server:
        outcome = run(server.url())
    assert isinstance(outcome.fatal, LimitExceeded)
    assert "max_header_size=65536" in str(outcome.fatal)
    observed(f"{type(outcome.fatal).__name__}: {str(outcome.fatal)[:60]}...")


def test_endless_sse_line(observed: Observed) -> None:
    """An event stream whose second line never ends (2 MiB without a newline, 1 MiB limit).

    Expected: the event before it, then EventTooLarge naming max_event_size, fatal.
    """

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: 1\n\ndata: ")
        for _ in range(32):
            ex.send_chunk(b"x" * 65536)
        ex.stall(5.0)

    with serve(handler) as server:
        outcome = run(server.url(), max_event_size=1024 * 1024)
    assert outcome.data == ["1"]
    assert isinstance(outcome.fatal, EventTooLarge)
    assert "max_event_size=1048576" in str(outcome.fatal)
    observed(f"['1'], then {type(outcome.fatal).__name__}")


# -- statuses ------------------------------------------------------------------------------------


def test_200_text_html(observed: Observed) -> None:
    """``200 OK`` with ``Content-Type: text/html`` (a login page, a proxy's error page).

    Expected: ContentTypeError (an HTTPStatusError) with status 200 and the body's start, fatal.
    """

    def handler(ex: Exchange) -> None:
        page = b"<html><body>Please log in</body></html>"
        ex.send_head(200, [("Content-Type", "text/html"), ("Content-Length", str(len(page)))])
        ex.send(page)

    with serve(handler) as server:
        outcome = run(server.url())
    error = outcome.fatal
    assert isinstance(error, ContentTypeError)
    assert error.status == 200
    assert "Please log in" in error.body
    assert len(outcome.errors) == 1
    observed(f"ContentTypeError, status {error.status}")


def test_500_with_a_large_body(observed: Observed) -> None:
    """``500`` with a 4 MiB body.

    Expected: HTTPStatusError 500 carrying only the first 64 KiB of the body (read within the
    error-body wait), retried (here: fatal, reconnect off).
    """

    def handler(ex: Exchange) -> None:
        body = b"E" * (4 * 1024 * 1024)
        ex.send_head(500, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        ex.send(body)

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    error = outcome.fatal
    assert isinstance(error, HTTPStatusError) and error.status == 500
    assert 0 < len(error.body) <= 64 * 1024
    observed(f"HTTPStatusError 500, body kept: {len(error.body)} characters")


class Delays(Trace):
    def __init__(self, loop: StreamSelectLoop) -> None:
        self.loop = loop
        self.delays: list[float] = []
        self.connecting_at: list[float] = []

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        self.delays.append(delay)

    def connecting(self, host: str, port: int, tls: bool) -> None:
        self.connecting_at.append(self.loop.now())


def test_429_with_retry_after(vloop: VirtualTimeLoop, observed: Observed) -> None:
    """``429 Too Many Requests`` with ``Retry-After: 2``, then the stream.

    Expected: a reconnect no sooner than 2 s (Retry-After is the backoff's floor: the first
    failure's draw between 2 s and 4 s), then the stream's event.
    """

    def handler(ex: Exchange) -> None:
        if ex.index == 0:
            ex.send_head(429, [("Retry-After", "2"), ("Content-Length", "0")])
        else:
            ex.send_head(200, sse_head())
            ex.send_chunk(b"data: ok\n\n")
            ex.stall(5.0)

    JITTER.seed(29)
    expected = reconnect_delay(2.0, 1, 30.0, random.Random(29))
    trace = Delays(vloop)
    with serve(handler) as server:
        outcome = run(server.url(), vloop, stop_after=1, trace=trace)
    assert outcome.data == ["ok"]
    assert [type(error) for error in outcome.errors] == [HTTPStatusError]
    assert outcome.errors[0].status == 429  # type: ignore[attr-defined]
    assert trace.delays == [expected] and 2.0 <= expected <= 4.0
    assert trace.connecting_at[1] - trace.connecting_at[0] == pytest.approx(expected, abs=1e-6)
    observed(f"reconnected after {expected:.3f} virtual s")


# -- redirects -------------------------------------------------------------------------------------


def test_redirect_loop(observed: Observed) -> None:
    """``/a`` redirects to ``/b``, which redirects back to ``/a``.

    Expected: TooManyRedirects (a loop, found at once), fatal; three requests at most.
    """

    def handler(ex: Exchange) -> None:
        target = "/b" if ex.request.target == "/a" else "/a"
        ex.send_head(302, [("Location", target), ("Content-Length", "0")])

    with serve(handler) as server:
        outcome = run(server.url("/a"))
        requests = len(server.requests)
    assert isinstance(outcome.fatal, TooManyRedirects)
    assert requests <= 3
    observed(f"TooManyRedirects after {requests} requests")


def test_cross_origin_redirect_drops_credentials(observed: Observed) -> None:
    """A server redirects to another origin (another port); the request carries credentials.

    Expected: the other origin gets no Authorization, Proxy-Authorization or Cookie; a
    same-origin redirect keeps them; the stream is read from the target.
    """

    def target(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: moved\n\n")
        ex.stall(5.0)

    with serve(target) as other:

        def origin(ex: Exchange) -> None:
            if ex.request.target == "/start":
                ex.send_head(307, [("Location", "/same"), ("Content-Length", "0")])
            else:
                ex.send_head(302, [("Location", other.url("/x")), ("Content-Length", "0")])

        with serve(origin) as server:
            headers = {
                "Authorization": "Bearer s3cret",
                "Proxy-Authorization": "Basic cHJveHk=",
                "Cookie": "session=s3cret",
                "X-Other": "kept",
            }
            outcome = run(server.url("/start"), stop_after=1, headers=headers)
            same = server.requests[1]
        moved = other.requests[0]
    assert outcome.data == ["moved"]
    assert same.header("authorization") == "Bearer s3cret"
    assert same.header("cookie") == "session=s3cret"
    for name in ("authorization", "proxy-authorization", "cookie"):
        assert moved.header(name) is None
    assert moved.header("x-other") == "kept"
    observed("credentials kept on the same origin, dropped on the other")


# -- TLS -------------------------------------------------------------------------------------


def tls_server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def tls_handler(ex: Exchange) -> None:
    ex.send_head(200, sse_head())
    ex.send_chunk(b"data: secret\n\n")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def run_tls(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> Outcome:
    with ScriptedServer(tls_handler, ssl_context=server_context) as server:
        return run(server.url(), ssl_context=client_context)


def test_expired_certificate(
    ca: trustme.CA, client_context: ssl.SSLContext, observed: Observed
) -> None:
    """The server's certificate expired yesterday (issued by a trusted CA, right host).

    Expected: TLSError saying the certificate has expired, fatal (not retried), no event.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = ca.issue_cert(
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    outcome = run_tls(tls_server_context(cert), client_context)
    assert isinstance(outcome.fatal, TLSError)
    assert "expired" in str(outcome.fatal)
    assert len(outcome.errors) == 1 and outcome.data == []
    observed(f"TLSError: {str(outcome.fatal).partition(' failed: ')[2][:70]}")


def test_wrong_host_certificate(
    ca: trustme.CA, client_context: ssl.SSLContext, observed: Observed
) -> None:
    """The server's certificate names another host (``wrong.example``, not 127.0.0.1).

    Expected: TLSError naming the mismatch, fatal, no event.
    """
    outcome = run_tls(tls_server_context(ca.issue_cert("wrong.example")), client_context)
    assert isinstance(outcome.fatal, TLSError)
    assert "mismatch" in str(outcome.fatal).lower()
    assert len(outcome.errors) == 1 and outcome.data == []
    observed(f"TLSError: {str(outcome.fatal).partition(' failed: ')[2][:70]}")


def test_self_signed_certificate(observed: Observed) -> None:
    """The server presents a self-signed certificate; the client uses the default trust store.

    Expected: TLSError "certificate verify failed", fatal, no event.
    """
    own = trustme.CA()  # its root is a self-signed certificate; serve it as the leaf
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with own.cert_pem.tempfile() as cert, own.private_key_pem.tempfile() as key:
        context.load_cert_chain(cert, key)
    outcome = run_tls(context, ssl.create_default_context())
    assert isinstance(outcome.fatal, TLSError)
    assert "certificate verify failed" in str(outcome.fatal)
    assert len(outcome.errors) == 1 and outcome.data == []
    observed(f"TLSError: {str(outcome.fatal).partition(' failed: ')[2][:70]}")


# -- HTTP/1.0 and endless reconnects ---------------------------------------------------------------


def test_http_1_0_close_delimited_body(observed: Observed) -> None:
    """An HTTP/1.0 response without Content-Length: the body ends when the server closes.

    Expected: both events, then a clean end (no error with reconnect off).
    """

    def handler(ex: Exchange) -> None:
        ex.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        ex.send(b"data: 1\n\n")
        ex.send(b"data: 2\n\n")

    with serve(handler) as server:
        outcome = run(server.url(), reconnect=False)
    assert outcome.data == ["1", "2"]
    assert outcome.errors == []
    assert outcome.closed
    observed("['1', '2'], clean end")


@pytest.fixture
def fast_vloop() -> Iterator[VirtualTimeLoop]:
    """Virtual time with the server on the loop: no thread to wait for before a jump."""
    loop = VirtualTimeLoop(autojump_threshold=0.002)
    yield loop
    loop.close()


def test_server_closes_after_every_3_events_1000_times(
    fast_vloop: VirtualTimeLoop, observed: Observed
) -> None:
    """The server sends 3 events (with ids) and closes, on every connection; it resumes from
    ``Last-Event-ID``.

    Expected: 1,000 connections, 3,000 events, each exactly once and in order (none lost, none
    repeated); the reconnect delays pass in virtual time.
    """
    per_connection, connections = 3, 1000

    def on_request(conn: LoopConnection) -> None:
        start = int(conn.header("last-event-id") or 0)
        body = b"".join(
            b"id: %d\ndata: %d\n\n" % (n, n) for n in range(start + 1, start + per_connection + 1)
        )
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
        conn.send(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        conn.close()

    total = per_connection * connections
    with LoopServer(fast_vloop, on_request) as server:
        outcome = run(server.url, fast_vloop, stop_after=total)
        accepted = len(server.connections)
    assert outcome.data == [str(n) for n in range(1, total + 1)]
    assert accepted == connections
    observed(f"{accepted} connections, {len(outcome.data)} events in order, no repeat")
