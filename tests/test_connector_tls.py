"""``reactsse.connector`` over TLS: ``TLSTransport`` (MemoryBIO) and ``connect(ssl_context=...)``.

Certificates come from ``trustme`` (a throwaway CA); servers run on 127.0.0.1, either on the
same loop (``TLSTransport(server_side=True)``) or as a stdlib ``ssl`` server in a thread, so
the client is checked against an implementation that is not itself.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import trustme
from _connector_helpers import (
    AsyncioHostedLoop,
    ThreadServer,
    accept_on_loop,
    ipv6_loopback_available,
    listener,
    new_loop,
    open_fds,
    run_until_stopped,
    tcp_pair,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactsse.connector import PendingConnect, TLSTransport, Transport, connect, default_ssl_context
from reactsse.errors import ConnectTimeout, TLSError
from reactsse.loop import LoopInterface


class Certificates:
    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("localhost", "127.0.0.1", "::1")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(self.server)
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)


_CERTS = Certificates()  # one throwaway CA for the module (the hypothesis test needs it too)


@pytest.fixture
def certs() -> Certificates:
    return _CERTS


class Outcome:
    """What ``connect`` and a started transport called back; stops the loop on each end."""

    def __init__(self, loop: LoopInterface, *, stop_after: int | None = None) -> None:
        self.loop = loop
        self.transports: list[Transport] = []
        self.errors: list[Exception] = []
        self.chunks: list[bytes] = []
        self.closed: list[Exception | None] = []
        self.stop_after = stop_after

    def on_connected(self, transport: Transport) -> None:
        assert not self.transports and not self.errors
        self.transports.append(transport)
        self.loop.stop()

    def on_error(self, error: Exception) -> None:
        assert not self.transports and not self.errors
        self.errors.append(error)
        self.loop.stop()

    def on_data(self, data: memoryview) -> None:
        assert isinstance(data, memoryview)  # a view of the transport's reused read buffer
        assert data
        self.chunks.append(bytes(data))
        if self.stop_after is not None and len(self.data) >= self.stop_after:
            self.loop.stop()

    def on_close(self, error: Exception | None) -> None:
        assert not self.closed
        self.closed.append(error)
        self.loop.stop()

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def _connect(
    loop: LoopInterface, host: str, port: int, context: ssl.SSLContext, **kwargs: object
) -> tuple[Outcome, PendingConnect]:
    outcome = Outcome(loop)
    pending = connect(
        loop,
        host,
        port,
        ssl_context=context,
        on_connected=outcome.on_connected,
        on_error=outcome.on_error,
        **kwargs,  # type: ignore[arg-type]
    )
    return outcome, pending


class LoopTLSServer:
    """A TLS echo server on the test's loop: ``TLSTransport(server_side=True)`` per accept."""

    def __init__(self, loop: LoopInterface, server: socket.socket, context: ssl.SSLContext):
        self.loop = loop
        self.transports: list[TLSTransport] = []
        self.handshake_errors: list[Exception] = []
        self.closed: list[Exception | None] = []
        accept_on_loop(loop, server, self._accepted)
        self.context = context

    def _accepted(self, conn: socket.socket) -> None:
        transport = TLSTransport(self.loop, conn, self.context, server_side=True)
        self.transports.append(transport)

        def ready() -> None:
            transport.start(transport.write, self.closed.append)

        transport.handshake(ready, self.handshake_errors.append)

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


@pytest.fixture
def loop_server_port(certs: Certificates) -> Iterator[tuple[LoopInterface, LoopTLSServer, int]]:
    with new_loop() as loop, listener() as server:
        tls_server = LoopTLSServer(loop, server, certs.server)
        try:
            yield loop, tls_server, server.getsockname()[1]
        finally:
            tls_server.close()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tls_echo_both_ways_with_a_valid_certificate(
    certs: Certificates, loop_server_port: tuple[LoopInterface, LoopTLSServer, int], host: str
) -> None:
    loop, tls_server, port = loop_server_port
    outcome, _pending = _connect(loop, host, port, certs.client)
    run_until_stopped(loop)
    assert not outcome.errors, outcome.errors
    [client] = outcome.transports
    try:
        assert isinstance(client, TLSTransport)
        assert client.is_tls
        assert client.ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert client.peer[1] == port
        outcome.stop_after = 2 * 20000 + 5
        client.start(outcome.on_data, outcome.on_close)
        client.write(b"hello")
        client.write(b"a" * 20000)  # more than one TLS record
        client.write(b"b" * 20000)
        run_until_stopped(loop)
        assert outcome.data == b"hello" + b"a" * 20000 + b"b" * 20000
        # end(): close_notify reaches the server, which sees a clean end.
        client.end()
        outcome.closed.clear()
        run_until_stopped(loop)
        assert outcome.closed == [None]
        if not tls_server.closed:
            run_until_stopped(loop)
        assert tls_server.closed == [None]
        assert tls_server.handshake_errors == []
    finally:
        client.close()


