"""Hostile servers against the client's bounds: the response head's deadline and 1xx cap, the
reconnect schedule under storms, and memory that follows bytes rather than event count.

Timing cases run on a ``VirtualTimeLoop`` with the server on the same loop (``LoopServer``), so
a byte a second, a reconnect schedule over minutes, or a minute-long stream pass in virtual time
and the assertions are exact. The jitter of the backoff is seeded, and the expected schedule is
drawn from the same seed through the policy's own pure function.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest
from _connector_helpers import refusing_port

from hostile._loop_server import LoopConnection, LoopServer
from reactsse.errors import EventTooLarge, HeadTimeout, LimitExceeded, ReactSSEError
from reactsse.eventsource import EventSource, ReadyState, Trace
from reactsse.eventsource.policy import JITTER, reconnect_delay
from reactsse.loop import StreamSelectLoop, TimerInterface, VirtualTimeLoop
from reactsse.sse import EventStreamDecoder

Observed = Callable[[str], None]

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    """A virtual-time loop for servers on the loop itself: no thread has to be waited for,
    so the clock may jump after a short real pause (loopback bytes are readable at once)."""
    loop = VirtualTimeLoop(autojump_threshold=0.02)
    yield loop
    loop.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Times(Trace):
    """The loop's clock at each connection attempt."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self.loop = loop
        self.connecting_at: list[float] = []

    def connecting(self, host: str, port: int, tls: bool) -> None:
        self.connecting_at.append(self.loop.now())


def run_for(loop: VirtualTimeLoop, source: EventSource, seconds: float) -> None:
    """Run until the source closes, or close it after ``seconds`` of the loop's clock (the
    server on the loop keeps it running: it is stopped when the source is done)."""

    def stop(_timer: TimerInterface) -> None:
        source.close()
        loop.stop()

    timer = loop.add_timer(seconds, stop)
    source.on("close", lambda: (loop.cancel_timer(timer), loop.stop()))
    if source.ready_state is not ReadyState.CLOSED:
        loop.run()
    loop.cancel_timer(timer)


def expected_schedule(seed: int, floor: float, cap: float, horizon: float) -> list[float]:
    """The attempt times of a source whose every attempt fails (or ends at once): the first at
    0, then the backoff's draws from ``seed``, up to ``horizon`` seconds."""
    rng = random.Random(seed)
    times = [0.0]
    failures = 0
    while True:
        failures += 1
        next_time = times[-1] + reconnect_delay(floor, failures, cap, rng)
        if next_time > horizon:
            return times
        times.append(next_time)


def errors_of(source: EventSource) -> list[ReactSSEError]:
    errors: list[ReactSSEError] = []
    source.on("error", errors.append)
    return errors


# -- the response head: a deadline, and a cap on 1xx heads ------------------------------------


def test_head_trickling_one_byte_a_second_hits_the_head_deadline(
    vloop: VirtualTimeLoop, observed: Observed
) -> None:
    """A server sends its response head at one byte a second, all timeouts set to 3 s.

    Expected: HeadTimeout (a ReadTimeout) exactly head_timeout (9.5 s) after the request; the
    read timeout (3 s) never fires, since a byte comes every second.
    """
    head = SSE_HEAD + b"X-Padding: " + b"x" * 100

    def on_request(conn: LoopConnection) -> None:
        sent = [0]

        def one_byte() -> None:
            conn.send(head[sent[0] : sent[0] + 1])
            sent[0] += 1

        conn.every(1.0, one_byte)

    with LoopServer(vloop, on_request) as server:
        source = EventSource(
            server.url,
            loop=vloop,
            connect_timeout=3,
            read_timeout=3,
            event_timeout=3,
            head_timeout=9.5,
            reconnect=False,
        )
        errors = errors_of(source)
        failed_at: list[float] = []
        source.on("close", lambda: failed_at.append(vloop.now()))
        run_for(vloop, source, 120.0)
        started = server.connections[0].accepted_at
    assert [type(error) for error in errors] == [HeadTimeout]
    assert failed_at[0] - started == pytest.approx(9.5, abs=1e-6)
    assert str(errors[0]).startswith("no complete response head within 9.5 s from http://")
    assert source.ready_state is ReadyState.CLOSED
    observed(f"{type(errors[0]).__name__} at +{failed_at[0] - started:g} s")


