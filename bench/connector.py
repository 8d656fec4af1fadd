"""Connector benchmark: how a transport should read (docs/connector.md, "Reading").

Usage (from the repository root)::

    python bench/connector.py              # 5 rounds, every scenario
    python bench/connector.py --rounds 3 --scale 0.25

Contestants (the read handler of ``SocketTransport``; everything else is the same code):

* ``recv_into``  one ``recv_into`` of the shared, reused 96 KiB read buffer per readiness, the
                 consumer getting a view (what ``reactsse.connector`` does);
* ``recv``       one ``sock.recv(65536)`` per readiness, a new ``bytes`` each (ReactPHP's
                 ``fread($stream, 65536)``; what ``reactsse.connector`` did before);
* ``recv_256k``  one ``sock.recv(262144)`` per readiness;
* ``drain``      ``recv(65536)`` again and again until ``EAGAIN``, all delivered.

Scenarios (the peer is a separate process over 127.0.0.1, so it does not share our GIL):

* ``bulk``   the peer sends MiB as fast as it can (``sendall`` of 1 MiB blocks): MB/s;
* ``events`` the peer sends 120-byte SSE-like messages, one ``send`` each: messages/s;
* ``read``   no loop, no peer: the cost of one read of 120 B / 64 KiB already waiting in a
             socketpair, for ``recv``, ``recv_into`` (the view only) and ``recv_into+copy``
             (the view, then ``bytes`` of it: what a consumer that keeps every byte pays);
* ``fair``   one connection floods (64 MiB at most) into a handler that does parser-like work
             (slower than the flood arrives) while another connection does ping-pong over the
             same loop: ping round trips (median, p99, max) and how many pings were answered
             while the flood lasted. This is the fairness cost.

Rounds alternate the contestant order (A B C D, D C B A, ...); the table gives medians and the
ratio to ``recv``. The machine is shared and noisy: read ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reactsse.connector import READ_SIZE, SocketTransport
from reactsse.loop import Stream, StreamSelectLoop


class _Recv(SocketTransport):
    def _on_readable(self, _stream: Stream) -> None:
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        if data:
            self._received(data)  # type: ignore[arg-type]  # bytes where a view is typed
        else:
            self._eof()


class _Recv256k(SocketTransport):
    def _on_readable(self, _stream: Stream) -> None:
        try:
            data = self._sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        if data:
            self._received(data)  # type: ignore[arg-type]
        else:
            self._eof()


class _Drain(SocketTransport):
    def _on_readable(self, _stream: Stream) -> None:
        while not self.is_closed:
            try:
                data = self._sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._fail(exc)
                return
            if data:
                self._received(data)  # type: ignore[arg-type]
            else:
                self._eof()
                return


CONTESTANTS: dict[str, type[SocketTransport]] = {
    "recv_into": SocketTransport,
    "recv": _Recv,
    "recv_256k": _Recv256k,
    "drain": _Drain,
}


# -- peers (separate processes) --------------------------------------------------------------------


def _peer_bulk(port: int, total: int) -> None:
    block = b"x" * (1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sent = 0
        while sent < total:
            try:
                sock.sendall(block)
            except OSError:
                return  # the reader closed first (fair scenario)
            sent += len(block)


def _peer_events(port: int, count: int) -> None:
    message = b"data: " + b"t" * 112 + b"\n\n"  # 120 bytes
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            sock.send(message)


def _peer_pong(port: int, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            try:
                if not sock.recv(1):
                    return
                sock.sendall(b"!")
            except OSError:
                return  # the benchmark closed the connection when the flood ended


def _accept_from(
    peer: Callable[[int, int], None], amount: int
) -> tuple[socket.socket, multiprocessing.process.BaseProcess]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        # fork where there is one: the peer starts at once, without importing this module again
        process = (
            multiprocessing.get_context("fork").Process(
                target=peer, args=(server.getsockname()[1], amount)
            )
            if os.name == "posix"
            else multiprocessing.get_context("spawn").Process(
                target=peer, args=(server.getsockname()[1], amount)
            )
        )
        process.start()
        conn, _address = server.accept()
    return conn, process


# -- scenarios -----------------------------------------------------------------------------------


def _read_all(
    kind: type[SocketTransport], peer: Callable[[int, int], None], amount: int, expected: int
) -> float:
    """Read everything ``peer`` sends through a ``kind`` transport; return the seconds taken."""
    loop = StreamSelectLoop()
    conn, process = _accept_from(peer, amount)
    received = [0]

    def on_data(data: memoryview) -> None:
        received[0] += len(data)

    transport = kind(loop, conn)
    start = time.perf_counter()
    transport.start(on_data, lambda _error: loop.stop())
    loop.run()
    elapsed = time.perf_counter() - start
    transport.close()
    loop.close()
    process.join()
    assert received[0] == expected, (received[0], expected)
    return elapsed


def bulk(kind: type[SocketTransport], total: int) -> float:
    """MB/s reading ``total`` bytes."""
    return total / _read_all(kind, _peer_bulk, total, total) / 1e6


def events(kind: type[SocketTransport], count: int) -> float:
    """Messages/s reading ``count`` 120-byte messages sent one by one."""
    return count / _read_all(kind, _peer_events, count, count * 120)


def fair(kind: type[SocketTransport], total: int) -> tuple[float, float, float, int]:
    """Ping round trips while another connection floods the same loop with ``total`` bytes.

    The flood's ``on_data`` does parser-like work (MD5 four times over, about 150 MB/s), so the
    flood arrives faster than it is consumed, as with a real decoder behind a fast server.
    Returns the median, 99th percentile and maximum round trip (ms) of the pings answered while
    the flood lasted, and how many there were.
    """
    loop = StreamSelectLoop()
    flood_conn, flood = _accept_from(_peer_bulk, total)
    pong_conn, ponger = _accept_from(_peer_pong, 1 << 30)
    flood_transport = kind(loop, flood_conn)
    pong_transport = kind(loop, pong_conn)
    times: list[float] = []
    sent_at = [0.0]

    def ping() -> None:
        sent_at[0] = time.perf_counter()
        pong_transport.write(b"?")

    def on_pong(_data: memoryview) -> None:
        times.append(time.perf_counter() - sent_at[0])
        ping()

    def work(data: memoryview) -> None:
        for _ in range(4):
            hashlib.md5(data).digest()

    def flood_over(_error: Exception | None) -> None:
        pong_transport.close()
        loop.stop()

    flood_transport.start(work, flood_over)
    pong_transport.start(on_pong, lambda _error: None)
    ping()
    loop.run()
    flood_transport.close()
    loop.close()
    flood.join()
    ponger.join()
    if not times:  # not one answer while the flood lasted: the flood took all of it
        return float("nan"), float("nan"), float("nan"), 0
    times.sort()
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    return statistics.median(times) * 1e3, p99 * 1e3, times[-1] * 1e3, len(times)


def calls(size: int, repeat: int) -> dict[str, float]:
    """ns per read of ``size`` bytes already waiting (no loop, no peer): the read's own cost.

    An AF_UNIX datagram socketpair keeps message boundaries, so a batch of datagrams is queued
    first and read back under one timer. The read kinds take turns batch by batch, so the
    machine's drifting load hits them alike. Returns the median batch, per kind.
    """
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    payload = b"m" * size
    batch = max(1, min(64, (100 * 1024) // size))
    buffer = bytearray(READ_SIZE)
    view = memoryview(buffer)

    def read_recv() -> bytes:
        return reader.recv(READ_SIZE)

    def read_recv_into() -> memoryview:
        return view[: reader.recv_into(buffer)]

    def read_recv_into_copy() -> bytes:
        return bytes(view[: reader.recv_into(buffer)])

    def read_recv_256k() -> bytes:
        return reader.recv(262144)

    kinds: dict[str, Callable[[], bytes | memoryview]] = {
        "recv_into": read_recv_into,
        "recv_into+copy": read_recv_into_copy,
        "recv": read_recv,
        "recv_256k": read_recv_256k,
    }
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for turn in range(max(1, repeat // batch)):
            order = list(kinds) if turn % 2 == 0 else list(kinds)[::-1]
            for kind in order:
                read = kinds[kind]
                for _ in range(batch):
                    writer.send(payload)
                start = time.perf_counter()
                for _ in range(batch):
                    data = read()
                samples[kind].append((time.perf_counter() - start) / batch)
                assert len(data) == size
    finally:
        writer.close()
        reader.close()
    return {kind: statistics.median(values) * 1e9 for kind, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    args = parser.parse_args()
    total = int(256 * (1 << 20) * args.scale) // (1 << 20) * (1 << 20) or (1 << 20)
    count = max(1000, int(200_000 * args.scale))
    fair_total = min(total, 64 << 20)

    names = list(CONTESTANTS)
    results: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in ("bulk", "events", "fair50", "fair99", "fairmax", "pings")}
        for name in names
    }
    read_kinds = ["recv_into", "recv_into+copy", "recv", "recv_256k"]
    reads: dict[str, dict[str, list[float]]] = {
        kind: {"small": [], "large": []} for kind in read_kinds
    }
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            transport = CONTESTANTS[name]
            results[name]["bulk"].append(bulk(transport, total))
            results[name]["events"].append(events(transport, count))
            p50, p99, worst, answered = fair(transport, fair_total)
            results[name]["fair50"].append(p50)
            results[name]["fair99"].append(p99)
            results[name]["fairmax"].append(worst)
            results[name]["pings"].append(answered)
        small, large = calls(120, 50000), calls(READ_SIZE, 4000)
        for kind in read_kinds:
            reads[kind]["small"].append(small[kind])
            reads[kind]["large"].append(large[kind])
        print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    median = {
        name: {key: statistics.median(values) for key, values in columns.items()}
        for name, columns in results.items()
    }
    base = median["recv_into"]
    print(
        f"# bench/connector.py: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs (shared, noisy); "
        f"{args.rounds} rounds, medians; bulk {total >> 20} MiB, events {count} x 120 B, "
        f"fair: pings during a {fair_total >> 20} MiB flood"
    )
    print()
    print(
        "| read handler | bulk MB/s | × recv_into | events msg/s | × recv_into "
        "| ping p50 ms | ping p99 ms | ping max ms | pings answered |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        row = median[name]
        print(
            f"| {name} | {row['bulk']:.0f} | {row['bulk'] / base['bulk']:.2f} "
            f"| {row['events']:.0f} | {row['events'] / base['events']:.2f} "
            f"| {row['fair50']:.3f} | {row['fair99']:.3f} | {row['fairmax']:.1f} "
            f"| {row['pings']:.0f} |"
        )
    read_median = {
        kind: {key: statistics.median(values) for key, values in columns.items()}
        for kind, columns in reads.items()
    }
    read_base = read_median["recv_into"]
    print()
    print("| one read | read 120 B ns | × recv_into | read 64 KiB ns | × recv_into |")
    print("|---|---:|---:|---:|---:|")
    for kind in read_kinds:
        row = read_median[kind]
        print(
            f"| {kind} | {row['small']:.0f} | {row['small'] / read_base['small']:.2f} "
            f"| {row['large']:.0f} | {row['large'] / read_base['large']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