def test_tls_stream_from_a_stdlib_server_arrives_whole(certs: Certificates) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB, ~128 TLS records

    def serve(conn: socket.socket) -> None:
        with certs.server.wrap_socket(conn, server_side=True) as tls:
            assert tls.recv(5) == b"ready"
            tls.sendall(payload)
            tls.unwrap()  # close_notify

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, serve)
        outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        [client] = outcome.transports
        client.start(outcome.on_data, outcome.on_close)
        client.write(b"ready")
        run_until_stopped(loop)
        thread.join()
        assert outcome.closed == [None]
        assert outcome.data == payload
        assert client.is_closed


def test_wrong_host_name_is_tls_error_naming_the_mismatch(
    certs: Certificates, loop_server_port: tuple[LoopInterface, LoopTLSServer, int]
) -> None:
    loop, _tls_server, port = loop_server_port
    before = open_fds()
    outcome, _pending = _connect(
        loop, "127.0.0.1", port, certs.client, server_hostname="wrong.example"
    )
    run_until_stopped(loop)
    [error] = outcome.errors
    assert type(error) is TLSError
    assert "Hostname mismatch" in str(error)
    assert "wrong.example" in str(error)
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert open_fds() <= before + 1  # only the server's accepted socket may remain


def test_untrusted_ca_is_tls_error_saying_verify_failed(
    loop_server_port: tuple[LoopInterface, LoopTLSServer, int],
) -> None:
    loop, _tls_server, port = loop_server_port
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    outcome, _pending = _connect(loop, "localhost", port, other)
    run_until_stopped(loop)
    [error] = outcome.errors
    assert type(error) is TLSError
    assert "certificate verify failed" in str(error)
    assert "localhost" in str(error)


def test_default_context_verifies() -> None:
    context = default_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_plain_server_answering_garbage_is_tls_error(certs: Certificates) -> None:
    def answer_http(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, answer_http)
        outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        thread.join()
        [error] = outcome.errors
        assert type(error) is TLSError
        assert "TLS handshake with localhost" in str(error)


