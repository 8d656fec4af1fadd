"""Shared helpers of ``tests/test_connector*.py``: bounded loop runs, loopback servers, fd counts,
throwaway certificates, and ``Kind``: plain TCP or TLS, for the ``Transport`` contract tests.

Everything listens on 127.0.0.1 (or ::1), is started by the test and closed by it.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import trustme

from reactsse.connector import SocketTransport, TLSTransport, Transport
from reactsse.loop import LoopInterface, Stream, StreamSelectLoop, TimerInterface, VirtualTimeLoop


def run_until_stopped(loop: LoopInterface, limit: float = 5.0) -> None:
    """Run ``loop`` until a callback calls ``loop.stop()``; fail if that takes over ``limit`` s."""
    timed_out: list[bool] = []

    def guard(_timer: object) -> None:
        timed_out.append(True)
        loop.stop()

    timer = loop.add_timer(limit, guard)
    try:
        loop.run()
    finally:
        loop.cancel_timer(timer)
    assert not timed_out, f"the loop was not stopped within {limit} s"


def open_fds() -> int:
    """Number of open descriptors of this process (Linux /proc); skips elsewhere."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except FileNotFoundError:  # pragma: no cover - not Linux
        pytest.skip("needs /proc/self/fd to count descriptors")


@contextmanager
def new_loop() -> Iterator[StreamSelectLoop]:
    loop = StreamSelectLoop()
    try:
        yield loop
    finally:
        loop.close()


@contextmanager
def new_virtual_loop() -> Iterator[VirtualTimeLoop]:
    """A loop on a virtual clock that jumps to the next timer when no I/O happens: timeouts
    fire at exact ``loop.now()`` times, without waiting them out (real sockets stay real)."""
    loop = VirtualTimeLoop()
    try:
        yield loop
    finally:
        loop.close()


@contextmanager
def listener(host: str = "127.0.0.1", backlog: int = 16) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(backlog)
        yield sock
    finally:
        sock.close()


def accept_on_loop(
    loop: LoopInterface, server: socket.socket, on_accept: Callable[[socket.socket], object]
) -> None:
    """Accept one connection from the loop (non-blocking listener), hand it to ``on_accept``."""
    server.setblocking(False)

    def readable(_stream: object) -> None:
        try:
            conn, _address = server.accept()
        except BlockingIOError:
            return
        loop.remove_read_stream(server)
        on_accept(conn)

    loop.add_read_stream(server, readable)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the ``with`` block runs.

    The port stays bound (never listening), so a connect gets ECONNREFUSED and nobody else can
    take the port meanwhile: a port bound, released and then used races with every other
    process on the machine that binds port 0 (parallel test runs, benchmarks).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected (client, server) TCP pair on 127.0.0.1, made with blocking calls."""
    with listener() as server:
        client = socket.create_connection(server.getsockname()[:2], timeout=5)
        conn, _address = server.accept()
    return client, conn


class ThreadServer:
    """Run ``handler(conn)`` in a thread for one accepted connection; re-raise its error.

    For peers that must block (a stdlib ``ssl`` server, a reader that drains) while the loop
    runs in the test's thread. ``join()`` waits for it and raises what the handler raised.
    """

    def __init__(self, server: socket.socket, handler: Callable[[socket.socket], None]) -> None:
        self._server = server
        self._handler = handler
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.settimeout(10)
            conn, _address = self._server.accept()
            with conn:
                conn.settimeout(10)
                self._handler(conn)
        except BaseException as exc:  # re-raised by join() in the test's thread
            self._error = exc

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "server thread did not finish"
        if self._error is not None:
            raise self._error


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class _AsyncioTimer(TimerInterface):
    def __init__(self, interval: float, callback: Callable[[TimerInterface], object]) -> None:
        self._interval = interval
        self._callback = callback
        self.handle: asyncio.TimerHandle | None = None

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def callback(self) -> Callable[[TimerInterface], object]:
        return self._callback

    @property
    def is_periodic(self) -> bool:
        return False


class AsyncioHostedLoop(LoopInterface):
    """A minimal ``LoopInterface`` on an asyncio event loop (streams, one-shot timers, ticks).

    Not part of reactsse: it only shows that the connector needs nothing beyond the interface
    (in particular no thread-safe call: the resolver wakes the loop through a ``ThreadWaker``,
    a read stream like any other).
    """

    def __init__(self) -> None:
        self.aio = asyncio.new_event_loop()

    def add_read_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        self.aio.add_reader(stream.fileno(), listener, stream)

    def add_write_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        self.aio.add_writer(stream.fileno(), listener, stream)

    def remove_read_stream(self, stream: Stream) -> None:
        self.aio.remove_reader(stream.fileno())

    def remove_write_stream(self, stream: Stream) -> None:
        self.aio.remove_writer(stream.fileno())

    def add_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        timer = _AsyncioTimer(interval, callback)
        timer.handle = self.aio.call_later(interval, callback, timer)
        return timer

    def add_periodic_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        raise NotImplementedError

    def cancel_timer(self, timer: TimerInterface) -> None:
        if isinstance(timer, _AsyncioTimer) and timer.handle is not None:
            timer.handle.cancel()

    def future_tick(self, listener: Callable[[], object]) -> None:
        self.aio.call_soon(listener)

    def add_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        raise NotImplementedError

    def remove_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        raise NotImplementedError

    def now(self) -> float:
        return self.aio.time()

    def run(self) -> None:
        self.aio.run_forever()

    def stop(self) -> None:
        self.aio.stop()


class Certificates:
    """A throwaway CA (``trustme``), a certificate for localhost/127.0.0.1/::1, two contexts."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("localhost", "127.0.0.1", "::1")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(self.server)
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)


