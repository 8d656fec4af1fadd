"""Benchmark: ``reactsse bench`` against aiohttp load scripts, side by side.

Run: ``python bench/bench_tool.py`` (several minutes); ``--connections N``, ``--duration S``,
``--rounds N``, ``--scale F``, ``--servers a,b``, ``--contestants a,b`` change the shape;
``--quick`` is a smoke run.

Every tool runs the same closed loop: ``--connections`` concurrent streams, each replaced as
soon as it ends, for ``--duration`` seconds after a one-second warm-up, and reports the events
received in that window per second. Three servers, each in its own process:

``prerendered``     bench/_prerendered_server.py, ``GET /openai``: chat-completion chunks
                    (``--scale`` of the 20,000-event corpus; 0.01 = 200 events a response) sent
                    pre-rendered, one thread per connection: the server does almost no work;
                    every response says ``Connection: close``: one connection per stream for all
``prerendered-ka``  the same server with ``--keep-alive``: it serves request after request on
                    a connection, so clients that keep connections alive skip the connect
``serve``           ``reactsse serve --rate 0 --reply-tokens 198``, ``POST
                    /v1/chat/completions``: the built-in OpenAI-compatible mock, as fast as the
                    client reads, 201 events a stream (one Python process; keeps connections
                    alive)

CPUs: where two are allowed, the server runs on one and each one-process client on the other,
so that a client has a core to itself ("one client process" made exact; unpinned, the same
contestant moved by up to a third between runs). ``reactsse bench -p 2`` runs unpinned, and the
server may use both CPUs meanwhile: it measures what a second process adds where the server
leaves CPU free.

Contestants (each a fresh process, against a fresh server; the order alternates every round,
medians over rounds):

``reactsse bench``           ``python -m reactsse bench URL -c N --duration S --warmup 1 --json``:
                             keep-alive (its default), and the measurements of docs/bench-tool.md
``reactsse bench -p 2``      the same spread over two client processes, merged
``reactsse bench --no-keep-alive``   one new connection per stream
``aiohttp measured``         EQUIVALENT: aiohttp (on uvloop when installed) measuring what
                             ``reactsse bench`` measures (time to the head and to the first event
                             per stream, the gap between events, stream durations, kept in lists,
                             p99 printed) with the usual SSE line handling (``async for line in
                             resp.content``: LF and CRLF endings, comments, fields, data joined;
                             not bare-CR endings), one connection per stream (``force_close``)
``aiohttp measured keep-alive``  EQUIVALENT, and reusing connections (aiohttp's default pool)
``aiohttp measured-blocks``  EQUIVALENT, the same measurements with the fastest parsing a user
                             would write: whole reads (``iter_any``), line endings normalised
                             (CRLF and bare CR), blocks split on blank lines, then their fields;
                             one clock reading per read, as ``reactsse bench`` does (and the
                             same with keep-alive)
``aiohttp lines``            counts events only, same line handling (not equivalent: no timing)
``aiohttp chunks``           counts events only, ``resp.content.iter_any()`` and a hand-written
                             block splitter (LF endings only: not an SSE parser; an upper bound)
``... uvloop``               the same on uvloop, when it is installed
``aiohttp chunks ... keep-alive``  the fastest counter, reusing connections

Every contestant counts dispatched events (data decoded to ``str``), not bytes. The table shows
events/s, the ratio to the best EQUIVALENT aiohttp script (same measurements, an SSE parser:
the ``measured`` variants) and to the best aiohttp script of any kind, the client's own CPU
use (a client near 100 % of a core is its own bottleneck), and the server's (near 100 % of its
core: the server is the limit, and the client's figure says more about the server than about
the client).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _cpus import allowed, cpu_pair, pinned, set_affinity  # bench/ is on the path
from _peers import installed, skip_missing

_HERE = Path(__file__).resolve().parent
_PROMPT = {"model": "bench", "messages": [{"role": "user", "content": "Tell me about Alice."}]}
_CHAT_BODY = json.dumps({**_PROMPT, "stream": True})
# Answers of 198 tokens: with the role chunk, the finish chunk and [DONE], 201 events a stream,
# as many as the pre-rendered server's responses at the default --scale.
_SERVE_TOKENS = 198

Result = dict[str, Any]  # one run's figures, as a contestant's JSON report gives them
Contestant = Callable[[str, str], Result]  # (url, request body) -> the run's figures

_AIOHTTP = r"""
import asyncio, json, resource, sys, time
import aiohttp