def test_corrupt_record_mid_stream_is_tls_error(certs: Certificates) -> None:
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop:
        client = TLSTransport(loop, client_sock, certs.client, server_hostname="localhost")
        server = TLSTransport(loop, server_sock, certs.server, server_side=True)
        outcome = Outcome(loop)
        ready: list[bool] = []

        def done() -> None:
            ready.append(True)
            if len(ready) == 2:
                loop.stop()

        client.handshake(done, outcome.on_error)
        server.handshake(done, outcome.on_error)
        run_until_stopped(loop)
        client.start(outcome.on_data, outcome.on_close)
        # An application-data record whose MAC cannot be right, below the server's TLS layer.
        server._raw_write(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        run_until_stopped(loop)
        server.close()
        [error] = outcome.closed
        assert type(error) is TLSError
        assert "TLS connection with 127.0.0.1" in str(error)
        assert isinstance(error.__cause__, ssl.SSLError)
        assert client.is_closed


def test_peer_closing_during_the_handshake_is_tls_error(certs: Certificates) -> None:
    def hang_up(conn: socket.socket) -> None:
        conn.recv(4096)  # read the ClientHello (so the close is a FIN, not a reset)

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, hang_up)
        outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        thread.join()
        [error] = outcome.errors
        assert type(error) is TLSError
        assert "closed by the peer" in str(error)


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) here")
def test_tls_over_ipv6_loopback(certs: Certificates) -> None:
    with new_loop() as loop, listener("::1") as server:
        tls_server = LoopTLSServer(loop, server, certs.server)
        outcome, _pending = _connect(loop, "[::1]", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        assert not outcome.errors, outcome.errors
        outcome.transports[0].close()
        tls_server.close()


@pytest.mark.timeout(10)
def test_handshake_never_answered_is_connect_timeout(certs: Certificates) -> None:
    # The listener never accepts: TCP completes in the kernel, the ClientHello is never read.
    with new_loop() as loop, listener() as server:
        before = open_fds()
        outcome, _pending = _connect(
            loop, "127.0.0.1", server.getsockname()[1], certs.client, timeout=0.2
        )
        run_until_stopped(loop)
        [error] = outcome.errors
        assert type(error) is ConnectTimeout
        assert error.timeout == 0.2
        assert "handshaking" in str(error)
        loop.run()  # nothing left registered: returns by itself
        assert open_fds() == before


@pytest.mark.timeout(10)
def test_cancel_while_handshaking_leaves_nothing(certs: Certificates) -> None:
    with new_loop() as loop, listener() as server:
        before = open_fds()
        outcome, pending = _connect(loop, "127.0.0.1", server.getsockname()[1], certs.client)
        seen: list[str] = []

        def poll(_timer: object) -> None:
            if pending.phase == "handshaking":
                seen.append(pending.phase)
                pending.cancel()
                loop.cancel_timer(timer)

        timer = loop.add_periodic_timer(0.001, poll)
        loop.run()  # returns once the cancel released everything
        assert seen == ["handshaking"]
        assert outcome.errors == [] and outcome.transports == []
        assert open_fds() == before


def test_server_speaks_first_and_end_sends_close_notify(certs: Certificates) -> None:
    # suppress_ragged_eofs=False: the stdlib server sees b"" only after a real close_notify,
    # a bare TCP FIN would raise SSLEOFError there.
    def serve(conn: socket.socket) -> None:
        with certs.server.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False) as tls:
            tls.sendall(b"welcome")
            assert tls.recv(3) == b"bye"
            assert tls.recv(1) == b""

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, serve)
        outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        [client] = outcome.transports
        outcome.stop_after = len(b"welcome")
        client.start(outcome.on_data, outcome.on_close)
        run_until_stopped(loop)
        assert outcome.data == b"welcome"
        client.write(b"bye")
        client.end()
        run_until_stopped(loop)
        thread.join()
        assert outcome.closed == [None]


def test_data_arriving_with_the_last_handshake_flight_is_delivered_after_start(
    certs: Certificates,
) -> None:
    # TLS 1.2: the server's Finished is the last handshake message; a server that writes at
    # once puts application data right behind it, so the client's one read holds both and the
    # data waits in the incoming BIO (no further socket readiness will come for it).
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certs.cert.configure_cert(server_context)
    server_context.maximum_version = ssl.TLSVersion.TLSv1_2
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop:
        client = TLSTransport(loop, client_sock, certs.client, server_hostname="localhost")
        server = TLSTransport(loop, server_sock, server_context, server_side=True)
        outcome = Outcome(loop)
        ready: list[str] = []

        def server_ready() -> None:
            server.write(b"right behind Finished")
            ready.append("server")

        def client_ready() -> None:
            ready.append("client")
            loop.stop()

        server.handshake(server_ready, outcome.on_error)
        client.handshake(client_ready, outcome.on_error)
        run_until_stopped(loop)
        assert ready == ["server", "client"], outcome.errors
        assert client.ssl_object.version() == "TLSv1.2"
        assert client._incoming.pending > 0  # the premise: the data is already in the BIO
        outcome.stop_after = len(b"right behind Finished")
        client.start(outcome.on_data, outcome.on_close)
        run_until_stopped(loop)
        assert outcome.data == b"right behind Finished"
        client.close()
        server.close()


def test_plaintext_written_during_the_handshake_is_sent_after_it(certs: Certificates) -> None:
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop:
        client = TLSTransport(loop, client_sock, certs.client, server_hostname="localhost")
        server = TLSTransport(loop, server_sock, certs.server, server_side=True)
        outcome = Outcome(loop, stop_after=len(b"said too early"))
        client.write(b"said ")
        client.handshake(lambda: None, outcome.on_error)
        client.write(b"too early")
        assert client.buffered_size == len(b"said too early")
        server.handshake(lambda: server.start(outcome.on_data, outcome.on_close), outcome.on_error)
        run_until_stopped(loop)
        assert outcome.data == b"said too early"
        client.close()
        server.close()