def test_endless_102_processing_heads_hit_the_1xx_cap(
    vloop: VirtualTimeLoop, observed: Observed
) -> None:
    """A server answers with a ``102 Processing`` head every 0.5 s, for ever.

    Expected: LimitExceeded naming max_informational=32 when the 33rd arrives (16.5 s), before
    the head deadline (60 s); fatal (not retried).
    """

    def on_request(conn: LoopConnection) -> None:
        conn.every(0.5, lambda: conn.send(b"HTTP/1.1 102 Processing\r\n\r\n"))

    with LoopServer(vloop, on_request) as server:
        source = EventSource(server.url, loop=vloop, read_timeout=3, event_timeout=3)
        errors = errors_of(source)
        run_for(vloop, source, 600.0)
        started = server.connections[0].accepted_at
        ended = vloop.now()
    assert [type(error) for error in errors] == [LimitExceeded]
    assert "more than max_informational=32 1xx responses" in str(errors[0])
    assert "102 Processing" in str(errors[0])
    assert ended - started == pytest.approx(16.5, abs=1e-6)
    assert len(server.connections) == 1
    observed(f"LimitExceeded at +{ended - started:g} s, one connection")


def test_a_burst_of_1xx_heads_in_one_read_hits_the_cap(vloop: VirtualTimeLoop) -> None:
    """A server sends 10,000 ``100 Continue`` heads in one write.

    Expected: LimitExceeded at once (no time passes), one connection, no reconnect.
    """

    def on_request(conn: LoopConnection) -> None:
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000)

    with LoopServer(vloop, on_request) as server:
        source = EventSource(server.url, loop=vloop)
        errors = errors_of(source)
        run_for(vloop, source, 60.0)
        assert len(server.connections) == 1
    assert [type(error) for error in errors] == [LimitExceeded]
    assert vloop.now() < 0.01


def test_a_few_1xx_heads_before_the_stream_are_skipped(vloop: VirtualTimeLoop) -> None:
    """A server sends 100 Continue, 102 Processing and 103 Early Hints, then the stream.

    Expected: the heads are skipped, the event arrives (the cap does not hurt a normal server).
    """

    def on_request(conn: LoopConnection) -> None:
        for status in (b"100 Continue", b"102 Processing", b"103 Early Hints"):
            conn.send(b"HTTP/1.1 " + status + b"\r\n\r\n")
        conn.send(SSE_HEAD + chunk(b"data: ok\n\n"))

    data: list[str] = []
    with LoopServer(vloop, on_request) as server:
        source = EventSource(server.url, loop=vloop)
        source.on("message", lambda event: (data.append(event.data), source.close()))
        run_for(vloop, source, 10.0)
    assert data == ["ok"]


# -- reconnect storms ------------------------------------------------------------------------


def retry_zero_then_close(conn: LoopConnection) -> None:
    conn.send(SSE_HEAD + chunk(b"retry: 0\ndata: x\n\n") + b"0\r\n\r\n")
    conn.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_retry_zero_then_close_in_a_loop_is_backed_off(
    vloop: VirtualTimeLoop, seed: int, observed: Observed
) -> None:
    """A server sends ``retry: 0`` and an event, then closes, on every connection.

    Expected: connections follow the backoff from min_reconnect_delay (0.1 s) doubling to the
    cap (30 s), exactly the policy's schedule: about 30 in 300 s, not thousands.
    """
    JITTER.seed(seed)
    expected = expected_schedule(seed, 0.1, 30.0, 300.0)
    with LoopServer(vloop, retry_zero_then_close) as server:
        source = EventSource(server.url, loop=vloop)
        run_for(vloop, source, 300.0)
        times = server.accept_times
    assert len(times) == len(expected)
    assert times == pytest.approx(expected, abs=1e-6)
    assert len(times) <= 40
    observed(f"{len(times)} connections in 300 virtual s")


