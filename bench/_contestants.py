"""Internal: the contestants of the end-to-end client benchmark, and the worker that runs one.

bench/client.py runs every measurement in a fresh process::

    python bench/_contestants.py CONTESTANT BASE_URL CORPUS [--no-warmup] [--profile FILE]

The worker imports the contestant's libraries (timed: ``import_s``), makes one warm-up request
(``BASE_URL/warm/CORPUS``: 20 events, so lazy imports, regex compiles and the like are paid before
the clock starts), then the measured request, and prints one JSON line: the :class:`Measurement`.

Every contestant starts its clock (``t0``) just before the call that opens the connection and sends
the request; objects a program would build once (an ``httpx.Client``, an ``aiohttp.ClientSession``,
an ``openai.OpenAI``) are built before it. ``first_s`` is when the first event (or, for the floors,
the first byte / first complete HTTP chunk) was in the program's hands, ``elapsed_s`` when the last
one was, both measured from ``t0``. Every SSE contestant touches every event's ``data`` as a ``str``
(it sums the lengths: ``data_chars``), so that no client can win by leaving the decoding undone.

The few lines that count an event and time the first (``chars += ...; count += 1``) are written
out in every contestant's own loop, not shared through a function: a call per event would add the
same overhead to every contestant and shift every figure against the recorded ones.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

perf_counter = time.perf_counter


@dataclass
class Measurement:
    """What one run reports; ``None`` where a contestant cannot know it (raw floor: events)."""

    events: int | None
    first_s: float
    elapsed_s: float
    data_chars: int | None = None
    wire_bytes: int | None = None  # the raw floor: every byte of the response, head included
    body_bytes: int | None = None  # the h11 floor: de-chunked body bytes
    import_s: float = 0.0


Runner = Callable[[str, str], Measurement]


@dataclass(frozen=True)
class Contestant:
    """A client under test: ``kind`` is "floor", "peer" or "reactsse"; ``modules`` are imported
    before the clock (timed as ``import_s``); ``corpora`` limits where it can run (None: all)."""

    name: str
    kind: str
    description: str
    modules: tuple[str, ...]
    run: Runner
    corpora: tuple[str, ...] | None = None


def _host_port(base: str) -> tuple[str, int, str]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path


# --- floors ----------------------------------------------------------------------------------


def _raw_recv(base: str, corpus: str) -> Measurement:
    """Floor: one blocking socket, ``recv`` until the server closes; no HTTP, no SSE."""
    import socket

    host, port, prefix = _host_port(base)
    request = f"GET {prefix}/{corpus} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    first = 0.0
    total = 0
    t0 = perf_counter()
    with socket.create_connection((host, port)) as sock:
        sock.sendall(request)
        recv = sock.recv
        data = recv(262144)
        first = perf_counter()
        while data:
            total += len(data)
            data = recv(262144)
        end = perf_counter()
    return Measurement(None, first - t0, end - t0, wire_bytes=total)


def _recv_h11(base: str, corpus: str) -> Measurement:
    """Floor: ``recv`` + h11 de-chunking, counting complete HTTP chunks; no SSE parsing."""
    import socket

    import h11

    host, port, prefix = _host_port(base)
    conn = h11.Connection(h11.CLIENT)
    chunks = 0
    body = 0
    first = 0.0
    t0 = perf_counter()
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            conn.send(
                h11.Request(
                    method="GET",
                    target=f"{prefix}/{corpus}",
                    headers=[("Host", f"{host}:{port}"), ("Accept", "text/event-stream")],
                )
            )
            + (conn.send(h11.EndOfMessage()) or b"")
        )
        data_type = h11.Data
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(262144))
            elif type(event) is data_type:
                body += len(event.data)
                if event.chunk_end:
                    chunks += 1
                    if chunks == 1:
                        first = perf_counter()
            elif type(event) is h11.EndOfMessage:
                break
            elif type(event) is h11.Response:
                assert event.status_code == 200, event
        end = perf_counter()
    return Measurement(chunks, first - t0, end - t0, body_bytes=body)


# --- peers -----------------------------------------------------------------------------------


def _httpx_sse_sync(base: str, corpus: str) -> Measurement:
    """httpx.Client + httpx_sse.connect_sse / iter_sse."""
    import httpx
    import httpx_sse

    count = chars = 0
    first = 0.0
    with httpx.Client() as client:
        t0 = perf_counter()
        with httpx_sse.connect_sse(client, "GET", f"{base}/{corpus}") as source:
            for sse in source.iter_sse():
                chars += len(sse.data)
                count += 1
                if count == 1:
                    first = perf_counter()
        end = perf_counter()
    return Measurement(count, first - t0, end - t0, data_chars=chars)


def _httpx_sse_async(base: str, corpus: str) -> Measurement:
    """httpx.AsyncClient + httpx_sse.aconnect_sse / aiter_sse, on asyncio."""
    import httpx
    import httpx_sse

    async def main() -> Measurement:
        count = chars = 0
        first = 0.0
        async with httpx.AsyncClient() as client:
            t0 = perf_counter()
            async with httpx_sse.aconnect_sse(client, "GET", f"{base}/{corpus}") as source:
                async for sse in source.aiter_sse():
                    chars += len(sse.data)
                    count += 1
                    if count == 1:
                        first = perf_counter()
            end = perf_counter()
        return Measurement(count, first - t0, end - t0, data_chars=chars)

    return asyncio.run(main())


def _aiohttp_main(base: str, corpus: str) -> Coroutine[Any, Any, Measurement]:
    """aiohttp: ``resp.content`` line iteration with the usual hand-written SSE field handling."""
    import aiohttp

    async def main() -> Measurement:
        count = chars = 0
        first = 0.0
        # aiohttp's defaults: read_bufsize 64 KiB, lines up to 128 KiB (enough for large's 64 KiB).
        async with aiohttp.ClientSession() as session:
            t0 = perf_counter()
            async with session.get(
                f"{base}/{corpus}", headers={"Accept": "text/event-stream"}
            ) as resp:
                resp.raise_for_status()
                data: list[str] = []
                event_type = last_id = ""
                async for raw in resp.content:
                    # aiohttp splits on LF only and keeps it; drop the LF and a CR before it.
                    line = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
                    if not line:
                        if data:
                            text = "\n".join(data)
                            chars += len(text)
                            count += 1
                            if count == 1:
                                first = perf_counter()
                            data = []
                        event_type = ""
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
                del event_type, last_id
            end = perf_counter()
        return Measurement(count, first - t0, end - t0, data_chars=chars)

    return main()


def _aiohttp_asyncio(base: str, corpus: str) -> Measurement:
    return asyncio.run(_aiohttp_main(base, corpus))


def _aiohttp_uvloop(base: str, corpus: str) -> Measurement:
    import uvloop

    return uvloop.run(_aiohttp_main(base, corpus))


def _requests_sseclient(base: str, corpus: str) -> Measurement:
    """requests (stream=True) + sseclient-py's SSEClient.events(), as its README shows."""
    import requests
    import sseclient

    count = chars = 0
    first = 0.0
    with requests.Session() as session:
        t0 = perf_counter()
        with session.get(
            f"{base}/{corpus}", stream=True, headers={"Accept": "text/event-stream"}
        ) as response:
            # The README passes the Response itself (its iteration yields the body bytes).
            for event in sseclient.SSEClient(response).events():  # type: ignore[arg-type]
                chars += len(event.data)
                count += 1
                if count == 1:
                    first = perf_counter()
        end = perf_counter()
    return Measurement(count, first - t0, end - t0, data_chars=chars)


