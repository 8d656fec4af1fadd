"""``reactsse.connector`` over plain TCP only: ``connect``, resolution, timeouts, ``cancel``,
the adaptive read size, a write to a reset peer, ``end()`` with a FIN and not a reset.

Real sockets on 127.0.0.1 (and ::1), servers started here; every run is bounded
(``run_until_stopped``) and every socket closed (a ResourceWarning fails the test).
What TCP shares with TLS (the ``Transport`` contract) is tested on both in
``test_connector_contract.py``; TLS only in ``test_connector_tls.py``.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
import termios
import threading
import time

import pytest
from _connector_helpers import (
    FullBacklog,
    Recorder,
    ThreadServer,
    listener,
    new_loop,
    new_virtual_loop,
    open_fds,
    refusing_port,
    run_until_stopped,
    tcp_pair,
)
from hypothesis import given
from hypothesis import strategies as st

from reactsse.connector import (
    FIRST_READ_SIZE,
    READ_SIZE,
    PendingConnect,
    SocketTransport,
    Transport,
    connect,
)
from reactsse.connector.resolve import ip_literal
from reactsse.errors import ConnectError, ConnectionClosed, ConnectTimeout
from reactsse.http.proxy import parse_proxy_url
from reactsse.http.url import format_address
from reactsse.loop import LoopInterface


def _connect(loop: LoopInterface, host: str, port: int, **kwargs: object) -> Recorder:
    result = Recorder(loop)
    connect(
        loop,
        host,
        port,
        on_connected=result.on_connected,
        on_error=result.on_error,
        **kwargs,  # type: ignore[arg-type]
    )
    return result


def _connect_ok(loop: LoopInterface, host: str, port: int) -> Transport:
    result = _connect(loop, host, port)
    run_until_stopped(loop)
    assert not result.errors, result.errors
    return result.transports[0]


# -- connect, plain TCP --------------------------------------------------------------------------


def test_connect_callbacks_come_later_never_inside_connect() -> None:
    with new_loop() as loop, listener() as server:
        result = _connect(loop, "127.0.0.1", server.getsockname()[1])
        assert result.count == 0  # connect() returned without calling back
        run_until_stopped(loop)
        assert result.count == 1
        result.transports[0].close()


def test_refused_port_is_connect_error_naming_host_port_and_cause() -> None:
    with refusing_port() as port, new_loop() as loop:
        result = _connect(loop, "127.0.0.1", port)
        run_until_stopped(loop)
    [error] = result.errors
    assert type(error) is ConnectError
    assert f"127.0.0.1:{port}" in str(error)
    assert "refused" in str(error).lower()
    assert isinstance(error.__cause__, OSError)
    assert error.__cause__.errno == errno.ECONNREFUSED
    assert (error.host, error.port) == ("127.0.0.1", port)


def test_unresolvable_name_is_connect_error_without_network() -> None:
    # A 64-character label cannot be IDNA-encoded: getaddrinfo fails before any DNS query.
    host = "a" * 64 + ".invalid"
    with new_loop() as loop:
        result = _connect(loop, host, 80)
        run_until_stopped(loop)
    [error] = result.errors
    assert type(error) is ConnectError
    assert "cannot resolve" in str(error)
    assert host in str(error)
    assert error.__cause__ is not None


def test_localhost_resolves_in_a_thread_and_connects() -> None:
    with new_loop() as loop, listener() as server:
        port = server.getsockname()[1]
        result = _connect(loop, "localhost", port)
        phases: list[str] = []
        loop.future_tick(lambda: phases.append(_PENDING[-1].phase))
        run_until_stopped(loop)
        assert phases == ["resolving"]  # a name goes through the resolver thread
        [transport] = result.transports
        assert transport.peer[1] == port
        transport.close()


_PENDING: list[PendingConnect] = []


@pytest.fixture(autouse=True)
def _track_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record every PendingConnect made (tests look at its phase)."""
    original = PendingConnect.__init__

    def init(self: PendingConnect, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        _PENDING.append(self)

    monkeypatch.setattr(PendingConnect, "__init__", init)
    _PENDING.clear()


def test_ip_literal_skips_the_resolver_thread() -> None:
    with new_loop() as loop, listener() as server:
        result = _connect(loop, "127.0.0.1", server.getsockname()[1])
        phases: list[str] = []
        loop.future_tick(lambda: phases.append(_PENDING[-1].phase))
        run_until_stopped(loop)
        # Right after the first tick the TCP connect is under way (or done): no "resolving".
        assert phases in (["connecting"], ["done"])
        result.transports[0].close()


def test_given_addresses_skip_the_lookup_and_are_dialled() -> None:
    with new_loop() as loop, listener() as server:
        port = server.getsockname()[1]
        # A name that cannot resolve: only the addresses given can have been dialled.
        host = "a" * 64 + ".invalid"
        result = _connect(loop, host, port, addresses=[(socket.AF_INET, ("127.0.0.1", port))])
        phases: list[str] = []
        loop.future_tick(lambda: phases.append(_PENDING[-1].phase))
        run_until_stopped(loop)
        assert phases in (["connecting"], ["done"])  # no "resolving"
        assert not result.errors, result.errors
        [transport] = result.transports
        assert transport.peer[1] == port
        transport.close()


def test_given_addresses_do_not_go_with_a_proxy() -> None:
    with new_loop() as loop, pytest.raises(ValueError, match="proxy"):
        _connect(
            loop,
            "example.test",
            80,
            proxy=parse_proxy_url("http://127.0.0.1:3128"),
            addresses=[(socket.AF_INET, ("127.0.0.1", 80))],
        )


# -- timeouts and cancel ---------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_connect_timeout_on_a_full_backlog() -> None:
    with FullBacklog() as full, new_virtual_loop() as loop:
        start = loop.now()
        result = _connect(loop, "127.0.0.1", full.port, timeout=0.2)
        run_until_stopped(loop)
        assert loop.now() - start == pytest.approx(0.2, abs=1e-9)  # the timeout, exactly
        [error] = result.errors
        assert type(error) is ConnectTimeout
        assert isinstance(error, TimeoutError)
        assert error.timeout == 0.2
        assert f"127.0.0.1:{full.port}" in str(error)
        assert "connecting" in str(error)
        # Everything was released: the loop has nothing left and returns by itself.
        loop.run()


class BlockedResolver:
    """``socket.getaddrinfo`` that hangs for ``blocked.test`` until released (others pass).

    Stands in for a slow DNS server without any network: it replaces the dependency, not the
    connector under test.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.calls = 0
        original = socket.getaddrinfo

        def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
            if host == "blocked.test":
                self.calls += 1
                self.release.wait(10)
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return original(host, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def finish(self) -> None:
        self.release.set()
        for thread in threading.enumerate():
            if thread.name.startswith("reactsse-resolve"):
                thread.join(10)


def _fake_addresses(monkeypatch: pytest.MonkeyPatch, host: str, ports: list[int]) -> None:
    """Make ``host`` resolve to 127.0.0.1 on each of ``ports``, in order (no DNS involved)."""
    original = socket.getaddrinfo

    def getaddrinfo(name: object, *args: object, **kwargs: object) -> object:
        if name == host:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))
                for port in ports
            ]
        return original(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.timeout(10)
def test_the_next_address_starts_after_the_attempt_delay_while_the_first_hangs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FullBacklog() as full, listener() as server, new_virtual_loop() as loop:
        good = server.getsockname()[1]
        _fake_addresses(monkeypatch, "two.test", [full.port, good])
        start = loop.now()
        result = _connect(loop, "two.test", good, timeout=1.0)
        run_until_stopped(loop)
        elapsed = loop.now() - start
        assert not result.errors, result.errors
        [transport] = result.transports
        assert transport.peer == ("127.0.0.1", good)
        # Happy Eyeballs (RFC 8305 section 5): the second attempt started after the default
        # connection-attempt delay (0.25 s) while the first still hung, and connected at once;
        # the timeout (1 s) was never waited out.
        assert elapsed == pytest.approx(0.25, abs=1e-9)
        transport.close()


def test_every_failed_address_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with refusing_port() as first, refusing_port() as second, new_loop() as loop:
        _fake_addresses(monkeypatch, "two.test", [first, second])
        result = _connect(loop, "two.test", 80)
        run_until_stopped(loop)
    [error] = result.errors
    assert type(error) is ConnectError
    assert str(error).startswith("cannot connect to two.test:80: ")
    assert f"127.0.0.1:{first}: [Errno {errno.ECONNREFUSED}]" in str(error)
    assert f"127.0.0.1:{second}: [Errno {errno.ECONNREFUSED}]" in str(error)


@pytest.mark.timeout(10)
def test_connect_timeout_covers_name_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = BlockedResolver(monkeypatch)
    with new_virtual_loop() as loop:
        before = open_fds()
        try:
            start = loop.now()
            result = _connect(loop, "blocked.test", 80, timeout=0.1)
            run_until_stopped(loop)
            assert loop.now() - start == pytest.approx(0.1, abs=1e-9)
            [error] = result.errors
            assert type(error) is ConnectTimeout
            assert "while resolving" in str(error)
            assert "blocked.test:80" in str(error)
            assert open_fds() == before  # the wake-up socketpair is closed at once
        finally:
            resolver.finish()
        assert resolver.calls == 1
        loop.run()  # the late answer wakes nothing: the loop has nothing left
        assert len(result.errors) == 1


def test_a_failure_found_at_once_is_still_reported_later() -> None:
    # An IPv6 literal with an unknown scope id fails in getaddrinfo(AI_NUMERICHOST), locally,
    # without a thread: the error must still come from the loop, not from inside connect().
    with new_loop() as loop:
        result = _connect(loop, "fe80::1%nosuchif0", 80)
        assert result.count == 0
        run_until_stopped(loop)
        [error] = result.errors
        assert type(error) is ConnectError
        assert "[fe80::1%nosuchif0]:80" in str(error)


@pytest.mark.timeout(10)
def test_cancel_before_start_leaves_nothing() -> None:
    with new_loop() as loop, listener() as server:
        before = open_fds()
        result = _connect(loop, "127.0.0.1", server.getsockname()[1])
        _PENDING[-1].cancel()
        _PENDING[-1].cancel()  # idempotent
        loop.run()  # returns: nothing registered
        assert result.count == 0
        assert open_fds() == before


@pytest.mark.timeout(10)
def test_cancel_while_resolving_leaves_nothing() -> None:
    with new_loop() as loop, listener() as server:
        before = open_fds()
        result = _connect(loop, "localhost", server.getsockname()[1])
        seen: list[str] = []

        def cancel() -> None:
            seen.append(_PENDING[-1].phase)
            _PENDING[-1].cancel()
            seen.append(_PENDING[-1].phase)
            assert open_fds() == before  # the socketpair is closed at once

        loop.future_tick(cancel)
        loop.run()  # returns by itself: no stream, no timer left
        assert seen == ["resolving", "done"]
        assert result.count == 0
        # The thread finishes on its own, touches nothing, raises nothing.
        for thread in threading.enumerate():
            if thread.name.startswith("reactsse-resolve"):
                thread.join(10)
        assert open_fds() == before
        assert result.count == 0


@pytest.mark.timeout(10)
def test_cancel_while_connecting_leaves_nothing() -> None:
    with FullBacklog() as full, new_loop() as loop:
        before = open_fds()
        result = _connect(loop, "127.0.0.1", full.port)
        seen: list[str] = []

        def cancel() -> None:
            seen.append(_PENDING[-1].phase)
            _PENDING[-1].cancel()

        loop.future_tick(cancel)
        loop.run()
        assert seen == ["connecting"]
        assert result.count == 0
        assert open_fds() == before


@pytest.mark.timeout(10)
def test_cancel_from_on_error_and_timeout_none() -> None:
    with refusing_port() as port, new_loop() as loop:
        result = _connect(loop, "127.0.0.1", port, timeout=None)
        run_until_stopped(loop)
        _PENDING[-1].cancel()  # after the end: harmless
        assert len(result.errors) == 1


def test_connect_rejects_bad_arguments() -> None:
    with new_loop() as loop:
        with pytest.raises(ValueError, match="port"):
            connect(loop, "127.0.0.1", 70000, on_connected=print, on_error=print)
        with pytest.raises(ValueError, match="timeout"):
            connect(loop, "127.0.0.1", 80, timeout=-1, on_connected=print, on_error=print)


# -- transport behaviour -------------------------------------------------------------------------


def test_write_to_a_reset_peer_reports_later_not_inside_write() -> None:
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop:
        transport = SocketTransport(loop, client_sock)
        received = Recorder(loop)
        transport.start(received.on_data, received.on_close)
        transport.pause_reading()  # so the RST is met by send(), not recv()
        server_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server_sock.close()
        loop.future_tick(loop.stop)
        loop.run()
        for _ in range(100):
            transport.write(b"x" * 65536)
            if transport.is_closed:
                break
        assert transport.is_closed
        assert received.closed == []  # not from inside write()
        run_until_stopped(loop)
        [error] = received.closed
        assert isinstance(error, ConnectionClosed)
        assert isinstance(error.__cause__, OSError)
        transport.write(b"dropped")  # after the end: ignored


def test_end_flushes_then_closes_with_on_close_none() -> None:
    payload = b"z" * (4 << 20)
    got = bytearray()

    def read_all(conn: socket.socket) -> None:
        while chunk := conn.recv(1 << 20):
            got.extend(chunk)

    with new_loop() as loop, listener() as server:
        thread = ThreadServer(server, read_all)
        transport = _connect_ok(loop, "127.0.0.1", server.getsockname()[1])
        received = Recorder(loop)
        transport.start(received.on_data, received.on_close)
        transport.write(payload)
        transport.end()
        transport.write(b"dropped after end")
        assert received.closed == []
        run_until_stopped(loop)
        thread.join()
        assert received.closed == [None]
        assert bytes(got) == payload


def test_end_with_unread_input_closes_with_fin_not_reset() -> None:
    # A server that ends a response while the client's extra bytes sit unread must not reset
    # the connection: the client reads the whole response, then a clean EOF.
    client_sock, server_sock = tcp_pair()
    with new_loop() as loop, client_sock:
        transport = SocketTransport(loop, server_sock)
        received = Recorder(loop)
        transport.pause_reading()
        transport.start(received.on_data, received.on_close)
        client_sock.sendall(b"pipelined request " * 1000)  # on loopback: queued on return
        response = b"r" * 300_000
        transport.write(response)
        transport.end()
        got = bytearray()
        client_sock.settimeout(10)
        while len(got) < len(response):  # read it all while the loop is idle: no loop needed
            chunk = client_sock.recv(1 << 20)
            assert chunk
            got.extend(chunk)
            loop.future_tick(loop.stop)
            loop.run()  # lets the transport flush what the socket takes now
        if not received.closed:
            run_until_stopped(loop)
        assert received.closed == [None]
        assert client_sock.recv(10) == b""  # FIN, not ConnectionResetError
        assert bytes(got) == response


@given(st.ip_addresses())
def test_ip_literals_are_recognised_with_and_without_brackets(address: object) -> None:
    text = str(address)
    assert ip_literal(text) == text
    if ":" in text:
        assert ip_literal(f"[{text}]") == text
        assert format_address(text, 443) == f"[{text}]:443"
    else:
        assert format_address(text, 443) == f"{text}:443"


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True))
def test_host_names_are_not_ip_literals(name: str) -> None:
    assert ip_literal(name) is None


# -- adaptive read size ------------------------------------------------------------------------


def _queued(sock: socket.socket) -> int:
    """Bytes waiting in ``sock``'s receive queue (FIONREAD)."""
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", raw)[0])


def _wait_queued(sock: socket.socket, count: int, limit: float = 5.0) -> None:
    """Wait until loopback has delivered ``count`` bytes to ``sock`` (bounded)."""
    deadline = time.monotonic() + limit
    while _queued(sock) < count:
        assert time.monotonic() < deadline, f"{_queued(sock)} of {count} bytes arrived"
        time.sleep(0.001)


class _Reads:
    """Record each ``on_data`` call's size; stop the loop once ``target`` bytes arrived."""

    def __init__(self, loop: LoopInterface) -> None:
        self.loop = loop
        self.sizes: list[int] = []
        self.total = 0
        self.target = 0

    def on_data(self, data: memoryview) -> None:
        self.sizes.append(len(data))
        self.total += len(data)
        if self.total >= self.target:
            self.loop.stop()

    def on_close(self, error: Exception | None) -> None:
        raise AssertionError(f"unexpected close: {error!r}")

    def read(self, sender: socket.socket, receiver: socket.socket, size: int) -> list[int]:
        """Queue ``size`` bytes on ``receiver`` while the loop is idle, then read them all."""
        sender.sendall(b"x" * size)
        _wait_queued(receiver, size)  # every byte is there before the first recv
        first = len(self.sizes)
        self.target = self.total + size
        run_until_stopped(self.loop)
        return self.sizes[first:]


def test_read_size_starts_small_jumps_to_the_most_on_a_full_read_and_shrinks_after_small_ones() -> (
    None
):
    with listener() as server:
        # Room for every byte queued at once below (the default window may not be).
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sender = socket.create_connection(server.getsockname()[:2], timeout=5)
        receiver, _address = server.accept()
    with new_loop() as loop, sender:
        transport = SocketTransport(loop, receiver)
        reads = _Reads(loop)
        transport.start(reads.on_data, reads.on_close)
        try:
            # Everything is queued before the first read: the first read is small, a full read
            # makes the next one READ_SIZE at once and never more; each read is one on_data.
            assert FIRST_READ_SIZE == 2048 and READ_SIZE == 65536
            grown = [2048, 65536, 65536, 1000]
            assert reads.read(sender, receiver, sum(grown)) == grown
            # The 1000-byte read was the first small one; a second one in a row halves the
            # size (64 -> 32 KiB), and two more halve it again (16 KiB); a full read of 16 KiB
            # goes back to 64 KiB.
            for _ in range(3):
                assert reads.read(sender, receiver, 10) == [10]
            assert reads.read(sender, receiver, 16384 + 65536 + 32768) == [16384, 65536, 32768]
            # One small read between full ones does not shrink: hysteresis.
            assert reads.read(sender, receiver, 10) == [10]
            assert reads.read(sender, receiver, 70_000) == [65536, 70_000 - 65536]
            # Shrinking stops at FIRST_READ_SIZE.
            for _ in range(12):
                assert reads.read(sender, receiver, 100) == [100]
            assert reads.read(sender, receiver, 10_000) == [2048, 10_000 - 2048]
        finally:
            transport.close()


# -- the reused read buffer ---------------------------------------------------------------------


def test_a_buffer_still_exported_after_on_data_is_not_reused() -> None:
    """A consumer that holds a buffer export of the view past the call (here a PickleBuffer,
    which keeps a Py_buffer of it) keeps its bytes: that buffer leaves the free list instead of
    being overwritten by the next read. (Slices kept instead of copies are the consumer's bug:
    the contract is "copy what you keep", as asyncio's BufferedProtocol's.)"""
    import pickle

    client_sock, server_sock = tcp_pair()
    with new_loop() as loop, server_sock:
        transport = SocketTransport(loop, client_sock)
        held: list[pickle.PickleBuffer] = []
        buffers: list[int] = []

        def on_data(data: memoryview) -> None:
            buffers.append(id(data.obj))
            if not held:
                held.append(pickle.PickleBuffer(data))
            loop.stop()

        transport.start(on_data, lambda _error: loop.stop())
        try:
            server_sock.sendall(b"first")
            run_until_stopped(loop)
            server_sock.sendall(b"second")
            run_until_stopped(loop)
            assert bytes(held[0].raw()) == b"first"  # not overwritten by the second read
            assert buffers[0] != buffers[1]
        finally:
            transport.close()
            held[0].release()