url, method, body, connections, duration, mode, loop_name, reuse = sys.argv[1:9]
connections, duration = int(connections), float(duration)
WARMUP = 1.0

# Each parser below writes the SSE field rules out in its own loop, as a user of aiohttp would:
# a helper called per line would slow the scripts that reactsse bench is compared against.

def count_lines():
    async def stream(session, state):
        async with session.request(method, url, data=body or None, headers=state["headers"]) as r:
            if r.status != 200:
                state["errors"] += 1
                await r.read()
                return
            data = []
            async for raw in r.content:
                line = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
                if not line:
                    if data:
                        "\n".join(data)
                        data = []
                        if state["measuring"]:
                            state["events"] += 1
                    continue
                if line[:1] == b":":
                    continue
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"data":
                    data.append(value.decode())
    return stream

def count_chunks():
    async def stream(session, state):
        async with session.request(method, url, data=body or None, headers=state["headers"]) as r:
            if r.status != 200:
                state["errors"] += 1
                await r.read()
                return
            buffer = b""
            async for chunk in r.content.iter_any():
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                n = 0
                for block in blocks:
                    values = [line[5:].lstrip(b" ").decode() for line in block.split(b"\n")
                              if line.startswith(b"data:")]
                    if values:
                        "\n".join(values)
                        n += 1
                if state["measuring"]:
                    state["events"] += n
    return stream

def timed(parse):
    # What reactsse bench measures, as a user of aiohttp would write it: per stream the time to
    # the response head (aiohttp's first byte), to the first event, between events, and the
    # whole duration, kept in lists. parse(response, state, samples, start) reads the events.
    samples = {"ttfb": [], "ttfe": [], "gap": [], "duration": []}

    async def stream(session, state):
        start = time.perf_counter()
        async with session.request(method, url, data=body or None, headers=state["headers"]) as r:
            head = time.perf_counter()
            if r.status != 200:
                state["errors"] += 1
                await r.read()
                return
            if state["measuring"]:
                samples["ttfb"].append(head - start)
            await parse(r, state, samples, start)
            if state["measuring"]:
                samples["duration"].append(time.perf_counter() - start)
    stream.samples = samples
    return stream

async def parse_lines(r, state, samples, start):
    # The usual SSE line handling (LF and CRLF endings, comments, the field/value split, one
    # leading space stripped, data lines joined; event and id kept); a clock reading per event.
    now = time.perf_counter
    data, event_type, last_id, last = [], "", "", None
    async for raw in r.content:
        line = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
        if not line:
            if data:
                ("\n".join(data), event_type or "message", last_id)
                data, event_type = [], ""
                t = now()
                if state["measuring"]:
                    state["events"] += 1
                    samples["ttfe" if last is None else "gap"].append(
                        t - (start if last is None else last))
                last = t
            continue
        if line[:1] == b":":
            continue
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data.append(value.decode())
        elif name == b"event":
            event_type = value.decode()
        elif name == b"id":
            last_id = value.decode()

