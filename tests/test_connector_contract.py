"""The ``Transport`` contract, the same tests on plain TCP and on TLS.

The ``kind`` fixture (``tcp``, ``tls``; as anyio's tests take ``anyio_backend``) says how each
side of a connection is made; ``pair`` gives a connected, handshaken pair of that kind on a
fresh loop. Real sockets on 127.0.0.1 (and ::1), certificates from ``trustme``, peers either on
the loop (``LoopEchoServer``) or blocking in a thread (a stdlib ``ssl`` server for TLS), so the
client is also checked against an implementation that is not itself. Behaviour of one kind only
lives in ``test_connector.py`` (TCP connect, resolution, the adaptive read size) and
``test_connector_tls.py`` (handshake, certificates, ``close_notify``).
"""

from __future__ import annotations

import functools
import socket
import struct
from collections.abc import Iterator

import pytest
from _connector_helpers import (
    KINDS,
    AsyncioHostedLoop,
    Kind,
    LoopEchoServer,
    Recorder,
    ThreadServer,
    ipv6_loopback_available,
    listener,
    new_loop,
    refusing_port,
    run_until_stopped,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactsse.connector import (
    READ_BUFFER_SIZE,
    READ_SIZE,
    PendingConnect,
    SocketTransport,
    TLSTransport,
    Transport,
    connect,
)
from reactsse.errors import ConnectError, ConnectionClosed
from reactsse.loop import LoopInterface, StreamSelectLoop


@pytest.fixture(params=KINDS, ids=str, scope="session")
def kind(request: pytest.FixtureRequest) -> Kind:
    """Plain TCP or TLS: every test taking it runs once for each."""
    kind: Kind = request.param
    return kind


@pytest.fixture
def pair(kind: Kind) -> Iterator[tuple[StreamSelectLoop, Transport, Transport]]:
    """``(loop, client, server)``: a connected pair of ``kind``, handshaken, not started."""
    with new_loop() as loop:
        client, server = kind.pair(loop)
        try:
            yield loop, client, server
        finally:
            client.close()
            server.close()


def _connect(
    loop: LoopInterface, kind: Kind, host: str, port: int
) -> tuple[Recorder, PendingConnect]:
    result = Recorder(loop)
    pending = connect(
        loop,
        host,
        port,
        ssl_context=kind.client_context,
        on_connected=result.on_connected,
        on_error=result.on_error,
    )
    return result, pending


def _connect_ok(loop: LoopInterface, kind: Kind, host: str, port: int) -> Transport:
    result, _pending = _connect(loop, kind, host, port)
    run_until_stopped(loop)
    assert not result.errors, result.errors
    [transport] = result.transports
    return transport


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_echo_both_ways_then_end_is_a_clean_end_on_both_sides(kind: Kind, host: str) -> None:
    with new_loop() as loop, listener() as server:
        port = server.getsockname()[1]
        echo = LoopEchoServer(loop, server, kind)
        client = _connect_ok(loop, kind, host, port)
        try:
            assert isinstance(client, TLSTransport if kind.is_tls else SocketTransport)
            assert client.is_tls is kind.is_tls
            assert client.loop is loop
            if isinstance(client, TLSTransport):
                assert client.ssl_object.version() in ("TLSv1.2", "TLSv1.3")
            assert client.peer == ("127.0.0.1", port)
            assert client.local[0] == "127.0.0.1"
            assert client._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # type: ignore[attr-defined]
            assert not client._sock.getblocking()  # type: ignore[attr-defined]
            expected = b"ping " + b"pong" + b"a" * 20000 + b"b" * 20000  # TLS: several records
            received = Recorder(loop, stop_after=len(expected))
            client.start(received.on_data, received.on_close)
            client.write(b"ping ")
            client.write(b"pong")
            client.write(b"a" * 20000)
            client.write(b"b" * 20000)
            run_until_stopped(loop)
            assert received.data == expected
            assert client.buffered_size == 0
            # end(): the server sees a clean end (for TLS: close_notify), and so does the client.
            client.end()
            run_until_stopped(loop)
            assert received.closed == [None]
            if not echo.closed:
                run_until_stopped(loop)
            assert echo.closed == [None]
            assert echo.handshake_errors == []
        finally:
            client.close()
            echo.close()


def test_stream_from_a_blocking_peer_arrives_whole_with_a_clean_end(kind: Kind) -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB (~256 TLS records)

    def serve(conn: socket.socket) -> None:
        with kind.wrap_peer(conn) as peer:
            assert peer.recv(5) == b"ready"
            peer.sendall(payload)
            kind.end_peer(peer)

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, serve)
        client = _connect_ok(loop, kind, "localhost", server.getsockname()[1])
        received = Recorder(loop)
        client.start(received.on_data, received.on_close)
        client.write(b"ready")
        run_until_stopped(loop)
        thread.join()
        assert received.closed == [None]
        assert received.data == payload
        # TCP: one recv of at most READ_SIZE per call; TLS: one socket read's plaintext.
        largest = READ_BUFFER_SIZE if kind.is_tls else READ_SIZE
        assert max(len(chunk) for chunk in received.chunks) <= largest
        assert client.is_closed


