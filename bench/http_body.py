"""Benchmark: chunked response bodies through h11's own reader vs the batch de-chunker.

Usage::

    python bench/http_body.py [--rounds N] [--quick]

Contestants, run side by side in one process, alternating (A B C A B C ...), medians reported:

* ``h11 alone``: a bare ``h11.Connection`` and its ``next_event`` loop (the floor of the h11 path);
* ``ClientConnection(body_reader="h11")``: our layer over h11's chunked reader;
* ``ClientConnection(body_reader="batch")``: our layer over the batch de-chunker, fed ``bytes``;
* ``... "batch", views``: the same fed as the client feeds it, a ``memoryview`` per receive
  (``BatchDechunker.feed_view``; a transport's view of its reused read buffer). The receives are
  copied into ``bytearray`` s before the clock starts, as the other contestants get their
  ``bytes`` ready-made: the kernel's copy is in neither.

Workloads: an SSE-like body of 20,000 chunks of ~200 bytes (one HTTP chunk per event, what LLM
servers send), fed in 64 KiB receive slices (as a 64 KiB socket read gives them) and one receive
per chunk (as a live stream arrives); the same events as a close-delimited body, one receive per
event; a large body of 64 KiB chunks in 64 KiB slices. Only the sans-IO work is timed (no
socket): this isolates the per-chunk cost of the body reader. Prints chunks/s (events/s for the
close-delimited body), MB/s and the ratio to ``h11 alone``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version

import h11

from reactsse.http import ClientConnection, parse_url

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
SLICE = 64 * 1024
URL = parse_url("http://127.0.0.1:8000/v1/chat/completions")


def _sse_body(events: int) -> tuple[bytes, int, int]:
    """One HTTP chunk per SSE event of ~200 bytes; returns (wire, chunks, body bytes)."""
    wire = bytearray(HEAD)
    total = 0
    for i in range(events):
        event = (
            b'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,'
            b'"model":"gpt-x","choices":[{"index":0,"delta":{"content":" tok%06d"},'
            b'"finish_reason":null}]}\n\n' % i
        )
        wire += b"%x\r\n%s\r\n" % (len(event), event)
        total += len(event)
    wire += b"0\r\n\r\n"
    return bytes(wire), events, total


def _sse_close_delimited(events: int) -> tuple[bytes, list[bytes], int]:
    """The same events without chunked framing (a close-delimited body), one receive each."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    pieces = [head]
    for i in range(events):
        pieces.append(
            b'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,'
            b'"model":"gpt-x","choices":[{"index":0,"delta":{"content":" tok%06d"},'
            b'"finish_reason":null}]}\n\n' % i
        )
    return b"".join(pieces), pieces, sum(len(p) for p in pieces[1:])


def _large_body(chunks: int) -> tuple[bytes, int, int]:
    payload = bytes(range(256)) * 256  # 64 KiB
    wire = bytearray(HEAD)
    for _ in range(chunks):
        wire += b"%x\r\n%s\r\n" % (len(payload), payload)
    wire += b"0\r\n\r\n"
    return bytes(wire), chunks, chunks * len(payload)


def _slices(wire: bytes) -> list[bytes]:
    return [wire[i : i + SLICE] for i in range(0, len(wire), SLICE)]


def _per_chunk(wire: bytes) -> list[bytes]:
    """One receive per HTTP chunk, as a live token stream arrives (the head comes alone)."""
    head_end = wire.index(b"\r\n\r\n") + 4
    pieces = [wire[:head_end]]
    pos = head_end
    while pos < len(wire):
        line_end = wire.index(b"\r\n", pos)
        end = line_end + 2 + int(wire[pos:line_end], 16) + 2
        if wire[pos:line_end] == b"0":
            end = len(wire)
        pieces.append(wire[pos:end])
        pos = end
    return pieces


def _run_h11_alone(slices: list[bytes]) -> int:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
    conn.send(h11.EndOfMessage())
    got = 0
    for piece in slices:
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if type(event) is h11.Data:
                got += len(event.data)
            elif event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                break
    return got


def _runner(reader: str) -> Callable[[list[bytes]], int]:
    def run(slices: list[bytes]) -> int:
        conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
        conn.send_request("GET", URL)
        got = 0
        for piece in slices:
            for event in conn.receive_data(piece):
                if type(event) is bytes:
                    got += len(event)
        return got

    return run


_BUFFERS: dict[int, list[bytearray]] = {}


def _prepare_views(slices: list[bytes]) -> None:
    """Copy each receive into a bytearray once, before any timing (see the docstring)."""
    _BUFFERS[id(slices)] = [bytearray(piece) for piece in slices]


def _run_batch_views(slices: list[bytes]) -> int:
    conn = ClientConnection(body_reader="batch")
    conn.send_request("GET", URL)
    got = 0
    for buffer in _BUFFERS[id(slices)]:
        data = memoryview(buffer)
        for event in conn.receive_data(data):
            if type(event) is bytes:
                got += len(event)
        data.release()
    return got


CONTESTANTS: list[tuple[str, Callable[[list[bytes]], int]]] = [
    ("h11 alone (next_event loop)", _run_h11_alone),
    ('ClientConnection(body_reader="h11")', _runner("h11")),
    ('ClientConnection(body_reader="batch")', _runner("batch")),
    ('ClientConnection("batch"), views', _run_batch_views),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="smaller bodies, 3 rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    sse = _sse_body(2_000 if args.quick else 20_000)
    workloads = [
        ("SSE: 20,000 chunks of ~200 B, 64 KiB receives", sse, _slices(sse[0])),
        ("SSE live: the same, one receive per chunk", sse, sse_pieces := _per_chunk(sse[0])),
        (
            "SSE live, close-delimited (no chunked framing), one receive per event",
            ((close := _sse_close_delimited(len(sse_pieces) - 2))[0], len(close[1]) - 1, close[2]),
            close[1],
        ),
        (
            "large: 64 KiB chunks, 64 MiB, 64 KiB receives",
            large := _large_body(64 if args.quick else 1024),
            _slices(large[0]),
        ),
    ]
    print(f"# bench/http_body.py  (python {platform.python_version()}, h11 {version('h11')},")
    print(f"#  {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, {rounds} rounds,")
    print("#  medians; the machine is shared and noisy: read the ratios, not the absolutes)")
    print()
    for title, (wire, chunks, body_bytes), slices in workloads:
        _prepare_views(slices)
        times: dict[str, list[float]] = {name: [] for name, _ in CONTESTANTS}
        for _ in range(rounds):
            for name, run in CONTESTANTS:
                start = time.perf_counter()
                got = run(slices)
                times[name].append(time.perf_counter() - start)
                if got != body_bytes:
                    sys.exit(f"{name} decoded {got} bytes, expected {body_bytes}")
        baseline = statistics.median(times[CONTESTANTS[0][0]])
        print(f"## {title} ({len(wire) / 1e6:.1f} MB on the wire, {len(slices)} receives)")
        print()
        ms, per_s, mb = "median ms", "chunks/s", "MB/s"
        print(f"| {'reader':<40} | {ms:>9} | {per_s:>11} | {mb:>7} | speed vs h11 alone |")
        print(f"|{'-' * 42}|{'-' * 10}:|{'-' * 12}:|{'-' * 8}:|{'-' * 19}:|")
        for name, _ in CONTESTANTS:
            median = statistics.median(times[name])
            print(
                f"| {name:<40} | {median * 1e3:>9.1f} | {chunks / median:>11,.0f} | "
                f"{body_bytes / median / 1e6:>7.0f} | {baseline / median:>17.2f}x |"
            )
        print()


if __name__ == "__main__":
    main()