def test_a_gone_server_is_backed_off_like_one_that_accepts_and_closes(
    vloop: VirtualTimeLoop, observed: Observed
) -> None:
    """The server is gone: every connection is refused (the client had learned ``retry: 0``).

    Expected: the same schedule as a server that accepts and closes at once: the backoff from
    0.1 s, doubling to 30 s; about 30 attempts in 300 s (was ~385 a second).
    """
    JITTER.seed(3)
    expected = expected_schedule(3, 0.1, 30.0, 300.0)
    trace = Times(vloop)
    with refusing_port() as port:
        source = EventSource(f"http://127.0.0.1:{port}/", loop=vloop, retry=0, trace=trace)
        run_for(vloop, source, 300.0)
    assert trace.connecting_at == pytest.approx(expected, abs=1e-6)
    JITTER.seed(3)
    with LoopServer(vloop, retry_zero_then_close) as server:
        start = vloop.now()
        source = EventSource(server.url, loop=vloop)
        run_for(vloop, source, 300.0)
        accepted = [time - start for time in server.accept_times]
    assert accepted == pytest.approx(trace.connecting_at, abs=1e-6)
    observed(f"{len(trace.connecting_at)} refused attempts in 300 virtual s")


def test_503_with_retry_after_zero_is_backed_off(
    vloop: VirtualTimeLoop, observed: Observed
) -> None:
    """Every request gets ``503`` with ``Retry-After: 0``.

    Expected: Retry-After is the floor, min_reconnect_delay (0.1 s) raises it: the backoff from
    0.1 s doubling to 30 s, exactly the policy's schedule (was 4,394 requests in 3 s).
    """

    def on_request(conn: LoopConnection) -> None:
        conn.send(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
        )

    JITTER.seed(4)
    expected = expected_schedule(4, 0.1, 30.0, 300.0)
    with LoopServer(vloop, on_request) as server:
        source = EventSource(server.url, loop=vloop)
        run_for(vloop, source, 300.0)
        times = server.accept_times
    assert times == pytest.approx(expected, abs=1e-6)
    observed(f"{len(times)} requests in 300 virtual s")