class _Views:
    """Record what each ``on_data`` view looks like, and the bytes, during the call; stop the
    loop once ``ends`` connections ended (cleanly)."""

    def __init__(self, loop: LoopInterface, ends: int) -> None:
        self.loop = loop
        self.ends = ends
        self.closed: list[Exception | None] = []
        self.buffers: list[int] = []  # id() of each view's underlying buffer
        self.sizes: list[int] = []
        self.data: list[bytearray] = [bytearray() for _ in range(ends)]  # per connection
        self.kept: list[memoryview] = []

    def on_data(self, index: int, data: memoryview) -> None:
        assert isinstance(data, memoryview)
        assert isinstance(data.obj, bytearray)
        assert len(data.obj) >= 65536 == READ_SIZE <= READ_BUFFER_SIZE == len(data.obj)
        self.buffers.append(id(data.obj))
        self.sizes.append(len(data))
        self.data[index] += data
        self.kept.append(data)

    def on_close(self, error: Exception | None) -> None:
        self.closed.append(error)
        if len(self.closed) == self.ends:
            self.loop.stop()


def test_reads_go_into_one_reused_buffer_that_every_transport_shares(kind: Kind) -> None:
    """Every read of two connections lands in the same 96 KiB bytearray (a free list, not a
    buffer per read or per connection); for TLS, ``SSLObject.read`` fills it (no bytes per
    record) and one call holds every record one socket read completed (calls bigger than one
    16 KiB record); each view is released once on_data returns."""
    payload = bytes(range(256)) * 8192  # 2 MiB each, ~128 TLS records

    def serve(conn: socket.socket) -> None:
        with kind.wrap_peer(conn) as peer:
            assert peer.recv(5) == b"ready"
            peer.sendall(payload)
            kind.end_peer(peer)

    with new_loop() as loop, listener() as first, listener() as second:
        threads = [ThreadServer(server, serve) for server in (first, second)]
        clients = [
            _connect_ok(loop, kind, "127.0.0.1", server.getsockname()[1])
            for server in (first, second)
        ]
        views = _Views(loop, ends=2)
        try:
            for index, client in enumerate(clients):
                client.start(functools.partial(views.on_data, index), views.on_close)
                client.write(b"ready")
            run_until_stopped(loop, 10)
            for thread in threads:
                thread.join()
        finally:
            for client in clients:
                client.close()
    assert views.closed == [None, None]
    assert len(views.buffers) >= 2 * 5
    assert len(set(views.buffers)) == 1
    assert views.data == [payload, payload]
    assert max(views.sizes) > 16384  # several TLS records in one call
    for kept in views.kept:
        with pytest.raises(ValueError, match="released"):
            bytes(kept)


def test_close_inside_on_data_stops_every_callback(
    pair: tuple[StreamSelectLoop, Transport, Transport],
) -> None:
    loop, transport, peer = pair
    calls: list[object] = []

    def on_data(data: memoryview) -> None:
        calls.append(bytes(data))
        transport.close()
        transport.close()  # idempotent
        loop.future_tick(loop.stop)

    transport.on_drain = lambda: calls.append("drain")
    transport.start(on_data, calls.append)
    peer.write(b"one")
    run_until_stopped(loop)
    peer.write(b"two")
    peer.close()
    loop.run()  # nothing registered any more: returns at once
    assert calls == [b"one"]
    transport.write(b"after close")  # dropped, no error


def test_pause_and_resume_reading(pair: tuple[StreamSelectLoop, Transport, Transport]) -> None:
    loop, transport, peer = pair
    received = Recorder(loop, stop_after=5)
    transport.pause_reading()
    transport.start(received.on_data, received.on_close)
    peer.write(b"hello")
    # Paused: nothing is watched, so the loop has nothing to do and returns.
    loop.run()
    assert received.chunks == []
    transport.resume_reading()
    transport.resume_reading()  # idempotent
    run_until_stopped(loop)
    assert received.data == b"hello"


def test_a_write_nobody_reads_waits_in_the_buffer_then_drains_once(
    pair: tuple[StreamSelectLoop, Transport, Transport],
) -> None:
    """Backpressure: what the kernel does not take waits in ``buffered_size``; ``on_drain`` is
    called once, when the peer has read it all (TLS: the ciphertext and held plaintext)."""
    loop, transport, peer = pair
    payload = bytes(range(251)) * 40_000  # ~10 MB: more than the loopback socket buffers take
    drained: list[int] = []

    def on_drain() -> None:
        drained.append(transport.buffered_size)

    transport.on_drain = on_drain
    transport.write(payload)
    assert transport.buffered_size > 0  # the kernel took part, the rest waits
    loop.future_tick(loop.stop)
    loop.run()  # the peer is not reading: one pass cannot drain it
    assert not drained and transport.buffered_size > 0
    received = Recorder(loop, stop_after=len(payload))
    peer.start(received.on_data, received.on_close)
    run_until_stopped(loop, 20)
    if not drained:
        loop.future_tick(loop.stop)  # the last flush and the peer's last read race: one more
        loop.run()
    assert received.data == payload
    assert drained == [0]
    assert transport.buffered_size == 0


