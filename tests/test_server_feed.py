"""``EventFeed``: an app whose events arrive later, from another source on the server's loop.

User apps written here (not the relay) push events from loop timers, as an upstream stream's
callbacks would; the server writes them as they come, ends the response after ``end()``, and
calls ``on_close`` when nobody reads any more.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from _loop_helpers import run_until_idle

from reactsse.eventsource import EventSource
from reactsse.loop import LoopInterface, StreamSelectLoop, TimerInterface, VirtualTimeLoop
from reactsse.server import Event, EventFeed, EventStream, Reply, Request, ServerOptions, SSEServer

TIMEOUT = 10.0


class Ticker:
    """A user app: each request gets a feed that a loop timer fills, one tick a second."""

    def __init__(self, loop: LoopInterface, count: int) -> None:
        self.loop = loop
        self.count = count
        self.closed: list[int] = []  # ticks pushed when each feed's on_close came
        self.refused = 0  # pushes after the close (push returned False)

    def __call__(self, request: Request, /) -> Reply:
        pushed = 0
        feed = EventFeed()

        def tick(timer: TimerInterface) -> None:
            nonlocal pushed
            if feed.closed:
                self.refused += not feed.push(Event("late"))
                self.loop.cancel_timer(timer)
                return
            pushed += 1
            feed.push(Event(f"tick {pushed}", id=str(pushed)))
            if pushed == self.count:
                self.loop.cancel_timer(timer)
                feed.end()

        timer = self.loop.add_periodic_timer(1.0, tick)

        def on_close() -> None:
            self.closed.append(pushed)
            if pushed < self.count:
                self.loop.cancel_timer(timer)  # the source is cancelled when the reader leaves

        feed.on_close = on_close
        return EventStream(feed, timed=True)


def test_pushed_events_arrive_as_they_are_pushed_and_end_ends_the_response() -> None:
    loop = VirtualTimeLoop()
    app = Ticker(loop, 3)
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    source = EventSource(server.url + "/", loop=loop, reconnect=False)
    arrivals: list[tuple[str, str, float]] = []
    source.on("message", lambda e: arrivals.append((e.data, e.last_event_id, loop.now())))
    source.on("close", server.close)  # the response ended cleanly: nothing is left to run
    run_until_idle(loop, source.close, server.close)
    assert [(data, id_) for data, id_, _ in arrivals] == [
        ("tick 1", "1"),
        ("tick 2", "2"),
        ("tick 3", "3"),
    ]
    first = arrivals[0][2]
    assert [when - first for _, _, when in arrivals] == pytest.approx([0, 1, 2], abs=1e-6)
    assert app.closed == [3]  # on_close once, after the end
    assert server.stream_count == 0 and server.timer_count == 0


def test_a_client_that_leaves_closes_the_feed_and_cancels_the_source() -> None:
    """The loop runs in this thread; once the client hangs up, on_close cancels the app's
    timer, so ``run()`` returns when the listener closes: nothing was left behind."""
    loop = StreamSelectLoop()
    app = Ticker(loop, 1_000_000)
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=0.05))
    received = threading.Event()

    def client() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"tick 2" not in data:
                data += sock.recv(4096)
        received.set()

    def check(timer: TimerInterface) -> None:
        if received.is_set() and server.connection_count == 0:
            loop.cancel_timer(timer)
            server.close()

    loop.add_periodic_timer(0.01, check)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    started = time.monotonic()
    run_until_idle(loop, lambda: thread.join(TIMEOUT), server.close)
    assert time.monotonic() - started < TIMEOUT - 1, "run() did not return: the source leaked"
    assert received.is_set()
    assert app.closed == [2]
    assert app.refused == 0  # the app stopped pushing: its timer was cancelled in on_close


def test_a_burst_of_pushes_goes_out_at_once_and_pushes_after_end_are_refused() -> None:
    loop = VirtualTimeLoop()
    feeds: list[EventFeed] = []

    def app(request: Request) -> Reply:
        feed = EventFeed()
        feeds.append(feed)

        def burst(_timer: TimerInterface) -> None:
            for n in range(5):
                feed.push(Event(f"n{n}", id=str(n)))
            feed.end()
            assert not feed.push(Event("after end"))

        loop.add_timer(0.5, burst)
        return EventStream(feed, timed=True)

    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    source = EventSource(server.url + "/", loop=loop, reconnect=False)
    arrivals: list[tuple[str, float]] = []
    source.on("message", lambda e: arrivals.append((e.data, loop.now())))
    source.on("close", server.close)
    run_until_idle(loop, source.close, server.close)
    assert [data for data, _ in arrivals] == [f"n{n}" for n in range(5)]
    assert len({when for _, when in arrivals}) == 1  # one loop turn, no timer between them
    (feed,) = feeds
    assert feed.closed and feed.exhausted
    assert not feed.push(Event("after close"))


def test_a_feed_obeys_disconnect_after_and_head_closes_it_unread() -> None:
    loop = VirtualTimeLoop()
    closes: list[str] = []

    def app(request: Request) -> Reply:
        feed = EventFeed(on_close=lambda: closes.append(request.method))
        for n in range(10):
            feed.push(Event(f"n{n}", id=str(n)))  # pushed before the server reads: queued
        return EventStream(feed, timed=True, disconnect_after=4)

    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    seen: list[str] = []
    source = EventSource(server.url + "/", loop=loop, reconnect=False)
    source.on("message", lambda e: seen.append(e.data))
    source.on("error", lambda _e: None)
    source.on("close", server.close)
    run_until_idle(loop, source.close, server.close)
    assert seen == ["n0", "n1", "n2", "n3"]
    assert closes == ["GET"]
