"""Benchmark: the event-stream decoder (reactsse.sse) against its Python peers, side by side.

Run: ``python bench/sse.py`` (about 2-3 minutes); ``--rounds N``, ``--scale F`` (event counts),
``--corpus NAME`` (repeatable) to narrow it down.

Every contestant decodes the same bytes, fed as a list of chunks: 16 KiB chunks (what a socket
read typically gives) and one chunk per event (where the per-``feed`` cost shows). The
contestants run one after the other inside each round (A B C ... A B C ...), and the table shows
the median over the rounds (of process CPU time), so that a noisy neighbour hurts every
contestant alike.

Contestants:

``reactsse``        ``EventStreamDecoder.feed`` (spec-exact)
``httpx-sse``       httpx-sse's ``SSELineDecoder`` + ``SSEDecoder``, fed by an incremental UTF-8
                    decoder, as ``EventSource.iter_sse`` does over ``httpx.Response.iter_text``
``openai``          the openai SDK's ``SSEDecoder.iter_bytes``
``sseclient-py``    ``SSEClient(chunks).events()``
``naive-split``     a "naive split on \\n\\n", not spec-compliant: CRLF -> LF, split on
                    ``\\n\\n``, decode each block, keep its ``data: `` values (joined by LF) and
                    ``event: `` value, a list of (type, data) per chunk: the pure-Python ceiling
                    of a parser that ignores the spec's corner cases
``scan-floor``      ``bytes.count(b"\\n")`` over every chunk: the cost of touching every byte

Every contestant except the scan floor must report the same number of events (checked).

Garbage collection: the peers' SDKs (openai, httpx) put ~100,000 objects in the heap, and every
full collection walks them. By default the script calls ``gc.freeze()`` after its imports, so
that the timings measure the decoders rather than the size of the imported libraries (all
contestants alike). ``--no-gc-freeze`` keeps them: then a decoder that returns a list of events
per chunk (reactsse: ~1,800 tiny events per 16 KiB chunk) pays more than the pull-based peers,
whose events die one by one before any collection sees them.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora
from _peers import installed

from reactsse.sse import EventStreamDecoder

# The peers are imported here (an import inside a timed run would be timed); a peer that is not
# installed (the bench extra) is left out of the run.
if installed("sseclient"):
    import sseclient
if installed("httpx_sse"):
    from httpx_sse._decoders import SSEDecoder as _HttpxSSEDecoder
    from httpx_sse._decoders import SSELineDecoder as _HttpxSSELineDecoder
if installed("openai"):
    from openai._streaming import SSEDecoder as _OpenAISSEDecoder

Chunks = Sequence[bytes]
Contestant = Callable[[Chunks], int]


def _reactsse(chunks: Chunks) -> int:
    decoder = EventStreamDecoder()
    feed = decoder.feed
    count = 0
    for chunk in chunks:
        count += len(feed(chunk))
    return count + len(decoder.close())


def _httpx_sse(chunks: Chunks) -> int:
    text_decoder = codecs.getincrementaldecoder("utf-8")("replace")  # httpx's TextDecoder
    lines = _HttpxSSELineDecoder()
    decoder = _HttpxSSEDecoder()
    count = 0
    for chunk in chunks:
        for line in lines.decode(text_decoder.decode(chunk)):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    for line in lines.flush():
        if decoder.decode(line.rstrip("\n")) is not None:
            count += 1
    return count


def _openai(chunks: Chunks) -> int:
    return sum(1 for _ in _OpenAISSEDecoder().iter_bytes(iter(chunks)))


def _sseclient(chunks: Chunks) -> int:
    return sum(1 for _ in sseclient.SSEClient(iter(chunks)).events())


def _naive_split(chunks: Chunks) -> int:
    # A "naive split on \n\n": not spec-compliant, but a parser all the same, so that
    # the ratio compares like with like. Per chunk: append to a buffer, CRLF -> LF, split the
    # buffer on b"\n\n"; per block: split its lines on b"\n", keep the values of the "data: "
    # lines, joined by b"\n", and of an "event: " line, each decoded (UTF-8, replace); per chunk
    # a list of (type, data) tuples, as a decoder returns. Working on bytes is the faster of the
    # two obvious ways (decoding each block to str, then splitting, measured ~15% slower). Not
    # done: lone CR, BOM, "data:" without the space, id/retry, comments, a blank line made of a
    # CRLF split between chunks, limits; the buffer is re-joined and rescanned on every chunk.
    buffer = b""
    count = 0
    for chunk in chunks:
        buffer += chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        blocks = buffer.split(b"\n\n")
        buffer = blocks.pop()
        events: list[tuple[str, str]] = []
        for block in blocks:
            event_type = "message"
            data: list[bytes] = []
            for line in block.split(b"\n"):
                if line[:6] == b"data: ":
                    data.append(line[6:])
                elif line[:7] == b"event: ":
                    event_type = line[7:].decode("utf-8", "replace")
            events.append((event_type, b"\n".join(data).decode("utf-8", "replace")))
        count += len(events)
    return count


def _scan_floor(chunks: Chunks) -> int:
    return sum(chunk.count(b"\n") for chunk in chunks)


CONTESTANTS: dict[str, Contestant] = {
    "reactsse": _reactsse,
    "httpx-sse": _httpx_sse,
    "openai": _openai,
    "sseclient-py": _sseclient,
    "naive-split": _naive_split,
    "scan-floor": _scan_floor,
}
# name -> the package that was not installed
SKIPPED: dict[str, str] = {}
for _name, _package in (
    ("httpx-sse", "httpx_sse"),
    ("openai", "openai"),
    ("sseclient-py", "sseclient"),
):
    if not installed(_package):
        del CONTESTANTS[_name]
        SKIPPED[_name] = _package
PEERS = ("httpx-sse", "openai", "sseclient-py")


def _responses_corpus(scale: float) -> tuple[str, tuple[bytes, ...]]:
    """A Responses API stream: named events (``event:`` + ``data:``), mostly text deltas."""
    n = max(3, round(20_000 * scale))
    words = (" the", " loop", " ticks", ",", " café", " 日本", " 🙂", "\n", " done", ".")
    response = {"id": "resp_67c9fdcecf488190bdd9a0409de3a1ec", "object": "response"}
    events: list[bytes] = []

    def add(kind: str, payload: dict[str, object]) -> None:
        payload = {"type": kind, "sequence_number": len(events), **payload}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        events.append(f"event: {kind}\ndata: {text}\n\n".encode())

    add("response.created", {"response": {**response, "status": "in_progress"}})
    for i in range(n - 2):
        add(
            "response.output_text.delta",
            {
                "item_id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b1c3",
                "output_index": 0,
                "content_index": 0,
                "delta": words[i % len(words)],
                "logprobs": [],
            },
        )
    add("response.completed", {"response": {**response, "status": "completed"}})
    return "responses", tuple(events)


def _corpora_list(names: Sequence[str], scale: float) -> list[tuple[str, tuple[bytes, ...]]]:
    out: list[tuple[str, tuple[bytes, ...]]] = []
    for name in names:
        if name == "responses":
            out.append(_responses_corpus(scale))
        else:
            out.append((name, _corpora.build(name, scale).events))
    return out


def _chunk(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def _time(contestant: Contestant, chunks: Chunks) -> tuple[float, int]:
    # CPU time of this process, not wall time: every contestant is pure CPU work in this one
    # thread, and on a shared machine the time spent descheduled is noise, not cost.
    gc.collect()
    start = time.process_time()
    count = contestant(chunks)
    return time.process_time() - start, count


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one table per corpus and chunking; returns 0 (1 on mismatch)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    all_names = ["openai", "tiny", "multiline", "responses", "large"]
    parser.add_argument("--corpus", action="append", choices=all_names)
    parser.add_argument("--contestant", action="append", choices=list(CONTESTANTS))
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="keep the imported modules' objects in the collected heap (see the docstring)",
    )
    args = parser.parse_args(argv)
    if not args.no_gc_freeze:
        gc.freeze()
    names = args.corpus or all_names
    contestants = {
        k: v for k, v in CONTESTANTS.items() if not args.contestant or k in args.contestant
    }
    contestants.setdefault("reactsse", _reactsse)

    print(
        f"# bench/sse.py: Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {args.rounds} rounds, scale {args.scale}, "
        f"gc.freeze() {'off' if args.no_gc_freeze else 'on'}; medians of process CPU time"
    )
    for peer, package in SKIPPED.items():
        print(
            f"skipped {peer}: {package} not installed (pip install -e '.[bench]' brings every peer)"
        )
    ok = True
    for name, events in _corpora_list(names, args.scale):
        stream = b"".join(events)
        for label, chunks in (
            ("16 KiB chunks", _chunk(stream, 16 * 1024)),
            ("1 chunk/event", list(events)),
        ):
            times: dict[str, list[float]] = {k: [] for k in contestants}
            counts: dict[str, int] = {}
            for _ in range(args.rounds):
                for key, contestant in contestants.items():
                    elapsed, count = _time(contestant, chunks)
                    times[key].append(elapsed)
                    counts[key] = count
            expected = counts["reactsse"]
            mb = len(stream) / 1e6
            print(f"\n## {name}: {len(events):,} events, {mb:.1f} MB, {label}")
            print(f"{'contestant':<14} {'events/s':>12} {'MB/s':>9} {'reactsse is':>12}  events")
            base = statistics.median(times["reactsse"])
            for key in contestants:
                median = statistics.median(times[key])
                flag = ""
                if key != "scan-floor" and counts[key] != expected:
                    flag = f"  MISMATCH (reactsse: {expected})"
                    ok = False
                print(
                    f"{key:<14} {len(events) / median:>12,.0f} {mb / median:>9.1f} "
                    f"{median / base:>11.2f}x  {counts[key]:,}{flag}"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