CERTS = Certificates()  # one throwaway CA for the test session (hypothesis tests need it too)


class Recorder:
    """What ``connect`` and a started transport called back; stops the loop on each end.

    ``on_data`` checks the contract (a non-empty view) and copies; ``stop_after`` stops the loop
    once that many bytes arrived.
    """

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
        assert data, "on_data must never get b''"
        self.chunks.append(bytes(data))
        if self.stop_after is not None and len(self.data) >= self.stop_after:
            self.loop.stop()

    def on_close(self, error: Exception | None) -> None:
        assert not self.closed, "on_close called twice"
        self.closed.append(error)
        self.loop.stop()

    @property
    def count(self) -> int:
        return len(self.transports) + len(self.errors)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class Kind:
    """Plain TCP or TLS: how to make each side of a connection of this kind.

    The ``Transport`` contract tests take a ``kind`` (as anyio's tests take ``anyio_backend``)
    and run the same steps and assertions on both.
    """

    def __init__(self, name: str) -> None:
        assert name in ("tcp", "tls")
        self.name = name
        self.is_tls = name == "tls"

    def __repr__(self) -> str:
        return self.name

    @property
    def client_context(self) -> ssl.SSLContext | None:
        """``connect``'s ``ssl_context`` for this kind (trusting the test CA for TLS)."""
        return CERTS.client if self.is_tls else None

    def server_side(
        self,
        loop: LoopInterface,
        conn: socket.socket,
        on_ready: Callable[[Transport], object],
        on_error: Callable[[Exception], object],
    ) -> Transport:
        """The server's transport of ``conn``; ``on_ready(it)`` once it can be started."""
        if not self.is_tls:
            plain = SocketTransport(loop, conn)
            loop.future_tick(lambda: on_ready(plain))
            return plain
        tls = TLSTransport(loop, conn, CERTS.server, server_side=True)
        tls.handshake(lambda: on_ready(tls), on_error)
        return tls

    def pair(self, loop: LoopInterface) -> tuple[Transport, Transport]:
        """A connected (client, server) pair on ``loop``, handshakes done, neither started."""
        client_sock, server_sock = tcp_pair()
        if not self.is_tls:
            return SocketTransport(loop, client_sock), SocketTransport(loop, server_sock)
        client = TLSTransport(loop, client_sock, CERTS.client, server_hostname="localhost")
        ready: list[Transport] = []
        errors: list[Exception] = []

        def done(transport: Transport) -> None:
            ready.append(transport)
            if len(ready) == 2:
                loop.stop()

        def failed(error: Exception) -> None:
            errors.append(error)
            loop.stop()

        server = self.server_side(loop, server_sock, done, failed)
        client.handshake(lambda: done(client), failed)
        run_until_stopped(loop)
        assert len(ready) == 2 and not errors, errors
        return client, server

    def wrap_peer(self, conn: socket.socket) -> socket.socket:
        """A blocking peer socket for a ``ThreadServer`` handler (a stdlib ``ssl`` server)."""
        return CERTS.server.wrap_socket(conn, server_side=True) if self.is_tls else conn

    def end_peer(self, peer: socket.socket) -> None:
        """End the peer's side cleanly: ``close_notify`` for TLS, nothing more for TCP."""
        if isinstance(peer, ssl.SSLSocket):
            peer.unwrap()


KINDS = [Kind("tcp"), Kind("tls")]


class LoopEchoServer:
    """An echo server of ``kind`` on the test's loop: a server-side transport per accept."""

    def __init__(self, loop: LoopInterface, server: socket.socket, kind: Kind) -> None:
        self.loop = loop
        self.kind = kind
        self.transports: list[Transport] = []
        self.handshake_errors: list[Exception] = []
        self.closed: list[Exception | None] = []
        accept_on_loop(loop, server, self._accepted)

    def _accepted(self, conn: socket.socket) -> None:
        transport = self.kind.server_side(
            self.loop, conn, self._ready, self.handshake_errors.append
        )
        self.transports.append(transport)

    def _ready(self, transport: Transport) -> None:
        transport.start(transport.write, self.closed.append)

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


class FullBacklog:
    """A listener whose accept queue is full, so a new SYN is dropped and connect hangs.

    Linux drops a SYN when the accept queue is full (tcp_conn_request). ``listen(0)`` admits
    one connection; this fills it with a blocking connect, so the next one cannot complete.
    Loopback only.
    """

    def __enter__(self) -> FullBacklog:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.port: int = self.server.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        # Check the premise once: a probe must not complete (a bounded wait, not a sleep).
        with socket.socket() as probe:
            probe.setblocking(False)
            probe.connect_ex(("127.0.0.1", self.port))
            _r, writable, _x = select.select([], [probe], [], 0.2)
            if writable and probe.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                self.__exit__()
                pytest.skip("this kernel completes connects to a full backlog")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.filler.close()
        self.server.close()