async def parse_blocks(r, state, samples, start):
    # The fastest SSE parsing a user of aiohttp would write: whole reads (iter_any), line
    # endings normalised (CRLF and bare CR to LF, a CR at the end of a read held back in case
    # its LF is in the next one), blocks split on a blank line, then the fields of each block.
    # One clock reading per read: the events of one read arrive together.
    buffer, last_id, last = b"", "", None
    async for chunk in r.content.iter_any():
        buffer += chunk
        held = b""
        if buffer.endswith(b"\r"):
            buffer, held = buffer[:-1], b"\r"
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *blocks, buffer = buffer.split(b"\n\n")
        buffer += held
        n = 0
        for block in blocks:
            data, event_type = [], ""
            for line in block.split(b"\n"):
                if line[:1] == b":":
                    continue
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"data":
                    data.append(value.decode())
                elif name == b"event":
                    event_type = value.decode()
                elif name == b"id":
                    last_id = value.decode()
            if data:
                ("\n".join(data), event_type or "message", last_id)
                n += 1
        if n:
            t = time.perf_counter()
            if state["measuring"]:
                state["events"] += n
                samples["ttfe" if last is None else "gap"].append(
                    t - (start if last is None else last))
                samples["gap"].extend([0.0] * (n - 1))
            last = t

def p99_ms(values):
    values = sorted(values)
    return round(1000 * values[int(0.99 * (len(values) - 1))], 3) if values else None

async def main():
    modes = {"lines": count_lines, "chunks": count_chunks,
             "measured": lambda: timed(parse_lines), "measured-blocks": lambda: timed(parse_blocks)}
    stream = modes[mode]()
    headers = {"Accept": "text/event-stream"}
    if body:
        headers["Content-Type"] = "application/json"
    state = {"events": 0, "errors": 0, "measuring": False, "headers": headers}
    connector = aiohttp.TCPConnector(limit=0, force_close=reuse != "keep-alive")
    timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker():
            while True:
                try:
                    await stream(session, state)
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    state["errors"] += 1
        tasks = [asyncio.ensure_future(worker()) for _ in range(connections)]
        await asyncio.sleep(WARMUP)
        state["measuring"] = True
        cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await asyncio.sleep(duration)
        state["measuring"] = False
        cpu1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    # The window as it was (the loop may run the sleeps late), as reactsse bench measures it.
    result = {"per_s": state["events"] / (wall1 - wall0), "errors": state["errors"],
              "cpu": [100 * cpu / (wall1 - wall0)]}
    samples = getattr(stream, "samples", None)
    if samples is not None:
        result["p99_ms"] = {name: p99_ms(values) for name, values in samples.items()}
    print(json.dumps(result))

if loop_name == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


def _server_process(command: list[str], stdin: int) -> subprocess.Popen[str]:
    """Start a server on the server's CPU; it prints where it listens on stdout."""
    return subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.PIPE, text=True, preexec_fn=pinned(cpu_pair()[0])
    )


def _start_prerendered(scale: float, keep_alive: bool) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, str(_HERE / "_prerendered_server.py"), "--scale", str(scale)]
    if keep_alive:
        command.append("--keep-alive")
    server = _server_process(command, subprocess.PIPE)  # it serves until its stdin closes
    assert server.stdout is not None
    line = server.stdout.readline()
    return server, f"http://127.0.0.1:{line.split()[1]}/openai"


def _start_serve() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "reactsse", "serve", "--port", "0", "--rate", "0", "--quiet"]
    command += ["--reply-tokens", str(_SERVE_TOKENS)]
    server = _server_process(command, subprocess.DEVNULL)
    assert server.stdout is not None
    line = ""
    while "base_url:" not in line:  # "  OpenAI base_url: http://127.0.0.1:PORT/v1    demo ..."
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("reactsse serve did not start")
    base = line.split("base_url:")[1].split()[0]
    return server, f"{base}/chat/completions"


