"""Large events: how the alignment of reads with events moves the client's cost.

Usage (from the repository root)::

    python bench/alignment.py                 # 9 rounds per alignment
    MALLOC_TRIM_THRESHOLD_=268435456 python bench/alignment.py   # glibc's heap trimming off

The large corpus (200 events of 64 KiB, one HTTP chunk each) goes through the client's pipeline
without a socket: 64 KiB "reads" of the chunked body (after a first read of ``FIRST`` bytes, so
that the reads meet the events at a different place each row), each copied into a reused buffer
as ``recv_into`` would, de-chunked by ``BatchDechunker.feed_view`` and decoded by
``EventStreamDecoder.feed``, one call each per read. A 64 KiB read of a stream of 64 KiB events
holds the end of one event and the start of the next; the first read fixes how big each part
is, and since an event on the wire (65,553 bytes) is only 17 bytes longer than a read, it stays
about the same for the whole stream. What each row shows:

* ``pipeline``: the median time over the rounds for the whole corpus (de-chunk + decode);
* ``decode``: the decoder alone, on bodies de-chunked beforehand and kept alive.

The decoder once split a read holding a short end and a long start with ``bytes.split``, a byte
loop: 11 to 20 us per read depending on the alignment (first read 62000 against 2048); now 12 to
14 us whatever the alignment. The other source of swings between runs is glibc, not this code:
``free`` gives memory back to the kernel when more than 128 KiB is free at the top of the heap,
and the next 64 KiB allocations fault fresh pages in. Whether that happens depends on the state
of the whole heap (a simpler harness than this one measured 3.5 to 21.7 ms for the same work, and
3.3 to 3.6 ms with the trimming off); run the second command to see it gone. Every client that
allocates and frees a few 64 KiB objects per read meets it; see docs/bench-client.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora  # bench/ is not a package; path set just above

from reactsse.connector import READ_BUFFER_SIZE, READ_SIZE
from reactsse.http.chunked import BatchDechunker
from reactsse.sse import EventStreamDecoder

FIRST_READS = [100, 2048, 16000, 32768, 50000, 62000, 65000, 65500]


def _reads(wire: bytes, first: int) -> list[bytes]:
    bounds = [0, *range(first, len(wire), READ_SIZE), len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def pipeline(reads: list[bytes], count: int) -> float:
    """De-chunk and decode every read as the client does; return the elapsed seconds."""
    buffer = bytearray(READ_BUFFER_SIZE)
    view = memoryview(buffer)
    dechunker = BatchDechunker(max_line_size=65536)
    decoder = EventStreamDecoder()
    events = 0
    start = time.perf_counter()
    for read in reads:
        size = len(read)
        buffer[:size] = read  # what recv_into does
        data = view[:size]
        pieces: list[bytes | bytearray | memoryview] = []
        dechunker.feed_view(data, pieces)
        events += len(decoder.feed(b"".join(pieces)))
        data.release()
    elapsed = time.perf_counter() - start
    assert events == count, (events, count)
    return elapsed


def decode_only(reads: list[bytes], count: int) -> float:
    """The decoder alone, on bodies de-chunked beforehand; return the elapsed seconds."""
    dechunker = BatchDechunker(max_line_size=65536)
    bodies = []
    for read in reads:
        pieces: list[bytes | bytearray | memoryview] = []
        dechunker.feed(read, pieces)
        bodies.append(b"".join(pieces))
    decoder = EventStreamDecoder()
    events = 0
    start = time.perf_counter()
    for body in bodies:
        events += len(decoder.feed(body))
    elapsed = time.perf_counter() - start
    assert events == count, (events, count)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size factor")
    args = parser.parse_args()
    corpus = _corpora.build("large", args.scale)
    wire = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in corpus.events)
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "glibc's default (128 KiB, dynamic)")
    print(
        f"# bench/alignment.py: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; {corpus.count} events of 64 KiB, "
        f"{len(wire) / 1e6:.1f} MB; {args.rounds} rounds, medians; MALLOC_TRIM_THRESHOLD_: {trim}"
    )
    print()
    print("| first read, bytes | reads | pipeline ms | MB/s | decode ms | decode µs per read |")
    print("|---:|---:|---:|---:|---:|---:|")
    for first in FIRST_READS:
        reads = _reads(wire, first)
        whole = statistics.median(pipeline(reads, corpus.count) for _ in range(args.rounds))
        decode = statistics.median(decode_only(reads, corpus.count) for _ in range(args.rounds))
        print(
            f"| {first} | {len(reads)} | {whole * 1e3:.2f} | {len(wire) / whole / 1e6:.0f} "
            f"| {decode * 1e3:.2f} | {decode / len(reads) * 1e6:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