def _openai_sdk(base: str, corpus: str) -> Measurement:
    """The openai SDK: chat.completions.create(stream=True); it consumes ``[DONE]`` itself."""
    import openai

    count = chars = 0
    first = 0.0
    with openai.OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0) as client:
        t0 = perf_counter()
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with stream:
            for chunk in stream:
                chars += len(chunk.choices[0].delta.content or "")
                count += 1
                if count == 1:
                    first = perf_counter()
        end = perf_counter()
    # The SDK swallows the terminator; count it so that every contestant reports wire events.
    return Measurement(count + 1, first - t0, end - t0)


# --- reactsse ---------------------------------------------------------------------------------


def _reactsse_connect(body_reader: Literal["batch", "h11"]) -> Runner:
    """reactsse.connect(): the blocking iterator (a private StreamSelectLoop underneath)."""

    def run(base: str, corpus: str) -> Measurement:
        from reactsse.eventsource import connect

        count = chars = 0
        first = 0.0
        t0 = perf_counter()
        with connect(
            f"{base}/{corpus}",
            reconnect=False,
            body_reader=body_reader,
        ) as events:
            for event in events:
                chars += len(event.data)
                count += 1
                if count == 1:
                    first = perf_counter()
        end = perf_counter()
        return Measurement(count, first - t0, end - t0, data_chars=chars)

    return run