def test_tls_server_side_transport_rejects_plain_text(certs: Certificates) -> None:
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop, client_sock:
        transport = TLSTransport(loop, server_sock, certs.server, server_side=True)
        errors: list[Exception] = []
        done: list[bool] = []

        def failed(error: Exception) -> None:
            errors.append(error)
            loop.stop()

        transport.handshake(lambda: done.append(True), failed)
        with pytest.raises(RuntimeError):
            transport.handshake(lambda: None, failed)
        client_sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        run_until_stopped(loop)
        assert done == []
        [error] = errors
        assert isinstance(error, TLSError)
        assert transport.is_closed


def test_check_hostname_without_server_hostname_is_tls_error(certs: Certificates) -> None:
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop, server_sock:
        with pytest.raises(TLSError, match="cannot start TLS"):
            TLSTransport(loop, client_sock, certs.client)
        assert client_sock.fileno() == -1  # closed by the failed constructor


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=0, max_size=40000), max_size=6))
def test_any_sequence_of_tls_writes_arrives_intact(writes: list[bytes]) -> None:
    certs = _CERTS
    client_sock, server_sock = tcp_pair()
    expected = b"".join(writes)
    with new_loop() as loop:
        client = TLSTransport(loop, client_sock, certs.client, server_hostname="localhost")
        server = TLSTransport(loop, server_sock, certs.server, server_side=True)
        received = Outcome(loop)
        ready: list[str] = []

        def handshake_done(name: str) -> None:
            ready.append(name)
            if len(ready) == 2:
                loop.stop()

        client.handshake(lambda: handshake_done("client"), received.on_error)
        server.handshake(lambda: handshake_done("server"), received.on_error)
        run_until_stopped(loop)
        assert sorted(ready) == ["client", "server"], received.errors
        server.start(received.on_data, received.on_close)
        client.start(lambda _data: None, lambda _error: None)
        for chunk in writes:
            client.write(chunk)
        client.end()
        run_until_stopped(loop)
        client.close()
        server.close()
        assert received.data == expected
        assert received.closed == [None]


def test_tls_on_another_loop_implementation(certs: Certificates) -> None:
    loop = AsyncioHostedLoop()
    try:
        with listener() as server:
            tls_server = LoopTLSServer(loop, server, certs.server)
            outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
            run_until_stopped(loop)
            assert not outcome.errors, outcome.errors
            [client] = outcome.transports
            outcome.stop_after = 30000
            client.start(outcome.on_data, outcome.on_close)
            client.write(b"e" * 30000)
            run_until_stopped(loop)
            assert outcome.data == b"e" * 30000
            client.close()
            tls_server.close()
    finally:
        loop.aio.close()


def test_tls_plaintext_comes_in_a_reused_buffer_one_call_per_socket_read(
    certs: Certificates,
) -> None:
    """SSLObject.read fills a reused read buffer (no bytes per record): every on_data view is
    of the same 96 KiB bytearray, released after the call, and holds every record that one
    socket read completed (calls bigger than one 16 KiB record)."""
    from reactsse.connector import READ_BUFFER_SIZE

    payload = bytes(range(256)) * 8192  # 2 MiB, ~128 TLS records

    def serve(conn: socket.socket) -> None:
        with certs.server.wrap_socket(conn, server_side=True) as tls:
            assert tls.recv(5) == b"ready"
            tls.sendall(payload)
            tls.unwrap()

    buffers: list[int] = []
    sizes: list[int] = []
    kept: list[memoryview] = []
    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, serve)
        outcome, _pending = _connect(loop, "localhost", server.getsockname()[1], certs.client)
        run_until_stopped(loop)
        [client] = outcome.transports

        def on_data(data: memoryview) -> None:
            assert isinstance(data.obj, bytearray) and len(data.obj) == READ_BUFFER_SIZE
            buffers.append(id(data.obj))
            sizes.append(len(data))
            kept.append(data)
            outcome.on_data(data)

        client.start(on_data, outcome.on_close)
        client.write(b"ready")
        run_until_stopped(loop)
        thread.join()
    assert outcome.closed == [None] and outcome.data == payload
    assert len(set(buffers)) == 1
    assert max(sizes) > 16384  # several records in one call
    for view in kept:  # each view was released once on_data returned
        with pytest.raises(ValueError, match="released"):
            bytes(view)