def test_end_then_close_reports_nothing_and_the_peer_sees_a_clean_end(
    pair: tuple[StreamSelectLoop, Transport, Transport],
) -> None:
    loop, transport, peer = pair
    calls: list[object] = []
    transport.start(calls.append, calls.append)
    transport.end()  # an empty buffer: it closes now and would report on the next tick
    transport.close()
    received = Recorder(loop)
    peer.start(received.on_data, received.on_close)
    run_until_stopped(loop)
    assert calls == []
    assert received.closed == [None] and received.data == b""


def test_start_twice_is_an_error(pair: tuple[StreamSelectLoop, Transport, Transport]) -> None:
    _loop, transport, _peer = pair
    transport.start(lambda _data: None, lambda _error: None)
    with pytest.raises(RuntimeError, match="start"):
        transport.start(lambda _data: None, lambda _error: None)


def _reset(peer: Transport) -> None:
    """Close ``peer``'s socket with a TCP reset instead of a FIN (SO_LINGER, zero timeout), under
    the transport: a TLS transport's own close() would send close_notify first, a clean end."""
    sock: socket.socket = peer._sock  # type: ignore[attr-defined]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_reset_mid_stream_is_connection_closed(
    pair: tuple[StreamSelectLoop, Transport, Transport],
) -> None:
    loop, transport, peer = pair
    received = Recorder(loop, stop_after=7)
    transport.start(received.on_data, received.on_close)
    peer.write(b"partial")
    run_until_stopped(loop)
    _reset(peer)
    run_until_stopped(loop)
    assert received.data == b"partial"  # what came before the reset is delivered
    [error] = received.closed
    assert type(error) is ConnectionClosed
    assert isinstance(error.__cause__, ConnectionResetError)
    assert "reset" in str(error).lower()
    assert transport.is_closed


def test_a_write_that_fails_before_start_is_reported_by_start_later(
    pair: tuple[StreamSelectLoop, Transport, Transport],
) -> None:
    """A write never raises: its failure ends the transport, and ``start()`` reports that end
    on a later tick, never from inside ``write`` or ``start``."""
    loop, transport, peer = pair
    _reset(peer)
    for _ in range(100):
        transport.write(b"y" * 65536)
        if transport.is_closed:
            break
    assert transport.is_closed
    received = Recorder(loop)
    transport.start(received.on_data, received.on_close)
    assert received.closed == []
    run_until_stopped(loop)
    [error] = received.closed
    assert isinstance(error, ConnectionClosed)
    assert isinstance(error.__cause__, OSError)
    transport.write(b"dropped")  # after the end: ignored


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=0, max_size=70000), max_size=8))
def test_any_sequence_of_writes_arrives_intact_and_in_order(
    kind: Kind, writes: list[bytes]
) -> None:
    expected = b"".join(writes)
    with new_loop() as loop:
        writer, reader = kind.pair(loop)
        received = Recorder(loop)
        reader.start(received.on_data, received.on_close)
        writer.start(lambda _data: None, lambda _error: None)
        for chunk in writes:
            writer.write(chunk)
        writer.end()
        run_until_stopped(loop)
        reader.close()
        writer.close()
        assert received.data == expected
        assert received.closed == [None]


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) here")
@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_ipv6_loopback(kind: Kind, host: str) -> None:
    with new_loop() as loop, listener("::1") as server:
        port = server.getsockname()[1]
        echo = LoopEchoServer(loop, server, kind)
        result, pending = _connect(loop, kind, host, port)
        run_until_stopped(loop)
        assert not result.errors, result.errors
        [transport] = result.transports
        assert transport.peer[:2] == ("::1", port)
        assert pending.phase == "done"
        transport.close()
        echo.close()


def test_runs_on_another_loop_implementation(kind: Kind) -> None:
    loop = AsyncioHostedLoop()
    try:
        with listener() as server:
            echo = LoopEchoServer(loop, server, kind)
            # "localhost": through the resolver thread, which wakes this loop too.
            client = _connect_ok(loop, kind, "localhost", server.getsockname()[1])
            received = Recorder(loop, stop_after=30000)
            client.start(received.on_data, received.on_close)
            client.write(b"hello")
            client.write(b"e" * (30000 - 5))
            run_until_stopped(loop)
            assert received.data == b"hello" + b"e" * (30000 - 5)
            client.close()
            echo.close()
            with refusing_port() as port:
                refused, _pending = _connect(loop, kind, "127.0.0.1", port)
                run_until_stopped(loop)
            assert type(refused.errors[0]) is ConnectError
    finally:
        loop.aio.close()
