"""Event-loop benchmark: reactsse's StreamSelectLoop against asyncio and uvloop, side by side.

Usage (from the repository root)::

    python bench/loop.py                  # every workload, 5 rounds (about a minute)
    python bench/loop.py --rounds 9       # steadier medians
    python bench/loop.py --scale 0.1      # a quick look
    python bench/loop.py --only ticks,ping-pong
    python bench/loop.py --profile timer-chain   # cProfile reactsse on one workload

Workloads, ports of reactphp/event-loop ``examples/91..95`` plus a socket ping-pong:

* ``ticks`` (91): queue N empty future ticks, then run. asyncio: N ``call_soon``.
* ``timers`` (92): N zero-interval one-shot timers, then run. asyncio: N ``call_later(0)``.
* ``tick-chain`` (93): N ticks, each queueing the next (one loop iteration per hop).
* ``timer-chain`` (94): N zero-interval timers, each adding the next (one iteration per hop).
* ``ping-pong``: one byte bounced N times between the two ends of a socketpair by read
  listeners (asyncio/uvloop: ``add_reader``): one select and two dispatches per round trip.
* ``churn`` (95, add/cancel form): N cycles of "add a 1 s timer, cancel it", 1,000 per loop
  iteration (a tick chain), with a tracemalloc reading of the Python heap every N/10 cycles;
  memory must stay flat.

Every measurement uses a fresh loop; rounds alternate the contestant order (A B C, C B A, ...)
so that drift in a shared machine's load is spread over all of them; the tables give medians.
"ops/s" counts callbacks run (ticks, timers, round trips, add/cancel cycles) per wall second,
scheduling included.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import platform
import pstats
import socket
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reactsse.loop import StreamSelectLoop, TimerInterface

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import installed  # bench/ is not a package: the path is set just above

if installed("uvloop"):  # an optional contestant
    import uvloop

Workload = Callable[[int], float]  # takes N, returns elapsed seconds


# -- reactsse ---------------------------------------------------------------------------------


def _react_ticks(n: int) -> float:
    loop = StreamSelectLoop()
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1

    start = time.perf_counter()
    for _ in range(n):
        loop.future_tick(tick)
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    assert count == n
    return elapsed


def _react_timers(n: int) -> float:
    loop = StreamSelectLoop()
    count = 0

    def fire(_timer: TimerInterface) -> None:
        nonlocal count
        count += 1

    start = time.perf_counter()
    for _ in range(n):
        loop.add_timer(0, fire)
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    assert count == n
    return elapsed


def _react_tick_chain(n: int) -> float:
    loop = StreamSelectLoop()
    left = n

    def step() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.future_tick(step)

    start = time.perf_counter()
    loop.future_tick(step)
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    assert left == 0
    return elapsed


def _react_timer_chain(n: int) -> float:
    loop = StreamSelectLoop()
    left = n

    def step(_timer: TimerInterface) -> None:
        nonlocal left
        left -= 1
        if left:
            loop.add_timer(0, step)

    start = time.perf_counter()
    loop.add_timer(0, step)
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    assert left == 0
    return elapsed


def _react_ping_pong(n: int) -> float:
    loop = StreamSelectLoop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    trips = 0

    def on_a(_stream: object) -> None:
        nonlocal trips
        a.recv(16)
        trips += 1
        if trips < n:
            a.send(b"x")
        else:
            loop.remove_read_stream(a)
            loop.remove_read_stream(b)

    def on_b(_stream: object) -> None:
        b.recv(16)
        b.send(b"x")

    loop.add_read_stream(a, on_a)
    loop.add_read_stream(b, on_b)
    start = time.perf_counter()
    a.send(b"x")
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    a.close()
    b.close()
    assert trips == n
    return elapsed


_CHURN_BATCH = 1_000  # add/cancel cycles per loop iteration


def _react_churn(n: int, samples: list[int] | None = None) -> float:
    loop = StreamSelectLoop()
    done = 0
    sample_every = max(n // 10, _CHURN_BATCH)

    def never(_timer: TimerInterface) -> None:
        raise AssertionError("cancelled timer fired")

    def batch() -> None:
        nonlocal done
        for _ in range(_CHURN_BATCH):
            loop.cancel_timer(loop.add_timer(1, never))
        done += _CHURN_BATCH
        if samples is not None and done % sample_every == 0:
            samples.append(tracemalloc.get_traced_memory()[0])
        if done < n:
            loop.future_tick(batch)

    start = time.perf_counter()
    loop.future_tick(batch)
    loop.run()
    elapsed = time.perf_counter() - start
    loop.close()
    return elapsed


# -- asyncio / uvloop -------------------------------------------------------------------------


def _aio_ticks(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Workload:
    def run(n: int) -> float:
        loop = new_loop()
        count = 0

        def tick() -> None:
            nonlocal count
            count += 1

        start = time.perf_counter()
        for _ in range(n):
            loop.call_soon(tick)
        loop.call_soon(loop.stop)
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        assert count == n
        return elapsed

    return run


def _aio_timers(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Workload:
    def run(n: int) -> float:
        loop = new_loop()
        count = 0

        def fire() -> None:
            nonlocal count
            count += 1
            if count == n:
                loop.stop()

        start = time.perf_counter()
        for _ in range(n):
            loop.call_later(0, fire)
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        assert count == n
        return elapsed

    return run


def _aio_tick_chain(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Workload:
    def run(n: int) -> float:
        loop = new_loop()
        left = n

        def step() -> None:
            nonlocal left
            left -= 1
            if left:
                loop.call_soon(step)
            else:
                loop.stop()

        start = time.perf_counter()
        loop.call_soon(step)
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        assert left == 0
        return elapsed

    return run


def _aio_timer_chain(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Workload:
    def run(n: int) -> float:
        loop = new_loop()
        left = n

        def step() -> None:
            nonlocal left
            left -= 1
            if left:
                loop.call_later(0, step)
            else:
                loop.stop()

        start = time.perf_counter()
        loop.call_later(0, step)
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        assert left == 0
        return elapsed

    return run


def _aio_ping_pong(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Workload:
    def run(n: int) -> float:
        loop = new_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        trips = 0

        def on_a() -> None:
            nonlocal trips
            a.recv(16)
            trips += 1
            if trips < n:
                a.send(b"x")
            else:
                loop.remove_reader(a.fileno())
                loop.remove_reader(b.fileno())
                loop.stop()

        def on_b() -> None:
            b.recv(16)
            b.send(b"x")

        loop.add_reader(a.fileno(), on_a)
        loop.add_reader(b.fileno(), on_b)
        start = time.perf_counter()
        a.send(b"x")
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        a.close()
        b.close()
        assert trips == n
        return elapsed

    return run


def _aio_churn(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> Callable[..., float]:
    def run(n: int, samples: list[int] | None = None) -> float:
        loop = new_loop()
        done = 0
        sample_every = max(n // 10, _CHURN_BATCH)

        def never() -> None:
            raise AssertionError("cancelled timer fired")

        def batch() -> None:
            nonlocal done
            for _ in range(_CHURN_BATCH):
                loop.call_later(1, never).cancel()
            done += _CHURN_BATCH
            if samples is not None and done % sample_every == 0:
                samples.append(tracemalloc.get_traced_memory()[0])
            if done < n:
                loop.call_soon(batch)
            else:
                loop.stop()

        start = time.perf_counter()
        loop.call_soon(batch)
        loop.run_forever()
        elapsed = time.perf_counter() - start
        loop.close()
        return elapsed

    return run


# -- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Workload:
    name: str
    n: int
    target: float  # minimum reactsse/asyncio ratio targeted (0: none)
    runs: dict[str, Callable[..., float]]


def _contestants() -> dict[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    found: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {
        "reactsse": None,
        "asyncio": asyncio.SelectorEventLoop,
    }
    if installed("uvloop"):
        found["uvloop"] = uvloop.new_event_loop
    else:
        print("skipped uvloop: uvloop not installed (pip install -e '.[bench]' brings every peer)")
    return found


def _workloads(scale: float) -> list[_Workload]:
    contestants = _contestants()

    def runs(react: Callable[..., float], aio: Callable[..., Callable[..., float]]) -> dict:  # type: ignore[type-arg]
        table: dict[str, Callable[..., float]] = {"reactsse": react}
        for name, factory in contestants.items():
            if factory is not None:
                table[name] = aio(factory)
        return table

    def size(n: int) -> int:
        return max(int(n * scale), 10)

    return [
        _Workload("ticks", size(200_000), 2.0, runs(_react_ticks, _aio_ticks)),
        _Workload("timers", size(100_000), 1.0, runs(_react_timers, _aio_timers)),
        _Workload("tick-chain", size(100_000), 0.0, runs(_react_tick_chain, _aio_tick_chain)),
        _Workload("timer-chain", size(50_000), 1.0, runs(_react_timer_chain, _aio_timer_chain)),
        _Workload("ping-pong", size(20_000), 1.0, runs(_react_ping_pong, _aio_ping_pong)),
        _Workload(
            "churn",
            max(size(100_000) // _CHURN_BATCH, 10) * _CHURN_BATCH,
            0.0,
            runs(_react_churn, _aio_churn),
        ),
    ]


def _measure(run: Callable[..., float], n: int) -> float:
    gc.collect()
    return run(n)


def _machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    uv = getattr(uvloop, "__version__", "?") if uvloop is not None else "not installed"
    return (
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' if isinstance(x, float) else x for x in load)}; "
        f"uvloop {uv}"
    )


def _memory_table(workload: _Workload) -> list[str]:
    lines = [
        "",
        f"Memory under timer churn ({workload.n:,} add/cancel cycles; tracemalloc, Python heap):",
        "",
        "| contestant | after 10 % | after 50 % | after 100 % | growth 10 %→100 % |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in workload.runs.items():
        samples: list[int] = []
        gc.collect()
        tracemalloc.start()
        try:
            run(workload.n, samples)
        finally:
            tracemalloc.stop()
        first, middle, last = samples[0], samples[len(samples) // 2 - 1], samples[-1]
        lines.append(
            f"| {name} | {first / 1024:.1f} KiB | {middle / 1024:.1f} KiB | "
            f"{last / 1024:.1f} KiB | {(last - first) / 1024:+.1f} KiB |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--profile", default="", help="cProfile reactsse on this workload")
    args = parser.parse_args(argv)

    workloads = _workloads(args.scale)
    if args.only:
        wanted = set(args.only.split(","))
        workloads = [w for w in workloads if w.name in wanted]
    if args.profile:
        (workload,) = [w for w in workloads if w.name == args.profile]
        profiler = cProfile.Profile()
        profiler.runcall(workload.runs["reactsse"], workload.n)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return 0

    print(f"bench/loop.py --rounds {args.rounds} --scale {args.scale}")
    print(_machine())
    print()
    names = list(workloads[0].runs) if workloads else []
    results: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        order = names if round_number % 2 == 0 else names[::-1]
        for workload in workloads:
            for name in order:
                elapsed = _measure(workload.runs[name], workload.n)
                results.setdefault((workload.name, name), []).append(workload.n / elapsed)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)

    header = "| workload | N | " + " | ".join(f"{n} ops/s" for n in names)
    header += " | reactsse ÷ asyncio | target | spread |"
    print(header)
    print("|---|---:|" + "---:|" * len(names) + "---:|---:|---:|")
    missed: list[str] = []
    for workload in workloads:
        medians = {n: statistics.median(results[(workload.name, n)]) for n in names}
        ratio = medians["reactsse"] / medians["asyncio"]
        react = results[(workload.name, "reactsse")]
        spread = (max(react) - min(react)) / medians["reactsse"]
        target = f"≥ {workload.target:g}×" if workload.target else "-"
        if workload.target and ratio < workload.target:
            missed.append(workload.name)
            target += " MISSED"
        cells = " | ".join(f"{medians[n]:,.0f}" for n in names)
        print(
            f"| {workload.name} | {workload.n:,} | {cells} | {ratio:.2f}× | {target} | "
            f"{spread:.0%} |"
        )
    churn = [w for w in workloads if w.name == "churn"]
    if churn:
        print("\n".join(_memory_table(churn[0])))
    print()
    print("spread: (max - min) / median of reactsse's rounds; medians of", args.rounds, "rounds.")
    if missed:
        print("targets missed:", ", ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