def _reactsse_eventsource(body_reader: Literal["batch", "h11"]) -> Runner:
    """reactsse.EventSource with an ``on("*")`` callback on a StreamSelectLoop, loop.run()."""

    def run(base: str, corpus: str) -> Measurement:
        from reactsse.eventsource import EventSource
        from reactsse.loop import StreamSelectLoop
        from reactsse.sse import MessageEvent

        loop = StreamSelectLoop()
        count = chars = 0
        first = 0.0
        errors: list[Exception] = []

        def on_event(event: MessageEvent) -> None:
            nonlocal count, chars, first
            chars += len(event.data)
            count += 1
            if count == 1:
                first = perf_counter()

        t0 = perf_counter()
        source = EventSource(
            f"{base}/{corpus}",
            loop=loop,
            reconnect=False,
            body_reader=body_reader,
        )
        source.on("*", on_event)
        source.on("error", errors.append)
        loop.run()  # returns when the source closed: nothing is registered any more
        end = perf_counter()
        close = getattr(loop, "close", None)
        if callable(close):
            close()
        if errors:
            raise errors[0]
        return Measurement(count, first - t0, end - t0, data_chars=chars)

    return run


def _reactsse_openai(base: str, corpus: str) -> Measurement:
    """reactsse.openai.OpenAIClient.iter_chat(): the openai SDK's job (typed deltas)."""
    from reactsse.openai import OpenAIClient

    count = chars = 0
    first = 0.0
    client = OpenAIClient(api_key="bench", base_url=f"{base}/v1")
    t0 = perf_counter()
    with client.iter_chat([{"role": "user", "content": "hi"}], model="gpt-4o-mini") as deltas:
        for delta in deltas:
            chars += len(delta.content or "")
            count += 1
            if count == 1:
                first = perf_counter()
    end = perf_counter()
    # Like the SDK, it consumes [DONE] itself (and yields one delta per chunk here).
    return Measurement(count + 1, first - t0, end - t0)


async def _reactsse_aconnect_stream(base: str, corpus: str) -> Measurement:
    """reactsse.aio.aconnect(): ``async with`` / ``async for`` on the host's shared AnyioLoop."""
    from reactsse.aio import aconnect

    count = chars = 0
    first = 0.0
    t0 = perf_counter()  # entering the block opens the connection (aconnect() itself does not)
    async with aconnect(f"{base}/{corpus}", reconnect=False) as events:
        async for event in events:
            chars += len(event.data)
            count += 1
            if count == 1:
                first = perf_counter()
    end = perf_counter()
    return Measurement(count, first - t0, end - t0, data_chars=chars)


async def _reactsse_aconnect_main(base: str, corpus: str, held: bool) -> Measurement:
    """The stream alone (the shared loop is created for it, inside the measurement), or with
    the loop held open first, outside it, as aiohttp's contestant opens its session first."""
    if not held:
        return await _reactsse_aconnect_stream(base, corpus)
    from reactsse.aio import hold_shared_loop

    async with hold_shared_loop():
        return await _reactsse_aconnect_stream(base, corpus)