def _run_reactsse(
    url: str, body: str, args: argparse.Namespace, processes: int, keep_alive: bool = True
) -> Result:
    command = [sys.executable, "-m", "reactsse", "bench", url, "-q", "--json"]
    command += ["-c", str(args.connections), "--duration", str(args.duration), "--warmup", "1"]
    command += ["-p", str(processes)]
    if not keep_alive:
        command.append("--no-keep-alive")
    if body:
        command += ["-d", body]
    pin = cpu_pair()[1] if processes == 1 else None  # -p 2: spread over every CPU
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=600, preexec_fn=pinned(pin)
    )
    report = json.loads(out.stdout)
    errors = sum(report["errors"].values())
    cpu = [p["cpu_percent"] for p in report["client"]["processes"]]
    latency = report["latency_ms"]
    p99 = {name: latency[name]["p99"] for name in ("ttfb", "ttfe", "gap", "duration")}
    return {"per_s": report["events"]["per_s"], "errors": errors, "cpu": cpu, "p99_ms": p99}


def _run_aiohttp(
    url: str, body: str, args: argparse.Namespace, mode: str, loop: str, reuse: str
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(_AIOHTTP)
    try:
        command = [sys.executable, script.name, url, "POST" if body else "GET", body]
        command += [str(args.connections), str(args.duration), mode, loop, reuse]
        out = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
            preexec_fn=pinned(cpu_pair()[1]),
        )
    finally:
        os.unlink(script.name)
    result: Result = json.loads(out.stdout)
    return result


EQUIVALENT = "aiohttp measured"  # the aiohttp scripts that measure what reactsse bench does


