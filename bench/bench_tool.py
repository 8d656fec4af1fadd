"""Benchmark: ``reactsse bench`` against an equivalent aiohttp load script, side by side.

Run: ``python bench/bench_tool.py`` (a few minutes); ``--connections N``, ``--duration S``,
``--rounds N``, ``--scale F`` change the shape; ``--quick`` is a smoke run.

Both tools run the same closed loop: ``--connections`` concurrent streams, each replaced as soon
as it ends, for ``--duration`` seconds after a one-second warm-up, and report the events
received in that window per second. Two servers, each in its own process:

``prerendered``  bench/_prerendered_server.py, ``GET /openai``: chat-completion chunks
                 (``--scale`` of the 20,000-event corpus; 0.01 = 200 events a response) sent
                 pre-rendered, one thread per connection: the server does almost no work
``serve``        ``reactsse serve --rate 0``, ``POST /v1/chat/completions``: the built-in
                 OpenAI-compatible mock, as fast as the client reads (one Python process)

Contestants (each a fresh process; the order alternates every round, medians over rounds):

``reactsse bench``        ``python -m reactsse bench URL -c N --duration S --warmup 1 --json``
``reactsse bench -p 2``   the same spread over two client processes, merged
``aiohttp lines``         aiohttp, ``async for line in resp.content`` and the usual hand-written
                          SSE field handling (what aiohttp SSE clients do)
``aiohttp chunks``        aiohttp, ``resp.content.iter_any()`` and a hand-written block splitter
                          (LF endings only: faster than a real parser, favourable to aiohttp)
``... uvloop``            the same on uvloop, when it is installed
``... keep-alive``        the fastest variant, reusing connections between streams (aiohttp's
                          default pool); every other contestant, like ``reactsse bench``, opens
                          one connection per stream (the prerendered server closes each anyway)

Every contestant counts dispatched events (data decoded to ``str``), not bytes. The table shows
events/s, the ratio to the best aiohttp variant with one connection per stream, and the
client's own CPU use (a client near 100 % of a core is its own bottleneck).
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
from pathlib import Path

from _peers import installed, skip_missing  # bench/ is on the path: the script's own directory

_HERE = Path(__file__).resolve().parent
_PROMPT = {"model": "bench", "messages": [{"role": "user", "content": "Tell me about Alice."}]}
_CHAT_BODY = json.dumps({**_PROMPT, "stream": True})

_AIOHTTP = r"""
import asyncio, json, resource, sys, time
import aiohttp

url, method, body, connections, duration, mode, loop_name, reuse = sys.argv[1:9]
connections, duration = int(connections), float(duration)
WARMUP = 1.0

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

async def main():
    stream = count_lines() if mode == "lines" else count_chunks()
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
    print(json.dumps({"per_s": state["events"] / duration, "errors": state["errors"],
                      "cpu": [100 * cpu / (wall1 - wall0)]}))

if loop_name == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


def _start_prerendered(scale: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(_HERE / "_prerendered_server.py"), "--scale", str(scale)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    return server, f"http://127.0.0.1:{line.split()[1]}/openai"


def _start_serve() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "serve", "--port", "0", "--rate", "0", "--quiet"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = ""
    while "base_url:" not in line:  # "  OpenAI base_url: http://127.0.0.1:PORT/v1    demo ..."
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("reactsse serve did not start")
    base = line.split("base_url:")[1].split()[0]
    return server, f"{base}/chat/completions"


def _run_reactsse(url: str, body: str, args: argparse.Namespace, processes: int) -> dict:
    command = [sys.executable, "-m", "reactsse", "bench", url, "-q", "--json"]
    command += ["-c", str(args.connections), "--duration", str(args.duration), "--warmup", "1"]
    command += ["-p", str(processes)]
    if body:
        command += ["-d", body]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    report = json.loads(out.stdout)
    errors = sum(report["errors"].values())
    cpu = [p["cpu_percent"] for p in report["client"]["processes"]]
    return {"per_s": report["events"]["per_s"], "errors": errors, "cpu": cpu}


def _run_aiohttp(
    url: str, body: str, args: argparse.Namespace, mode: str, loop: str, reuse: str
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(_AIOHTTP)
    try:
        command = [sys.executable, script.name, url, "POST" if body else "GET", body]
        command += [str(args.connections), str(args.duration), mode, loop, reuse]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    finally:
        os.unlink(script.name)
    result: dict = json.loads(out.stdout)
    return result


def _print_table(server_name: str, url: str, results: dict[str, list[dict]]) -> None:
    medians = {n: statistics.median(r["per_s"] for r in rs) for n, rs in results.items()}
    peers = [v for n, v in medians.items() if n.startswith("aiohttp") and "keep-alive" not in n]
    best_aiohttp = max(peers) if peers else float("nan")  # nan: aiohttp was skipped
    print(f"\n## {server_name}: {url}\n")
    print("| client | events/s | × best aiohttp | client CPU % | errors |")
    print("|---|---:|---:|---|---:|")
    for name, rs in results.items():
        cpu = " / ".join(f"{c:.0f}" for c in rs[len(rs) // 2]["cpu"])
        errors = sum(r["errors"] for r in rs)
        print(
            f"| {name} | {medians[name]:,.0f} | {medians[name] / best_aiohttp:.2f} "
            f"| {cpu} | {errors} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--quick", action="store_true", help="100 connections, 2 s, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.duration, args.rounds = 100, 2.0, 1
    loops = ["asyncio", "uvloop"] if installed("uvloop") else ["asyncio"]
    if not installed("uvloop"):
        skip_missing({"aiohttp uvloop": ("uvloop",)})
    if not skip_missing({"aiohttp": ("aiohttp",)}):
        loops = []
    contestants = {
        "reactsse bench": lambda url, body: _run_reactsse(url, body, args, 1),
        "reactsse bench -p 2": lambda url, body: _run_reactsse(url, body, args, 2),
    }
    for loop in loops:
        suffix = "" if loop == "asyncio" else " uvloop"
        for mode in ("lines", "chunks"):
            contestants[f"aiohttp {mode}{suffix}"] = lambda url, body, mode=mode, loop=loop: (
                _run_aiohttp(url, body, args, mode, loop, "close")
            )
    if loops:
        contestants[f"aiohttp chunks{suffix} keep-alive"] = lambda url, body: _run_aiohttp(
            url, body, args, "chunks", loops[-1], "keep-alive"
        )
    load = os.getloadavg()
    print(
        f"# reactsse bench vs aiohttp load scripts: {args.connections} connections, "
        f"{args.duration:g} s after 1 s warm-up, median of {args.rounds} rounds"
    )
    print(
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} at start"
    )
    for server_name, start, body in (
        ("prerendered", lambda: _start_prerendered(args.scale), ""),
        ("serve", _start_serve, _CHAT_BODY),
    ):
        server, url = start()
        try:
            results: dict[str, list[dict]] = {name: [] for name in contestants}
            names = list(contestants)
            for round_number in range(args.rounds):
                order = names if round_number % 2 == 0 else names[::-1]
                for name in order:
                    results[name].append(contestants[name](url, body))
        finally:
            server.terminate()
            server.wait(10)
        _print_table(server_name, url, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