def _reactsse_aconnect(host: str, held: bool) -> Callable[[str, str], Measurement]:
    def run(base: str, corpus: str) -> Measurement:
        if host == "uvloop":
            import uvloop

            return uvloop.run(_reactsse_aconnect_main(base, corpus, held))
        return asyncio.run(_reactsse_aconnect_main(base, corpus, held))

    return run


_READERS: tuple[Literal["batch", "h11"], ...] = ("batch", "h11")

CONTESTANTS: dict[str, Contestant] = {
    c.name: c
    for c in (
        Contestant("raw-recv", "floor", "socket.recv loop, no HTTP/SSE", ("socket",), _raw_recv),
        Contestant("recv+h11", "floor", "recv + h11 de-chunking, no SSE", ("h11",), _recv_h11),
        Contestant(
            "httpx-sse", "peer", "httpx.Client + httpx-sse", ("httpx", "httpx_sse"), _httpx_sse_sync
        ),
        Contestant(
            "httpx-sse-async",
            "peer",
            "httpx.AsyncClient + httpx-sse, asyncio",
            ("httpx", "httpx_sse"),
            _httpx_sse_async,
        ),
        Contestant(
            "aiohttp", "peer", "aiohttp line iteration, asyncio", ("aiohttp",), _aiohttp_asyncio
        ),
        Contestant(
            "aiohttp-uvloop",
            "peer",
            "aiohttp line iteration, uvloop",
            ("aiohttp", "uvloop"),
            _aiohttp_uvloop,
        ),
        Contestant(
            "requests-sseclient",
            "peer",
            "requests stream=True + sseclient-py",
            ("requests", "sseclient"),
            _requests_sseclient,
        ),
        Contestant(
            "openai-sdk",
            "peer",
            "openai SDK chat.completions stream",
            ("openai",),
            _openai_sdk,
            corpora=("openai",),
        ),
        *(
            Contestant(
                f"reactsse-connect-{reader}",
                "reactsse",
                f"reactsse.connect() iterator, body_reader={reader!r}",
                ("reactsse.eventsource", "reactsse.loop"),
                _reactsse_connect(reader),
            )
            for reader in _READERS
        ),
        *(
            Contestant(
                f"reactsse-eventsource-{reader}",
                "reactsse",
                f"reactsse.EventSource callbacks on StreamSelectLoop, body_reader={reader!r}",
                ("reactsse.eventsource", "reactsse.loop"),
                _reactsse_eventsource(reader),
            )
            for reader in _READERS
        ),
        *(
            Contestant(
                "reactsse-aconnect"
                + ("-held" if held else "")
                + ("-uvloop" if host == "uvloop" else ""),
                "reactsse",
                f"reactsse.aio.aconnect() async iterator, {host}"
                + (", the shared loop held open first (hold_shared_loop)" if held else ""),
                ("reactsse.aio", "anyio", *(("uvloop",) if host == "uvloop" else ())),
                _reactsse_aconnect(host, held),
            )
            for held in (False, True)
            for host in ("asyncio", "uvloop")
        ),
        Contestant(
            "reactsse-openai",
            "reactsse",
            "reactsse OpenAIClient.iter_chat() iterator",
            ("reactsse.openai",),
            _reactsse_openai,
            corpora=("openai",),
        ),
    )
}


def main(argv: list[str] | None = None) -> None:
    """Worker entry point: run one contestant once on one corpus; print a JSON Measurement."""
    parser = argparse.ArgumentParser(description="run one benchmark measurement")
    parser.add_argument("contestant", choices=sorted(CONTESTANTS))
    parser.add_argument("base_url", help="http://127.0.0.1:PORT of bench/_prerendered_server.py")
    parser.add_argument("corpus")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up request")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the measured run into FILE")
    args = parser.parse_args(argv)
    contestant = CONTESTANTS[args.contestant]
    t = perf_counter()
    for module in contestant.modules:
        importlib.import_module(module)
    import_s = perf_counter() - t
    if not args.no_warmup:
        contestant.run(f"{args.base_url}/warm", args.corpus)
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(contestant.run, args.base_url, args.corpus)
        profiler.dump_stats(args.profile)
    else:
        result = contestant.run(args.base_url, args.corpus)
    result.import_s = import_s
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