@pytest.mark.parametrize(("uptime", "resets"), [(61.0, True), (59.0, False)])
def test_the_backoff_resets_only_after_a_stream_stayed_open(
    vloop: VirtualTimeLoop, uptime: float, resets: bool
) -> None:
    """A stream stays open ``uptime`` seconds after two failures, then ends.

    Expected: after 61 s (over backoff_reset_after, 60 s) the wait is exactly the reconnection
    time (1 s); after 59 s the stream counts as one more failure and the wait is the backoff's
    third draw.
    """

    def on_request(conn: LoopConnection) -> None:
        if conn.index < 2:
            conn.send(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
        elif conn.index == 2:
            conn.send(SSE_HEAD + chunk(b"data: up\n\n"))
            conn.after(uptime, lambda: (conn.send(b"0\r\n\r\n"), conn.close()))
        else:
            conn.send(SSE_HEAD + chunk(b"data: again\n\n"))

    JITTER.seed(5)
    rng = random.Random(5)
    first, second = reconnect_delay(1.0, 1, 30.0, rng), reconnect_delay(1.0, 2, 30.0, rng)
    third = 1.0 if resets else reconnect_delay(1.0, 3, 30.0, rng)
    with LoopServer(vloop, on_request) as server:
        source = EventSource(server.url, loop=vloop, retry=1.0)
        source.on("message", lambda event: source.close() if event.data == "again" else None)
        run_for(vloop, source, 600.0)
        times = server.accept_times
    opened = first + second
    assert times == pytest.approx([0.0, first, opened, opened + uptime + third], abs=1e-6)


# -- memory follows bytes, not the count of events ---------------------------------------------

_GZIP_CHILD = textwrap.dedent(
    """
    import socket, threading, tracemalloc, zlib
    from reactsse.eventsource import EventSource
    from reactsse.loop import StreamSelectLoop

    # 15 MiB of 9-byte events, compressed piece by piece (never all in memory here).
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"data: x\\n\\n" * 7282
    body = b"".join([compressor.compress(piece) for _ in range(240)]) + compressor.flush()
    assert len(body) < 60000, len(body)
    head = (b"HTTP/1.1 200 OK\\r\\nContent-Type: text/event-stream\\r\\n"
            b"Content-Encoding: gzip\\r\\n\\r\\n")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(head + body)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    loop = StreamSelectLoop()
    count = [0]
    def on_message(event):
        count[0] += 1
    tracemalloc.start()
    source = EventSource("http://127.0.0.1:%d/" % listener.getsockname()[1], loop=loop,
                         reconnect=False)
    source.on("message", on_message)
    loop.run()
    print(count[0], tracemalloc.get_traced_memory()[1] // 2**20)
    """
)


def test_a_gzip_read_inflating_to_15_mib_of_tiny_events_stays_bounded(observed: Observed) -> None:
    """One 15 KB gzip read inflates to 15 MiB: 1.7 million tiny events at once.

    Expected: every event is delivered, and the peak traced memory of the client stays under
    6 x max_event_size (8 MiB): the events go out 64 KiB of body at a time (it was 262 MiB).
    """
    result = subprocess.run(
        [sys.executable, "-c", _GZIP_CHILD], capture_output=True, text=True, timeout=55
    )
    assert result.returncode == 0, result.stderr
    count, peak_mib = map(int, result.stdout.split())
    assert count == 240 * 7282
    assert peak_mib < 48
    observed(f"{count} events, peak traced memory {peak_mib} MiB")


@pytest.mark.parametrize("line", [b"data\n", b"data:xy\n"], ids=["empty", "two-bytes"])
def test_endless_short_data_lines_hold_about_the_limit(line: bytes, observed: Observed) -> None:
    """One event of endless short ``data`` lines, in 64 KiB reads, against a 1 MiB limit.

    Expected: EventTooLarge once the data held passes 1 MiB, and the traced peak memory stays
    under 4 x the limit (8.7 x and 14.8 x before: a list slot per value, 8 bytes or more per
    counted byte; now the values are joined as they come).
    """
    limit = 1024 * 1024
    decoder = EventStreamDecoder(max_event_size=limit)
    read = line * (65536 // len(line))
    tracemalloc.start()
    try:
        with pytest.raises(EventTooLarge):
            for _ in range(10 * limit // len(read)):
                assert decoder.feed(read) == []
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit
    observed(f"EventTooLarge, peak {peak / limit:.2f} x the limit")


def test_a_large_inflated_read_keeps_order_and_its_end(observed: Observed) -> None:
    """A gzip response of 200,000 numbered events (2.6 MB inflated, each read inflating to
    several slices); the response's end comes in its last read.

    Expected: the events arrive in order, each once, across the slices (64 KiB per loop
    iteration), and only then the end of the stream (a clean end, reconnect off).
    """
    count = 200_000
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    raw = b"".join(b"data: %d\n\n" % n for n in range(count))
    body = compressor.compress(raw) + compressor.flush()
    loop = StreamSelectLoop()

    def on_request(conn: LoopConnection) -> None:
        conn.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    log: list[str] = []
    with LoopServer(loop, on_request) as server:
        source = EventSource(server.url, loop=loop, reconnect=False)
        source.on("message", lambda event: log.append(event.data))
        source.on("error", lambda error: log.append(f"error {error!r}"))
        source.on("close", lambda: (log.append("close"), loop.stop()))
        guard = loop.add_timer(30.0, lambda _timer: loop.stop())
        loop.run()
        loop.cancel_timer(guard)
    loop.close()
    assert len(raw) > 20 * 128 * 1024  # many slices
    assert log == [str(n) for n in range(count)] + ["close"]
    observed(f"{count} events in order, then the end")