def _print_table(server_name: str, url: str, results: dict[str, list[Result]]) -> None:
    medians = {n: statistics.median(r["per_s"] for r in rs) for n, rs in results.items()}
    aiohttp = {n: v for n, v in medians.items() if n.startswith("aiohttp")}
    equivalent = [v for n, v in aiohttp.items() if n.startswith(EQUIVALENT)]
    best_equivalent = max(equivalent) if equivalent else float("nan")  # nan: aiohttp skipped
    best_any = max(aiohttp.values()) if aiohttp else float("nan")
    print(f"\n## {server_name}: {url}\n")
    print(
        "| client | equivalent | events/s | × best equivalent aiohttp | × best aiohttp (any) "
        "| client CPU % | server CPU % | errors | p99 ms: ttfb / ttfe / gap / duration |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---|")
    for name, rs in results.items():
        middle = rs[len(rs) // 2]
        cpu = " / ".join(f"{c:.0f}" for c in middle["cpu"])
        server_cpu = middle.get("server_cpu")
        server = "-" if server_cpu is None else f"{server_cpu:.0f}"
        errors = sum(r["errors"] for r in rs)
        same = "yes" if name.startswith(("reactsse", EQUIVALENT)) else "no: counts only"
        p99 = middle.get("p99_ms")
        latencies = (
            " / ".join(_ms(p99[k]) for k in ("ttfb", "ttfe", "gap", "duration")) if p99 else "-"
        )
        print(
            f"| {name} | {same} | {medians[name]:,.0f} | {medians[name] / best_equivalent:.2f} "
            f"| {medians[name] / best_any:.2f} | {cpu} | {server} | {errors} | {latencies} |"
        )


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid``, all its threads (from /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _contestants(args: argparse.Namespace) -> dict[str, Contestant]:
    loops = ["asyncio", "uvloop"] if installed("uvloop") else ["asyncio"]
    if not installed("uvloop"):
        skip_missing({"aiohttp uvloop": ("uvloop",)})
    if not skip_missing({"aiohttp": ("aiohttp",)}):
        loops = []
    contestants: dict[str, Contestant] = {
        "reactsse bench": lambda url, body: _run_reactsse(url, body, args, 1),
        "reactsse bench -p 2": lambda url, body: _run_reactsse(url, body, args, 2),
        "reactsse bench --no-keep-alive": lambda url, body: _run_reactsse(
            url, body, args, 1, keep_alive=False
        ),
    }
    if not loops:
        return contestants
    best = loops[-1]  # uvloop when installed
    suffix = "" if best == "asyncio" else " uvloop"

    def aiohttp(mode: str, loop: str, reuse: str) -> Contestant:
        return lambda url, body: _run_aiohttp(url, body, args, mode, loop, reuse)

    for mode in ("measured", "measured-blocks"):
        for reuse in ("close", "keep-alive"):
            name = f"aiohttp {mode}{suffix}" + (" keep-alive" if reuse == "keep-alive" else "")
            contestants[name] = aiohttp(mode, best, reuse)
    for loop in loops:
        loop_suffix = "" if loop == "asyncio" else " uvloop"
        for mode in ("lines", "chunks"):
            contestants[f"aiohttp {mode}{loop_suffix}"] = aiohttp(mode, loop, "close")
    contestants[f"aiohttp chunks{suffix} keep-alive"] = aiohttp("chunks", best, "keep-alive")
    return contestants


SERVERS = ("prerendered", "prerendered-ka", "serve")
SPREAD = "reactsse bench -p 2"  # the contestant that runs unpinned, the server unpinned too


def _any_port(url: str) -> str:
    """``url`` with its port shown as ``PORT``: each run had a server of its own."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=f"{parts.hostname}:PORT").geturl()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"comma-separated, of: {', '.join(SERVERS)}"
    )
    parser.add_argument(
        "--contestants",
        help="comma-separated names from the table's first column (default: all of them)",
    )
    parser.add_argument("--quick", action="store_true", help="100 connections, 2 s, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.duration, args.rounds = 100, 2.0, 1
    servers = args.servers.split(",")
    if not set(servers) <= set(SERVERS):
        parser.error(f"--servers: one or more of {', '.join(SERVERS)}")
    contestants = _contestants(args)
    if args.contestants:
        wanted = [name.strip() for name in args.contestants.split(",")]
        unknown = [name for name in wanted if name not in contestants]
        if unknown:
            parser.error(f"--contestants: unknown {unknown}; known: {list(contestants)}")
        contestants = {name: contestants[name] for name in wanted}
    load = os.getloadavg()
    print(
        f"# reactsse bench vs aiohttp load scripts: {args.connections} connections, "
        f"{args.duration:g} s after 1 s warm-up, median of {args.rounds} rounds"
    )
    print(
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} at start"
    )
    server_cpu, client_cpu = cpu_pair()
    if server_cpu is None:
        print("# not pinned: fewer than two CPUs allowed")
    else:
        print(
            f"# pinned: the server on CPU {server_cpu}, each one-process client on CPU "
            f"{client_cpu}; `{SPREAD}` and the server during it on every CPU"
        )
    starts: dict[str, tuple[Callable[[], tuple[subprocess.Popen[str], str]], str]] = {
        "prerendered": (lambda: _start_prerendered(args.scale, False), ""),
        "prerendered-ka": (lambda: _start_prerendered(args.scale, True), ""),
        "serve": (_start_serve, _CHAT_BODY),
    }
    for server_name in servers:
        start, body = starts[server_name]
        results: dict[str, list[Result]] = {name: [] for name in contestants}
        names = list(contestants)
        url = ""
        for round_number in range(args.rounds):
            order = names if round_number % 2 == 0 else names[::-1]
            for name in order:
                # A fresh server, on a fresh port, for every run: a contestant that ends its
                # streams with "Connection: close" leaves the server thousands of connections
                # in TIME-WAIT, and the next contestant's connects that land on one of those
                # (same client port, same server port) are refused until a SYN retransmission,
                # a second or more later: measured, p99 times to first byte of 2.4-5.6 s
                # instead of under 1 s, whichever client came next.
                server, url = start()
                try:
                    if name == SPREAD and server_cpu is not None:
                        set_affinity(server.pid, allowed())
                    cpu0, wall0 = _cpu_seconds(server.pid), time.monotonic()
                    result = contestants[name](url, body)
                    cpu1, wall1 = _cpu_seconds(server.pid), time.monotonic()
                    if cpu0 is not None and cpu1 is not None:
                        # Over the contestant's whole run, its start-up and warm-up included.
                        result["server_cpu"] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
                    results[name].append(result)
                finally:
                    server.terminate()
                    server.wait(10)
        _print_table(server_name, _any_port(url), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
