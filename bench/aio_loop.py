"""AnyioLoop benchmark: a socketpair ping-pong on StreamSelectLoop and on AnyioLoop's hosts.

Usage (from the repository root)::

    python bench/aio_loop.py                 # 5 rounds of 20,000 round trips (about 30 s)
    python bench/aio_loop.py --rounds 9      # steadier medians
    python bench/aio_loop.py --scale 0.1     # a quick look

One byte is bounced N times between the two ends of a socketpair by two read listeners, as in
``bench/loop.py``'s ``ping-pong``: one wait, one select and two dispatches per round trip, the
same listener code on every contestant. Contestants:

* ``StreamSelectLoop``: the reference, no host;
* ``AnyioLoop asyncio``: hosted by asyncio, waiting through ``loop.add_reader`` registered once
  per run (the default on asyncio hosts);
* ``AnyioLoop asyncio, anyio wait``: the same host, waiting through ``anyio.wait_readable`` (one
  host registration and one cancel scope per wait): the alternative the default was chosen over;
* ``AnyioLoop uvloop``: asyncio on uvloop, when installed (native wait);
* ``AnyioLoop trio``: hosted by trio (``anyio.wait_readable``, trio has no reader callbacks).

Each contestant runs through ``run()``, which starts its host; the host's start-up is outside
the timed part (the clock starts in the first tick). Rounds alternate the contestant order so
that drift in a shared machine's load is spread over all of them; the table gives medians of
round trips per second and the ratio to StreamSelectLoop.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable

from reactsse.aio import AnyioLoop
from reactsse.loop import LoopInterface, StreamSelectLoop


class _AnyioWaitLoop(AnyioLoop):
    """AnyioLoop waiting through anyio.wait_readable on asyncio too (the alternative)."""

    _asyncio_native_wait = False


def _contestants() -> dict[str, Callable[[], LoopInterface]]:
    found: dict[str, Callable[[], LoopInterface]] = {
        "StreamSelectLoop": StreamSelectLoop,
        "AnyioLoop asyncio": AnyioLoop,
        "AnyioLoop asyncio, anyio wait": _AnyioWaitLoop,
    }
    if importlib.util.find_spec("uvloop") is not None:
        found["AnyioLoop uvloop"] = lambda: AnyioLoop(backend_options={"use_uvloop": True})
    found["AnyioLoop trio"] = lambda: AnyioLoop("trio")
    return found


def ping_pong(new_loop: Callable[[], LoopInterface], n: int) -> float:
    """Seconds for ``n`` round trips of one byte between two read listeners."""
    loop = new_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    trips = 0
    started: list[float] = []
    ended: list[float] = []

    def on_a(_stream: object) -> None:
        nonlocal trips
        a.recv(16)
        trips += 1
        if trips < n:
            a.send(b"x")
        else:
            ended.append(time.perf_counter())
            loop.remove_read_stream(a)
            loop.remove_read_stream(b)

    def on_b(_stream: object) -> None:
        b.recv(16)
        b.send(b"x")

    def start() -> None:  # in the first tick: the host is up
        started.append(time.perf_counter())
        a.send(b"x")

    loop.add_read_stream(a, on_a)
    loop.add_read_stream(b, on_b)
    loop.future_tick(start)
    loop.run()
    close = getattr(loop, "close", None)
    if close is not None:
        close()
    a.close()
    b.close()
    assert trips == n
    return ended[0] - started[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies N (20,000)")
    args = parser.parse_args(argv)
    n = max(10, int(20_000 * args.scale))
    contestants = _contestants()
    names = list(contestants)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(n / ping_pong(contestants[name], n))
    print(
        f"Ping-pong, {n:,} round trips, {args.rounds} rounds, medians "
        f"({platform.python_implementation()} {platform.python_version()}, {sys.platform})"
    )
    print()
    print("| contestant | round trips/s | ÷ StreamSelectLoop | spread |")
    print("|---|---:|---:|---:|")
    reference = statistics.median(results["StreamSelectLoop"])
    for name in names:
        median = statistics.median(results[name])
        spread = (max(results[name]) - min(results[name])) / median
        print(f"| {name} | {median:,.0f} | {median / reference:.2f}× | {spread:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
