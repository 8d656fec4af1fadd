"""Soak: 10,000 short streams in sequence, then 1,000 at once, on one loop; descriptors, threads
and memory must come back to where they started.

Marked ``soak`` and run by the normal test run (``.ci/run``). It is bounded: about 10 s on an idle
machine. ``REACTSSE_SOAK_SCALE`` scales both counts (e.g. 0.1 on a very slow machine, 10 for a
longer soak); the checks do not change with it.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable

import pytest
from _connector_helpers import open_fds

from hostile._loop_server import LoopConnection, LoopServer
from reactsse.eventsource import EventSource
from reactsse.loop import StreamSelectLoop, TimerInterface

pytestmark = pytest.mark.soak

Observed = Callable[[str], None]
SCALE = float(os.environ.get("REACTSSE_SOAK_SCALE", "1"))
SEQUENTIAL = max(10, int(10_000 * SCALE))
CONCURRENT = max(10, int(1_000 * SCALE))
BODY = b"id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n"


def short_stream(conn: LoopConnection) -> None:
    conn.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s"
        % (len(BODY), BODY)
    )
    conn.close()


def run_streams(loop: StreamSelectLoop, url: str, count: int, at_once: bool) -> int:
    """``count`` short streams, one after another or all at once; the events received."""
    received = [0]
    done = [0]
    started = [0]

    def start() -> None:
        started[0] += 1
        source = EventSource(url, loop=loop, reconnect=False)
        source.on("message", lambda _event: received.__setitem__(0, received[0] + 1))
        source.on("close", finished)
        source.on("error", lambda error: pytest.fail(f"stream failed: {error!r}"))

    def finished() -> None:
        done[0] += 1
        if done[0] == count:
            loop.stop()
        elif not at_once:
            start()

    def guard(_timer: TimerInterface) -> None:
        loop.stop()

    timer = loop.add_timer(120.0, guard)
    for _ in range(count if at_once else 1):
        start()
    loop.run()
    loop.cancel_timer(timer)
    assert done[0] == count, f"{done[0]} of {count} streams ended"
    return received[0]


def rss() -> int:
    """This process's resident set in bytes (Linux /proc); 0 elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        return 0


def test_soak_sequential_then_concurrent(observed: Observed) -> None:
    """10,000 short streams in sequence, then 1,000 at once, on one loop and one server.

    Expected: every event of every stream (3 each), and afterwards the same number of open
    descriptors and threads as before, the interpreter's allocated blocks within 2,000 of the
    start and the resident set within 16 MiB (memory does not grow with the streams).
    """
    loop = StreamSelectLoop()
    with LoopServer(loop, short_stream) as server:
        # Warm up: caches, free lists, and the loop's tables sized for 1,000 connections.
        run_streams(loop, server.url, 50, at_once=False)
        run_streams(loop, server.url, CONCURRENT, at_once=True)
        server.connections.clear()  # the records of closed connections are the test's own
        gc.collect()
        fds, threads, blocks, resident = open_fds(), threading.active_count(), 0, rss()
        blocks = sys.getallocatedblocks()
        begin = time.monotonic()
        assert run_streams(loop, server.url, SEQUENTIAL, at_once=False) == 3 * SEQUENTIAL
        assert run_streams(loop, server.url, CONCURRENT, at_once=True) == 3 * CONCURRENT
        elapsed = time.monotonic() - begin
        server.connections.clear()
        gc.collect()
        grown_blocks = sys.getallocatedblocks() - blocks
        grown_rss = rss() - resident
        assert open_fds() == fds
        assert threading.active_count() == threads
    loop.close()
    assert grown_blocks < 2000, grown_blocks
    assert grown_rss < 16 * 2**20, grown_rss
    observed(
        f"{SEQUENTIAL} + {CONCURRENT} streams in {elapsed:.1f} s; fds and threads back; "
        f"{grown_blocks} blocks, RSS {grown_rss / 2**20:+.1f} MiB"
    )
