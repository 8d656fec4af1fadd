"""N concurrent SSE streams inside async programs: reactsse.aio against aiohttp and httpx-sse.

Usage (from the repository root, with the ``bench`` extra installed)::

    python bench/aio_bench.py                      # N = 100, 1,000, 10,000; 3 rounds
    python bench/aio_bench.py --n 100 --rounds 1   # a smoke run

Each stream is the openai corpus of ``bench/_corpora.py`` cut to 200 events (about 44 KB), served
by ``bench/_prerendered_server.py`` in a process of its own, pinned to one CPU. Each contestant
runs N streams at once in a fresh process pinned to another CPU (one CPU of client: one
thread; the rounds alternate the contestants), and reports the total events
per second (all events of all streams over the wall time from the first connect to the last
event) and the growth of its RSS per stream. Contestants:

* ``select``: ``EventSource`` on ``StreamSelectLoop`` (reactsse without any host; the baseline);
* ``anyio-loop/<host>``: ``EventSource`` on one ``AnyioLoop`` awaited in the host;
* ``aconnect/<host>``: ``async with aconnect(url)`` per stream (one task each);
* ``aiohttp/<host>``: ``resp.content`` line iteration (the usual hand-written SSE parsing);
* ``httpx-sse/asyncio``: ``aconnect_sse`` of httpx-sse on an ``httpx.AsyncClient``.

Hosts: asyncio, uvloop (where installed) and trio (for reactsse only: aiohttp needs asyncio,
httpx-sse is measured on asyncio). The table prints medians over the rounds and the ratio to
aiohttp on the same host. The open-file limit is raised to what N needs, or the script says it
cannot and skips the sizes it cannot open.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _cpus import cpu_pair, pinned  # bench/ is on the path: the script's own directory

BENCH = Path(__file__).resolve().parent
EVENTS_PER_STREAM = 200
SCALE = EVENTS_PER_STREAM / 20_000  # the openai corpus has 20,000 events (+ [DONE]) at scale 1


def _raise_nofile(need: int) -> int:
    """Raise the soft open-file limit toward ``need``; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need)) if hard != resource.RLIM_INFINITY else max(soft, need)
    if want > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            return soft
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------- contestants


def _select(url: str, n: int) -> int:
    from reactsse.eventsource import EventSource
    from reactsse.loop import StreamSelectLoop

    loop = StreamSelectLoop()
    counts = [0]

    def on_batch(events: list[Any]) -> None:
        counts[0] += len(events)

    for _ in range(n):
        EventSource(url, loop=loop, reconnect=False).on_batch(on_batch)
    loop.run()
    return counts[0]


async def _anyio_loop(url: str, n: int) -> int:
    from reactsse.aio import AnyioLoop
    from reactsse.eventsource import EventSource

    loop = AnyioLoop()
    counts = [0]

    def on_batch(events: list[Any]) -> None:
        counts[0] += len(events)

    for _ in range(n):
        EventSource(url, loop=loop, reconnect=False).on_batch(on_batch)
    await loop.run_async()
    loop.close()
    return counts[0]


async def _aconnect(url: str, n: int) -> int:
    import asyncio

    import anyio

    from reactsse.aio import aconnect

    counts = [0]

    async def one() -> None:
        count = 0
        async with aconnect(url, reconnect=False) as events:
            async for _event in events:
                count += 1
        counts[0] += count

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio: a nursery, through anyio
        async with anyio.create_task_group() as tasks:
            for _ in range(n):
                tasks.start_soon(one)
    else:  # asyncio and uvloop: the same harness as the aiohttp and httpx-sse contestants
        await asyncio.gather(*(one() for _ in range(n)))
    return counts[0]


async def _aiohttp(url: str, n: int) -> int:
    import asyncio

    import aiohttp

    async def one(session: aiohttp.ClientSession) -> int:
        count = 0
        data = False
        async with session.get(url, headers={"Accept": "text/event-stream"}) as resp:
            async for raw in resp.content:
                line = raw.rstrip(b"\r\n")
                if not line:
                    if data:
                        count += 1
                    data = False
                elif line.startswith(b"data"):
                    data = True
        return count

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        return sum(await asyncio.gather(*(one(session) for _ in range(n))))


async def _httpx_sse(url: str, n: int) -> int:
    import asyncio

    import httpx
    from httpx_sse import aconnect_sse

    async def one(client: httpx.AsyncClient) -> int:
        count = 0
        async with aconnect_sse(client, "GET", url) as source:
            async for _event in source.aiter_sse():
                count += 1
        return count

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=None) as client:
        return sum(await asyncio.gather(*(one(client) for _ in range(n))))


def _preload(name: str, host: str) -> None:
    import importlib

    modules = {
        "select": ["reactsse.eventsource"],
        "anyio-loop": ["reactsse.aio", "reactsse.eventsource", "anyio"],
        "aconnect": ["reactsse.aio", "reactsse.eventsource", "anyio"],
        "aiohttp": ["aiohttp"],
        "httpx-sse": ["httpx", "httpx_sse"],
    }[name]
    if host in ("trio", "uvloop"):
        modules.append(host)
    for module in modules:
        importlib.import_module(module)


