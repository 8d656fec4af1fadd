"""Benchmark: reactsse.server against aiohttp serving the same OpenAI chat stream, side by side.

Run: ``python bench/server.py`` (about a minute); ``--rounds N``, ``--tokens N``,
``--clients N`` to change the shape.

Every contestant is a server in its own process and streams the same bytes: the chat-completion
chunks of ``reactsse.mock`` (one token per event, ``rate=None``: as fast as the client
reads), ``Connection: close``, from the same iterator of events. The client (this process)
reads with plain sockets and a ``selectors`` loop, so its cost is the same for every
contestant. Two shapes:

``1 x N``       one client, one stream of ``--tokens`` events
``C x N/10``    ``--clients`` concurrent clients, each a stream of ``--tokens``/10 events

Contestants:

``reactsse``          ``SSEServer`` on ``StreamSelectLoop`` (batched writes through SocketTransport)
``reactsse, the mock's runs``  the same server with the mock app as it is: an untimed answer is
                      rendered in runs of encoded events (``EncodedEvents``), not event by event
``aiohttp``           ``web.StreamResponse``, one ``await resp.write(event)`` per event (the
                      aiohttp-sse idiom: one HTTP chunk per event), on the default asyncio loop
``aiohttp+uvloop``    the same on uvloop
``... batched``       the same, but 256 events joined per ``write`` (as reactsse does): shows how
                      much of the difference is batching rather than the loop

Rounds run the contestants one after the other (A B C A B C ...); the table shows the median
over rounds and the ratio to reactsse. Every contestant must deliver the same number of events
(checked).
"""

from __future__ import annotations

import argparse
import os
import platform
import selectors
import socket
import statistics
import subprocess
import sys
import time

from _peers import skip_missing  # bench/ is on the path: the script's own directory

# Both servers stream the same iterator of events, one Event per token: the mock's chat stream
# event by event (ChatStream.events), not the encoded runs the mock itself answers an untimed
# request with, so that what is compared is the serving of events.
_EVENTS = """
from reactsse.mock import MockOptions
from reactsse.mock.chat import ChatStream, parse_chat
from reactsse.mock.common import json_body
from reactsse.server import EventStream, Request

OPTIONS = MockOptions(reply_tokens=int(sys.argv[1]))

def chat_events(request):
    return ChatStream(parse_chat(json_body(request)), OPTIONS, 1, 0).events()
"""

_REACTSSE = (
    """
import sys
from reactsse.loop import StreamSelectLoop
from reactsse.mock import MockApp
from reactsse.server import SSEServer, ServerOptions
"""
    + _EVENTS
    + """
def app(request):
    return EventStream(chat_events(request))

if sys.argv[2] == "mock":
    app = MockApp(OPTIONS)  # the mock as it is: an untimed answer in encoded runs
loop = StreamSelectLoop()
server = SSEServer(loop, app=app,
    options=ServerOptions(keepalive_interval=None, idle_timeout=None, send_timeout=None))
print(server.port, flush=True)
loop.run()
"""
)

_AIOHTTP = (
    """
import asyncio, sys
from aiohttp import web
from reactsse.sse import encode_event
"""
    + _EVENTS
    + """
async def chat(request):
    body = await request.read()
    events = chat_events(Request("POST", "/v1/chat/completions", {}, body))
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    batch = []
    for event in events:
        chunk = encode_event(event.data, event=event.event, id=event.id, retry=event.retry)
        if sys.argv[3] == "each":
            await response.write(chunk)
            continue
        batch.append(chunk)
        if len(batch) == 256:  # as reactsse batches: up to 256 due events (or 64 KiB) a chunk
            await response.write(b"".join(batch))
            batch.clear()
    if batch:
        await response.write(b"".join(batch))
    await response.write_eof()
    return response

async def main():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""
)

CONTESTANTS: dict[str, tuple[str, ...]] = {
    "reactsse": (_REACTSSE, "events"),
    "reactsse, the mock's runs": (_REACTSSE, "mock"),
    "aiohttp": (_AIOHTTP, "asyncio", "each"),
    "aiohttp+uvloop": (_AIOHTTP, "uvloop", "each"),
    "aiohttp batched": (_AIOHTTP, "asyncio", "batched"),
    "aiohttp+uvloop batched": (_AIOHTTP, "uvloop", "batched"),
}


def _request(tokens: int) -> bytes:
    body = (
        b'{"model":"bench","stream":true,"max_tokens":%d,'
        b'"messages":[{"role":"user","content":"hello"}]}' % tokens
    )
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body


def _fetch_all(port: int, clients: int, tokens: int) -> tuple[float, int, int]:
    """Open ``clients`` streams at once; read each to EOF. Returns (seconds, bytes, events)."""
    selector = selectors.DefaultSelector()
    request = _request(tokens)
    socks = []
    started = time.perf_counter()
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, bytearray())
        socks.append(sock)
    open_count = clients
    total = 0
    events = 0
    while open_count:
        for key, _ in selector.select():
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            data = ready.recv(262144)
            if data:
                key.data.extend(data)
                continue
            selector.unregister(ready)
            ready.close()
            open_count -= 1
            total += len(key.data)
            events += key.data.count(b"\n\n")  # one blank line ends each event
    elapsed = time.perf_counter() - started
    selector.close()
    return elapsed, total, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    shapes = [(1, args.tokens), (args.clients, max(1, args.tokens // 10))]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    processes: dict[str, tuple[subprocess.Popen[str], int]] = {}
    needs: dict[str, tuple[str, ...]] = {
        name: ("aiohttp", "uvloop") if "uvloop" in name else ("aiohttp",) for name in CONTESTANTS
    }
    needs["reactsse"] = needs["reactsse, the mock's runs"] = ()
    contestants = {name: CONTESTANTS[name] for name in skip_missing(needs)}
    try:
        for name, (code, *modes) in contestants.items():
            proc = subprocess.Popen(
                [sys.executable, "-c", code, str(args.tokens), *modes],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert proc.stdout is not None
            processes[name] = (proc, int(proc.stdout.readline()))
        results: dict[tuple[str, int], list[float]] = {}
        counts: dict[tuple[str, int], set[int]] = {}
        mbytes: dict[tuple[str, int], float] = {}
        for shape in shapes:  # warm-up (imports, first request)
            for _name, (_proc, port) in processes.items():
                _fetch_all(port, *shape)
        for _ in range(args.rounds):
            for shape in shapes:
                for name, (_proc, port) in processes.items():
                    elapsed, total, events = _fetch_all(port, *shape)
                    results.setdefault((name, shape[0]), []).append(elapsed)
                    counts.setdefault((name, shape[0]), set()).add(events)
                    mbytes[(name, shape[0])] = total / 1e6
    finally:
        for proc, _port in processes.values():
            proc.terminate()
            proc.wait()
    print(f"# reactsse.server vs aiohttp: chat stream, median of {args.rounds} rounds")
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print()
    print("| shape | contestant | median s | events/s | MB/s | vs reactsse |")
    print("|---|---|---:|---:|---:|---:|")
    for clients, tokens in shapes:
        base = statistics.median(results[("reactsse", clients)])
        expected = counts[("reactsse", clients)]
        for name in contestants:
            key = (name, clients)
            if counts[key] != expected:
                print(f"!! {name} delivered {counts[key]} events, reactsse {expected}")
                return 1
            median = statistics.median(results[key])
            events = next(iter(counts[key]))
            print(
                f"| {clients} x {tokens} | {name} | {median:.3f} | {events / median:,.0f} | "
                f"{mbytes[key] / median:.1f} | {median / base:.2f}x time |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
