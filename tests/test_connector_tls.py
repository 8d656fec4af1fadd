"""``reactsse.connector`` over TLS only: the handshake, certificates, ``close_notify``.

What TLS shares with plain TCP (the ``Transport`` contract) is tested on both in
``test_connector_contract.py``. Certificates come from ``trustme`` (a throwaway CA); servers
run on 127.0.0.1, either on the same loop (``TLSTransport(server_side=True)``) or as a stdlib
``ssl`` server in a thread, so the client is checked against an implementation that is not
itself.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import trustme
from _connector_helpers import (
    CERTS,
    Certificates,
    Kind,
    LoopEchoServer,
    Recorder,
    ThreadServer,
    listener,
    new_loop,
    new_virtual_loop,
    open_fds,
    run_until_stopped,
    tcp_pair,
)

from reactsse.connector import PendingConnect, TLSTransport, connect, default_ssl_context
from reactsse.errors import ConnectTimeout, TLSError
from reactsse.loop import LoopInterface


@pytest.fixture
def certs() -> Certificates:
    return CERTS


def _connect(
    loop: LoopInterface, host: str, port: int, context: ssl.SSLContext, **kwargs: object
) -> tuple[Recorder, PendingConnect]:
    outcome = Recorder(loop)
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


@pytest.fixture
def loop_server_port() -> Iterator[tuple[LoopInterface, LoopEchoServer, int]]:
    with new_loop() as loop, listener() as server:
        tls_server = LoopEchoServer(loop, server, Kind("tls"))
        try:
            yield loop, tls_server, server.getsockname()[1]
        finally:
            tls_server.close()


def test_wrong_host_name_is_tls_error_naming_the_mismatch(
    certs: Certificates, loop_server_port: tuple[LoopInterface, LoopEchoServer, int]
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
    loop_server_port: tuple[LoopInterface, LoopEchoServer, int],
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
        outcome = Recorder(loop)
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


@pytest.mark.timeout(10)
def test_handshake_never_answered_is_connect_timeout(certs: Certificates) -> None:
    # The listener never accepts: TCP completes in the kernel, the ClientHello is never read.
    with new_virtual_loop() as loop, listener() as server:
        before = open_fds()
        start = loop.now()
        outcome, _pending = _connect(
            loop, "127.0.0.1", server.getsockname()[1], certs.client, timeout=0.2
        )
        run_until_stopped(loop)
        assert loop.now() - start == pytest.approx(0.2, abs=1e-9)  # the timeout, exactly
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
        outcome = Recorder(loop)
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
        outcome = Recorder(loop, stop_after=len(b"said too early"))
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