def _worker(name: str, host: str, url: str, n: int) -> dict[str, float]:
    """Run one contestant in this process; its measurement."""
    _raise_nofile(n + 256)
    _preload(name, host)  # imports are not what is measured
    before = _rss_kib()
    start = time.perf_counter()
    if name == "select":
        events = _select(url, n)
    else:
        function = {
            "anyio-loop": _anyio_loop,
            "aconnect": _aconnect,
            "aiohttp": _aiohttp,
            "httpx-sse": _httpx_sse,
        }[name]
        if host == "trio":
            import trio

            events = trio.run(function, url, n)
        elif host == "uvloop":
            import uvloop

            events = uvloop.run(function(url, n))
        else:
            import asyncio

            events = asyncio.run(function(url, n))
    elapsed = time.perf_counter() - start
    return {"events": events, "seconds": elapsed, "rss_kib": _rss_kib() - before}


# --------------------------------------------------------------------------- the runner


def _contestants(uvloop: bool) -> list[tuple[str, str]]:
    hosts = ["asyncio", *(["uvloop"] if uvloop else []), "trio"]
    found = [("select", "-")]
    for host in hosts:
        found += [("anyio-loop", host), ("aconnect", host)]
        if host != "trio":
            found.append(("aiohttp", host))
    found.append(("httpx-sse", "asyncio"))
    return found


def _measure(
    name: str, host: str, url: str, n: int, timeout: float, cpu: int | None
) -> dict[str, float] | str:
    command = [sys.executable, __file__, "--worker", name, host, url, str(n)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, preexec_fn=pinned(cpu)
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = n * (EVENTS_PER_STREAM + 1)  # the openai corpus ends with data: [DONE]
    if result["events"] != expected:
        return f"{int(result['events'])} events, expected {expected}"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100,1000,10000", help="stream counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per measurement")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, host, url, n = args.worker
        print(json.dumps(_worker(name, host, url, int(n))))
        return 0
    sizes = [int(text) for text in args.n.split(",")]
    limit = _raise_nofile(max(sizes) * 2 + 512)
    print(f"open-file limit: {limit} (raised as far as the hard limit allows)")
    try:
        import uvloop  # noqa: F401

        has_uvloop = True
    except ImportError:
        has_uvloop = False
    server_cpu, client_cpu = cpu_pair()
    if client_cpu is None:
        print("not pinned: fewer than two CPUs allowed (server and client share the CPU)")
    else:
        print(f"pinned: the server on CPU {server_cpu}, each client on CPU {client_cpu}")
    server = subprocess.Popen(
        [sys.executable, str(BENCH / "_prerendered_server.py"), "--scale", str(SCALE)],
        preexec_fn=pinned(server_cpu),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline().split()[1])
    url = f"http://127.0.0.1:{port}/openai"
    print(
        f"{EVENTS_PER_STREAM + 1} events per stream (openai corpus), medians of {args.rounds} "
        "round(s); events/s in total; RSS growth per stream; ratio to aiohttp on the same host"
    )
    try:
        for n in sizes:
            print(f"\nN = {n:,}")
            if limit < n + 256:
                print(f"  skipped: the open-file limit ({limit}) is too low for {n} streams")
                continue
            _table(n, url, args, has_uvloop, client_cpu)
    finally:
        server.stdin.close()
        server.wait(10)
    return 0


def _table(n: int, url: str, args: argparse.Namespace, has_uvloop: bool, cpu: int | None) -> None:
    contestants = _contestants(has_uvloop)
    rates: dict[tuple[str, str], list[float]] = {c: [] for c in contestants}
    rss: dict[tuple[str, str], list[float]] = {c: [] for c in contestants}
    failures: dict[tuple[str, str], str] = {}
    # Rounds outside, contestants inside, the order rotated each round: a burst of noise on
    # the machine then spreads over every contestant instead of hitting one's rounds.
    for round_ in range(args.rounds):
        shift = round_ % len(contestants)
        for name, host in contestants[shift:] + contestants[:shift]:
            if (name, host) in failures:
                continue
            result = _measure(name, host, url, n, args.timeout, cpu)
            if isinstance(result, str):
                failures[(name, host)] = result
                continue
            rates[(name, host)].append(result["events"] / result["seconds"])
            rss[(name, host)].append(result["rss_kib"] / n)
    rows: dict[tuple[str, str], tuple[float, float] | str] = {
        c: failures.get(c) or (statistics.median(rates[c]), statistics.median(rss[c]))
        for c in contestants
    }
    print(f"  {'contestant':<22}{'events/s':>12}{'KiB/stream':>12}{'vs aiohttp':>12}")
    for (name, host), row in rows.items():
        label = name if host == "-" else f"{name}/{host}"
        if isinstance(row, str):
            print(f"  {label:<22}  failed: {row}")
            continue
        peer = rows.get(("aiohttp", host if host in ("asyncio", "uvloop") else "asyncio"))
        ratio = f"{row[0] / peer[0]:.2f}x" if isinstance(peer, tuple) else "-"
        print(f"  {label:<22}{row[0]:>12,.0f}{row[1]:>12.1f}{ratio:>12}")


if __name__ == "__main__":
    raise SystemExit(main())
