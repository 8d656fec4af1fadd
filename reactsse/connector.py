"""Non-blocking TCP and TLS on any ``LoopInterface``: ``Transport``, ``connect``.

The I/O layer under the HTTP client and the SSE server. It knows sockets, ``ssl`` and the loop;
it knows nothing of HTTP or SSE (house plan: layers point down). It plays the part of
reactphp/socket's ``Connector``/``Connection`` and reactphp/stream's ``DuplexResourceStream``.

Invariants (STYLE rule 2; the states are ``_State`` and ``_Phase`` below):

* A transport calls its callbacks (``on_data``, ``on_close``, ``on_drain``) only from loop
  callbacks, never from inside a method the user called, and never after ``close()``.
* ``on_close`` is called at most once: ``None`` at a clean end, else a ``TransportError``
  subclass translated here from ``OSError``/``ssl.SSLError``, once, with ``__cause__`` set
  (STYLE rule 7).
* Releasing is immediate: ``close()`` (and ``PendingConnect.cancel()``) removes every loop
  registration, cancels every timer and closes every socket before it returns.
* ``connect`` calls exactly one of ``on_connected``/``on_error``, always from a loop callback
  (never synchronously inside ``connect()``), and none after ``cancel()``.

Reading is one ``recv_into`` per readiness, as reactphp/stream's
``ReadableResourceStream::handleData`` does one ``stream_get_contents($stream, 65536)``: a busy
connection cannot starve the others.

* The buffer is reused: a read takes a ``READ_BUFFER_SIZE`` (96 KiB) ``bytearray`` from a free
  list shared by every transport, ``recv_into`` fills it, ``on_data`` gets a ``memoryview`` of
  the bytes read, and the buffer goes back to the list when ``on_data`` returns. No read
  allocates, and memory is one buffer per read in progress (one per thread; two while a TLS read
  decrypts) however many connections are open. The view is released after the call: a
  consumer copies what it keeps (``bytes(data)``), and that copy is the only one.
* The size asked adapts, after Netty's ``AdaptiveRecvByteBufAllocator``: a connection's first
  read asks ``FIRST_READ_SIZE`` (2 KiB, Netty's initial size); a read that comes back full sets
  it to ``READ_SIZE`` (64 KiB, ReactPHP's) at once, and two reads in a row that fill at most a
  quarter of it halve it again (never below ``FIRST_READ_SIZE``). A fast stream's first events
  are then decoded and delivered after 2 KiB instead of after the whole first 64 KiB. Netty
  grows step by step because each size is an allocation; here the buffer is reused, so asking
  64 KiB costs no more than asking 2 KiB, and a 64 KiB event arrives in two reads, not six.
* Every read is one ``on_data`` call; for TLS, every socket read's plaintext is one call.

The choices against plain ``recv``, against reading until ``EAGAIN`` and against a larger
maximum were measured: ``bench/connector.py`` and ``bench/client.py``, figures in
``docs/connector.md``.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import errno
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    TLSError,
    TransportError,
)
from reactsse.loop.interface import LoopInterface, Stream, TimerInterface

__all__ = [
    "FIRST_READ_SIZE",
    "READ_BUFFER_SIZE",
    "READ_SIZE",
    "PendingConnect",
    "SocketTransport",
    "TLSTransport",
    "Transport",
    "connect",
    "default_ssl_context",
]

#: The most bytes asked of the kernel per readiness (ReactPHP's ``$bufferSize``, 65536): the
#: size a streaming connection's reads grow to.
READ_SIZE = 65536
#: The bytes asked by a connection's first read, and the least the adaptive size shrinks to.
FIRST_READ_SIZE = 2048
#: The size of the reused read buffers: ``READ_SIZE`` and room for the TLS record (at most
#: 16 KiB of plaintext, RFC 8446 section 5.1) that a read's ciphertext may complete, so that the
#: plaintext of one socket read always fits one buffer, hence one ``on_data`` call.
READ_BUFFER_SIZE = READ_SIZE + 32 * 1024

# The free list of read buffers (see the module docstring), each with a view of itself made
# once. list.pop() and list.append() are atomic, so loops in several threads may share it.
_free_buffers: list[tuple[bytearray, memoryview]] = []


def _take_buffer() -> tuple[bytearray, memoryview]:
    try:
        return _free_buffers.pop()
    except IndexError:
        buffer = bytearray(READ_BUFFER_SIZE)
        return buffer, memoryview(buffer)


def _give_back(buffer: tuple[bytearray, memoryview], data: memoryview) -> None:
    """Return ``buffer`` to the free list once ``on_data`` returned with ``data``, its view.

    ``data`` is released first, so that a consumer that kept it (instead of copying what it
    needed) gets a ``ValueError`` rather than bytes of a later read. A consumer that still holds
    a buffer export of it (``BufferError``) keeps the buffer: it is not reused.
    """
    try:
        data.release()
    except BufferError:
        return
    _free_buffers.append(buffer)


# errnos that mean "the peer went away", reported as ConnectionClosed rather than the
# generic TransportError.
_CLOSED_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.EPIPE,
        errno.ECONNABORTED,
        errno.ESHUTDOWN,
        errno.ETIMEDOUT,
        errno.ENOTCONN,
    }
)
# A non-blocking connect that is under way (POSIX connect(2); WSAEWOULDBLOCK on Windows).
_CONNECT_PENDING = frozenset(
    {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY}
    | {getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}
)


def default_ssl_context() -> ssl.SSLContext:
    """Return ``ssl.create_default_context()``: certificate and host-name checks on, system roots.

    Pass it (or your own context) as ``connect(..., ssl_context=...)`` for ``https`` URLs.
    """
    return ssl.create_default_context()


def _format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets (RFC 3986 section 3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(exc: BaseException) -> str:
    """A short reason for a foreign exception: its strerror/verify message, not its repr."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return f"{text} ({reason})" if reason and reason not in text else text
    if isinstance(exc, OSError) and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}" if exc.errno else exc.strerror
    return str(exc) or type(exc).__name__


def _translate_stream_error(exc: OSError, peer: tuple[Any, ...]) -> TransportError:
    """Translate an error of an established connection, once (STYLE rule 7)."""
    host, port = _peer_host_port(peer)
    where = _format_address(host, port) if host is not None and port is not None else "peer"
    error: TransportError
    if isinstance(exc, ssl.SSLError):  # a bad record, an alert: TLS itself failed
        error = TLSError(
            f"TLS connection with {where} failed: {_describe(exc)}", host=host, port=port
        )
    elif exc.errno in _CLOSED_ERRNOS:
        error = ConnectionClosed(
            f"connection with {where} closed: {_describe(exc)}", host=host, port=port
        )
    else:
        error = TransportError(
            f"connection with {where} failed: {_describe(exc)}", host=host, port=port
        )
    error.__cause__ = exc
    return error


def _peer_host_port(peer: tuple[Any, ...]) -> tuple[str | None, int | None]:
    if len(peer) >= 2 and isinstance(peer[0], str) and isinstance(peer[1], int):
        return peer[0], peer[1]
    return None, None


def _address_tuple(address: object) -> tuple[Any, ...]:
    """``getpeername()`` results as a tuple (an AF_UNIX name becomes a 1-tuple)."""
    return tuple(address) if isinstance(address, tuple) else (address,)


class _State(enum.Enum):
    """Life of a transport. OPEN → (CLOSING →) CLOSED; HANDSHAKING only for TLS, before OPEN."""

    HANDSHAKING = "handshaking"  # TLS: handshake in progress, no application data yet
    OPEN = "open"  # reading and writing
    CLOSING = "closing"  # end() called: flushing the write buffer, then CLOSED
    CLOSED = "closed"  # socket closed, nothing registered, no callback will be called


class Transport(abc.ABC):
    """A connected byte stream on a ``LoopInterface``: what ``connect`` hands to ``on_connected``.

    Callbacks: ``on_data(memoryview)`` per read (never empty; a view of a reused buffer, valid
    only during the call: copy what you keep, ``bytes(data)``), ``on_close(None)`` at a clean end or
    ``on_close(error)`` with a ``TransportError`` subclass, and the ``on_drain`` attribute
    (``None`` by default), called when a write buffer that had filled up is empty again.
    No callback is ever called after ``close()``, and none from inside a method you call.
    """

    #: Called with no argument when the write buffer has been fully flushed after filling up.
    on_drain: Callable[[], object] | None = None

    @abc.abstractmethod
    def start(
        self,
        on_data: Callable[[memoryview], object],
        on_close: Callable[[Exception | None], object],
    ) -> None:
        """Start reading: ``on_data`` gets each read's bytes, ``on_close`` the end, once.

        ``on_data``'s argument is a view of a buffer that the next read reuses: it is valid
        during the call only (it is released afterwards), so copy what you keep.

        Raises ``RuntimeError`` if called twice. On a transport that already failed (a
        ``write`` error before ``start``), ``on_close(error)`` is called on the next tick.
        """

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send ``data`` now as far as the socket takes it; buffer the rest, flushed by the loop.

        Never blocks and never raises for I/O errors: those close the transport and reach
        ``on_close``. After ``close()``/``end()`` the data is dropped (ReactPHP returns false).
        """

    @abc.abstractmethod
    def end(self) -> None:
        """Stop reading, flush the write buffer, then close and call ``on_close(None)``.

        ReactPHP's ``end()``. Idempotent; ``close()`` during the flush drops the buffer.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close at once: drop the buffer, release the socket and every loop registration.

        Idempotent. No callback is called afterwards, not even ``on_close``.
        """

    @abc.abstractmethod
    def pause_reading(self) -> None:
        """Stop reading (remove the read listener) until ``resume_reading()``. Idempotent."""

    @abc.abstractmethod
    def resume_reading(self) -> None:
        """Read again after ``pause_reading()``. Idempotent."""

    @property
    @abc.abstractmethod
    def buffered_size(self) -> int:
        """Bytes written but not yet taken by the kernel (for TLS: ciphertext and plaintext)."""

    @property
    @abc.abstractmethod
    def peer(self) -> tuple[Any, ...]:
        """The peer's address from ``getpeername()`` at creation, e.g. ``("127.0.0.1", 80)``."""

    @property
    @abc.abstractmethod
    def local(self) -> tuple[Any, ...]:
        """Our own address as ``getsockname()`` gave it at creation."""

    @property
    @abc.abstractmethod
    def is_tls(self) -> bool:
        """True for a ``TLSTransport``."""

    @property
    @abc.abstractmethod
    def is_closed(self) -> bool:
        """True once closed (by ``close()``, ``end()`` completing, EOF or an error)."""


class _SocketBase(Transport):
    """The socket half shared by both transports: reading, the write buffer, closing."""

    def __init__(self, loop: LoopInterface, sock: socket.socket) -> None:
        self._loop = loop
        self._sock = sock
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Event streams are many small writes; Nagle would hold each one for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._peer = _address_tuple(sock.getpeername())
        except OSError:
            self._peer = ()
        self._local = _address_tuple(sock.getsockname())
        self._state = _State.OPEN
        self._on_data: Callable[[memoryview], object] | None = None
        self._on_close: Callable[[Exception | None], object] | None = None
        self._started = False
        self._paused = False
        self._reading = False  # read listener registered
        # The adaptive read size (see the module docstring): FIRST_READ_SIZE..READ_SIZE, a
        # power of two; _short_reads counts the reads in a row that filled at most a quarter.
        self._read_size = FIRST_READ_SIZE
        self._short_reads = 0
        self._writing = False  # write listener registered
        self._write_buffer = bytearray()  # del from the front is amortised O(1) in CPython
        self._failed: TransportError | None = None  # failure before start(), reported by start()

    # -- public ------------------------------------------------------------------------------

    def start(
        self,
        on_data: Callable[[memoryview], object],
        on_close: Callable[[Exception | None], object],
    ) -> None:
        if self._started:
            raise RuntimeError("Transport.start() called twice")
        self._started = True
        self._on_data = on_data
        self._on_close = on_close
        if self._state is _State.CLOSED:
            failed = self._failed
            if failed is not None:
                self._failed = None
                self._loop.future_tick(lambda: self._report_after_release(failed))
            return
        self._update_reading()
        self._started_hook()

    def end(self) -> None:
        if self._state in (_State.CLOSED, _State.CLOSING):
            return
        self._state = _State.CLOSING
        self._update_reading()
        if not self._pending_output():
            self._discard_unread()
            self._release()
            self._loop.future_tick(lambda: self._report_after_release(None))

    def close(self) -> None:
        self._on_data = None
        self._on_close = None
        self.on_drain = None
        self._release()

    def pause_reading(self) -> None:
        self._paused = True
        self._update_reading()

    def resume_reading(self) -> None:
        self._paused = False
        self._update_reading()
        self._resumed_hook()

    @property
    def buffered_size(self) -> int:
        return len(self._write_buffer)

    @property
    def peer(self) -> tuple[Any, ...]:
        return self._peer

    @property
    def local(self) -> tuple[Any, ...]:
        return self._local

    @property
    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state.value} peer={self._peer!r}>"

    # -- hooks for the subclasses --------------------------------------------------------------

    @abc.abstractmethod
    def _received(self, data: memoryview) -> None:
        """Bytes from the socket (never empty; a view of a reused buffer, valid during the call)."""

    @abc.abstractmethod
    def _eof(self) -> None:
        """The peer closed its side (recv returned b"")."""

    def _started_hook(self) -> None:
        """Called at the end of ``start()`` on an open transport."""

    def _resumed_hook(self) -> None:
        """Called at the end of ``resume_reading()``."""

    def _pending_output(self) -> bool:
        return bool(self._write_buffer)

    def _drained(self) -> None:
        """The raw write buffer became empty (after having been non-empty)."""
        if self._state is _State.CLOSING:
            self._discard_unread()
            self._finish(None)
        elif self.on_drain is not None:
            self.on_drain()

    # -- reading -------------------------------------------------------------------------------

    def _wants_reading(self) -> bool:
        if self._state is _State.HANDSHAKING:
            return True
        return self._state is _State.OPEN and self._started and not self._paused

    def _update_reading(self) -> None:
        want = self._wants_reading()
        if want and not self._reading:
            self._loop.add_read_stream(self._sock, self._on_readable)
            self._reading = True
        elif not want and self._reading:
            self._loop.remove_read_stream(self._sock)
            self._reading = False

    def _on_readable(self, _stream: Stream) -> None:
        # One recv_into per readiness (reactphp/stream ReadableResourceStream::handleData reads
        # at most $bufferSize = 65536 per call); the next select serves the other connections.
        size = self._read_size
        buffer = _take_buffer()
        try:
            received = self._sock.recv_into(buffer[0], size)
        except (BlockingIOError, InterruptedError):
            _free_buffers.append(buffer)
            return  # spurious readiness
        except OSError as exc:
            _free_buffers.append(buffer)
            self._fail(exc)
            return
        if received == size:
            # A full read: more is probably waiting, so ask the most at once (the buffer is
            # reused: a bigger ask costs nothing). Shrink only after two small reads in a row
            # (Netty's hysteresis).
            self._read_size = READ_SIZE
            self._short_reads = 0
        elif received <= size >> 2 and size > FIRST_READ_SIZE:
            self._short_reads += 1
            if self._short_reads == 2:
                self._read_size = size >> 1
                self._short_reads = 0
        else:
            self._short_reads = 0
        if not received:
            _free_buffers.append(buffer)
            self._eof()
            return
        data = buffer[1][:received]
        try:
            self._received(data)
        finally:
            _give_back(buffer, data)

    # -- writing -------------------------------------------------------------------------------

    def _raw_write(self, data: bytes | bytearray | memoryview) -> None:
        """Send now as far as the kernel takes it; buffer the rest and watch for writability."""
        if not data or self._state is _State.CLOSED:
            return
        if self._write_buffer:
            self._write_buffer += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            # Not from a loop callback: report on the next tick (no callback inside write()).
            self._fail_later(exc)
            return
        if sent < len(data):
            self._write_buffer += memoryview(data)[sent:]
            self._loop.add_write_stream(self._sock, self._on_writable)
            self._writing = True

    def _on_writable(self, _stream: Stream) -> None:
        try:
            sent = self._sock.send(self._write_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._write_buffer[:sent]
        if not self._write_buffer:
            self._loop.remove_write_stream(self._sock)
            self._writing = False
            self._drained()

    # -- ending --------------------------------------------------------------------------------

    def _discard_unread(self) -> None:
        """Read and drop what the peer sent and nobody read, before an ``end()`` closes.

        close(2) with unread bytes in the receive queue sends RST instead of FIN, and an RST
        can make the peer drop our last bytes unread (RFC 9112 section 9.6, "tear-down";
        RFC 1122 4.2.2.13). Bounded: at most 16 reads, never waits.
        """
        buffer = _take_buffer()
        try:
            for _ in range(16):
                if not self._sock.recv_into(buffer[0], READ_SIZE):
                    return
        except OSError:  # EAGAIN (queue empty) or an error: nothing more to drop
            return
        finally:
            _free_buffers.append(buffer)

    def _release(self) -> None:
        """Remove every loop registration and close the socket; idempotent, no callback."""
        if self._state is _State.CLOSED:
            return
        was = self._state
        self._state = _State.CLOSED
        self._before_release(was)
        if self._reading:
            self._loop.remove_read_stream(self._sock)
            self._reading = False
        if self._writing:
            self._loop.remove_write_stream(self._sock)
            self._writing = False
        self._write_buffer = bytearray()
        self._sock.close()

    def _before_release(self, was: _State) -> None:
        """Last words before the socket closes (TLS: close_notify); ``was`` is the old state."""

    def _finish(self, error: TransportError | None) -> None:
        """Release and report the end (called from loop callbacks only)."""
        on_close = self._on_close
        self._release()
        self._on_data = None
        self._on_close = None
        self.on_drain = None
        if on_close is not None:
            on_close(error)

    def _report_after_release(self, error: TransportError | None) -> None:
        """Deliver an end decided earlier (in a user call) unless ``close()`` came first."""
        on_close = self._on_close
        self._on_data = None
        self._on_close = None
        self.on_drain = None
        if on_close is not None:
            on_close(error)

    def _translate(self, exc: OSError) -> TransportError:
        return _translate_stream_error(exc, self._peer)

    def _fail(self, exc: OSError) -> None:
        error = self._translate(exc)
        if not self._started:
            self._failed = error
            self._release()
            return
        self._finish(error)

    def _fail_later(self, exc: OSError) -> None:
        error = self._translate(exc)
        self._release()
        if not self._started:
            self._failed = error
            return
        self._loop.future_tick(lambda: self._report_after_release(error))


class SocketTransport(_SocketBase):
    """Plain TCP (or any stream socket) on a ``LoopInterface``.

    ``SocketTransport(loop, sock)`` takes a *connected* socket (``connect`` makes one; a server
    passes what ``accept()`` returned), makes it non-blocking, sets ``TCP_NODELAY`` on TCP, and
    owns it from then on: ``close()`` closes it. Nothing is read before ``start()``.
    """

    @property
    def is_tls(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        if self._state is not _State.OPEN:
            return
        self._raw_write(data)

    def _received(self, data: memoryview) -> None:
        on_data = self._on_data
        if on_data is not None:
            on_data(data)

    def _eof(self) -> None:
        self._finish(None)


class TLSTransport(_SocketBase):
    """TLS over a connected socket, with ``ssl.MemoryBIO`` and ``SSLObject`` (no ``wrap_socket``).

    ``TLSTransport(loop, sock, context, server_hostname=..., server_side=False)``; then
    ``handshake(on_done, on_error)``; after ``on_done()`` it is used like any ``Transport``.
    ``connect(..., ssl_context=...)`` does all of this for clients. A server passes an accepted
    socket and ``server_side=True`` (and arms its own handshake timer).

    Each socket read feeds the incoming BIO, then ``SSLObject.read`` is drained fully (one read
    may complete several TLS records; a record may span reads) into a reused buffer (the
    ``SSLObject.read(n, buffer)`` form: no plaintext ``bytes`` is made), and all of it goes to
    one ``on_data`` call. A TCP EOF without ``close_notify`` is reported as a clean end, like
    ``suppress_ragged_eofs=True``: HTTP framing, not TLS, tells a truncated body.
    """

    def __init__(
        self,
        loop: LoopInterface,
        sock: socket.socket,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
    ) -> None:
        """Wrap ``sock`` (connected). Raises ``TLSError`` if the context refuses the settings
        (e.g. ``check_hostname`` without ``server_hostname``); ``sock`` is closed then."""
        super().__init__(loop, sock)
        self._server_hostname = server_hostname
        self._handshake_started = False
        self._on_handshake: Callable[[], object] | None = None
        self._on_handshake_error: Callable[[Exception], object] | None = None
        self._plain_pending = bytearray()  # plaintext SSLObject.write could not take yet
        self._state = _State.HANDSHAKING
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        try:
            if not server_side and context.check_hostname and not server_hostname:
                # SSLSocket refuses this; SSLObject does not, and would then check the chain
                # but not the name (CPython ssl.py SSLSocket._create).
                raise ValueError("check_hostname requires server_hostname")
            self._ssl = context.wrap_bio(
                self._incoming,
                self._outgoing,
                server_side=server_side,
                server_hostname=server_hostname,
            )
        except (ValueError, ssl.SSLError) as exc:
            self._release()
            raise TLSError(f"cannot start TLS: {exc}") from exc

    @property
    def is_tls(self) -> bool:
        return True

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The ``SSLObject``: ``version()``, ``cipher()``, ``getpeercert()``, ALPN."""
        return self._ssl

    @property
    def buffered_size(self) -> int:
        return len(self._write_buffer) + self._outgoing.pending + len(self._plain_pending)

    def handshake(
        self, on_done: Callable[[], object], on_error: Callable[[Exception], object]
    ) -> None:
        """Run the TLS handshake; then ``on_done()`` or ``on_error(TLSError)``, from the loop.

        Neither is called from inside ``handshake()``, nor after ``close()``. No timeout here:
        the caller arms a timer and calls ``close()`` when it fires. Raises ``RuntimeError``
        if called twice.
        """
        if self._handshake_started:
            raise RuntimeError("TLSTransport.handshake() called twice")
        self._handshake_started = True
        if self._state is not _State.HANDSHAKING:
            return
        self._on_handshake = on_done
        self._on_handshake_error = on_error
        self._update_reading()
        # The first step only writes the ClientHello (or waits for one); run it from the loop
        # so that even a configuration error reaches on_error later, never synchronously.
        self._loop.future_tick(self._step_handshake)

    def write(self, data: bytes) -> None:
        if self._state not in (_State.OPEN, _State.HANDSHAKING) or not data:
            return
        if self._state is _State.HANDSHAKING or self._plain_pending:
            self._plain_pending += data
            return
        self._encrypt(data)

    # -- handshake -----------------------------------------------------------------------------

    def _step_handshake(self) -> None:
        if self._state is not _State.HANDSHAKING:
            return
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush_tls()
            return
        except (ssl.SSLError, OSError) as exc:
            self._flush_tls()  # the alert tells the peer why
            self._handshake_failed(self._handshake_error(exc))
            return
        self._flush_tls()
        if self.is_closed:  # flushing failed (a write error closes)
            return
        self._state = _State.OPEN
        self._update_reading()  # stop reading until start()
        on_done = self._on_handshake
        self._on_handshake = self._on_handshake_error = None
        if self._plain_pending:
            pending = bytes(self._plain_pending)
            self._plain_pending.clear()
            self._encrypt(pending)
        if on_done is not None:
            on_done()

    def _handshake_error(self, exc: BaseException) -> TLSError:
        host, port = _peer_host_port(self._peer)
        where = _format_address(host, port) if host is not None and port is not None else "peer"
        if self._server_hostname:
            where = f"{self._server_hostname} ({where})"
        error = TLSError(
            f"TLS handshake with {where} failed: {_describe(exc)}", host=host, port=port
        )
        error.__cause__ = exc
        return error

    def _handshake_failed(self, error: TLSError) -> None:
        on_error = self._on_handshake_error
        self._on_handshake = self._on_handshake_error = None
        self._release()
        if on_error is not None:
            on_error(error)

    # -- data ----------------------------------------------------------------------------------

    def _received(self, data: memoryview) -> None:
        self._incoming.write(data)  # copied into the BIO: the read buffer is free again
        if self._state is _State.HANDSHAKING:
            self._step_handshake()
        else:
            self._deliver_plaintext()

    def _eof(self) -> None:
        if self._state is _State.HANDSHAKING:
            self._handshake_failed(
                self._handshake_error(ConnectionResetError("connection closed by the peer"))
            )
            return
        self._incoming.write_eof()
        self._deliver_plaintext()
        if self._state is not _State.CLOSED:
            self._finish(None)

    def _deliver_plaintext(self) -> None:
        """Drain ``SSLObject.read`` into a reused buffer and hand it all to one ``on_data`` call."""
        buffer = _take_buffer()
        view = buffer[1]
        filled = 0
        end = False
        error: OSError | None = None
        while True:
            if filled == READ_BUFFER_SIZE:
                # Cannot happen for one socket read (READ_BUFFER_SIZE has room for it); after a
                # pause the BIO may hold more: deliver this buffer and go on with the rest.
                self._deliver(buffer, filled)
                if self._state is _State.CLOSED:
                    return
                buffer = _take_buffer()
                view = buffer[1]
                filled = 0
            try:
                # With a buffer, SSLObject.read returns the count (typeshed knows only the
                # form that returns bytes).
                count: int = self._ssl.read(  # type: ignore[assignment]
                    READ_BUFFER_SIZE - filled, view[filled:]
                )
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                end = True  # close_notify, or a TCP EOF without it (ragged EOF: see class doc)
                break
            except ssl.SSLError as exc:
                error = exc
                break
            if not count:
                end = True
                break
            filled += count
        # Reading can produce records to send (TLS 1.3 KeyUpdate, a TLS 1.2 renegotiation).
        self._flush_tls()
        if filled:
            self._deliver(buffer, filled)
        else:
            _free_buffers.append(buffer)
        if self._state is _State.CLOSED:
            return
        if error is not None:
            self._fail(error)
        elif end:
            self._finish(None)
        elif self._plain_pending:
            pending = bytes(self._plain_pending)
            self._plain_pending.clear()
            self._encrypt(pending)

    def _deliver(self, buffer: tuple[bytearray, memoryview], filled: int) -> None:
        """Hand ``filled`` bytes of plaintext in ``buffer`` to ``on_data``; free the buffer."""
        data = buffer[1][:filled]
        try:
            if self._on_data is not None and self._state is not _State.CLOSED:
                self._on_data(data)
        finally:
            _give_back(buffer, data)

    def _encrypt(self, data: bytes) -> None:
        try:
            self._ssl.write(data)
        except ssl.SSLWantReadError:
            # Mid-renegotiation: keep the plaintext until a read completes it.
            self._plain_pending += data
            return
        except ssl.SSLError as exc:
            self._fail_later(exc)
            return
        self._flush_tls()

    def _flush_tls(self) -> None:
        if self._outgoing.pending:
            self._raw_write(self._outgoing.read())

    def _started_hook(self) -> None:
        # Application data may have arrived with the handshake's last flight.
        if self._incoming.pending or self._ssl.pending():
            self._loop.future_tick(self._deliver_if_reading)

    def _resumed_hook(self) -> None:
        if self._incoming.pending or self._ssl.pending():
            self._loop.future_tick(self._deliver_if_reading)

    def _deliver_if_reading(self) -> None:
        if self._state is _State.OPEN and self._started and not self._paused:
            self._deliver_plaintext()

    def _pending_output(self) -> bool:
        # Plaintext held back by a renegotiation is dropped by end(): completing it needs reads.
        return bool(self._write_buffer) or self._outgoing.pending > 0

    def _before_release(self, was: _State) -> None:
        # Best effort close_notify (RFC 8446 section 6.1) in one non-blocking send; never wait.
        if was in (_State.OPEN, _State.CLOSING) and not self._write_buffer:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._ssl.unwrap()  # raises SSLWantReadError: it would wait for the peer's
            if self._outgoing.pending:
                with contextlib.suppress(OSError):
                    self._sock.send(self._outgoing.read())

    def _translate(self, exc: OSError) -> TransportError:
        if self._state is _State.HANDSHAKING:
            return self._handshake_error(exc)
        return _translate_stream_error(exc, self._peer)

    def _fail(self, exc: OSError) -> None:
        if self._state is _State.HANDSHAKING:
            self._handshake_failed(self._handshake_error(exc))
            return
        super()._fail(exc)

    def _fail_later(self, exc: OSError) -> None:
        if self._state is _State.HANDSHAKING:
            error = self._handshake_error(exc)
            on_error = self._on_handshake_error
            self._on_handshake = self._on_handshake_error = None
            self._release()
            if on_error is not None:
                self._loop.future_tick(lambda: on_error(error))
            return
        super()._fail_later(exc)


# --------------------------------------------------------------------------------------------
# connect(): resolve (thread), TCP connect (non-blocking), TLS handshake, under one timeout
# --------------------------------------------------------------------------------------------

_Address = tuple[socket.AddressFamily, tuple[Any, ...]]
_ResolveResult = list[_Address] | OSError | UnicodeError


class _Resolution:
    """``getaddrinfo`` in a daemon thread, waking the loop through a socketpair.

    ``LoopInterface`` has no thread-safe call, so the thread writes one byte to a socketpair
    whose other end is a read stream of the loop; this works on any implementation.
    Lock discipline: the thread stores its result and sends its byte under ``_lock`` only while
    ``_finished`` is false; the loop sets ``_finished`` under ``_lock`` before it closes the
    pair, so the thread never touches a closed socket (nor a reused descriptor).
    """

    def __init__(
        self, loop: LoopInterface, host: str, port: int, on_done: Callable[[_ResolveResult], None]
    ) -> None:
        self._loop = loop
        self._on_done = on_done
        self._lock = threading.Lock()
        self._finished = False
        self._result: _ResolveResult | None = None
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        loop.add_read_stream(self._reader, self._on_wake)
        thread = threading.Thread(
            target=self._run, args=(host, port), name=f"reactsse-resolve-{host}", daemon=True
        )
        thread.start()

    def _run(self, host: str, port: int) -> None:
        result: _ResolveResult
        try:
            infos = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
            result = [(info[0], tuple(info[4])) for info in infos]
        except (OSError, UnicodeError) as exc:  # gaierror; an IDNA label that cannot be encoded
            result = exc
        with self._lock:
            if self._finished:
                return
            self._result = result
            # Cannot fail with an empty pair buffer; if it did, nothing else could be done here.
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")

    def _on_wake(self, _stream: Stream) -> None:
        with self._lock:
            result = self._result
            if result is None:
                return
            self._finished = True
        self._close()
        self._on_done(result)

    def cancel(self) -> None:
        with self._lock:
            self._finished = True
        self._close()

    def _close(self) -> None:
        self._loop.remove_read_stream(self._reader)
        self._reader.close()
        self._writer.close()


class _Phase(enum.Enum):
    """Life of a ``PendingConnect``: each phase ends in the next one or in DONE."""

    STARTING = "starting"  # connect() returned; the first step runs on the next tick
    RESOLVING = "resolving"  # getaddrinfo in a thread
    CONNECTING = "connecting"  # a non-blocking TCP connect, one address at a time
    HANDSHAKING = "handshaking"  # TLS handshake
    DONE = "done"  # connected, failed or cancelled: no callback any more


class PendingConnect:
    """A connection attempt made by ``connect``; ``cancel()`` aborts it."""

    def __init__(
        self,
        loop: LoopInterface,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
        timeout: float | None,
        on_connected: Callable[[Transport], object],
        on_error: Callable[[Exception], object],
    ) -> None:
        self._loop = loop
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._timeout = timeout
        self._on_connected: Callable[[Transport], object] | None = on_connected
        self._on_error: Callable[[Exception], object] | None = on_error
        self._phase = _Phase.STARTING
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._timer: TimerInterface | None = None
        self._timer_ends_attempt = False  # the timer ends one address, not the whole connect
        self._resolution: _Resolution | None = None
        self._sock: socket.socket | None = None
        self._sockaddr: tuple[Any, ...] = ()
        self._tls: TLSTransport | None = None
        self._addresses: list[_Address] = []
        self._failures: list[tuple[tuple[Any, ...], OSError]] = []

    @property
    def phase(self) -> str:
        """``"starting"``, ``"resolving"``, ``"connecting"``, ``"handshaking"`` or ``"done"``."""
        return self._phase.value

    def cancel(self) -> None:
        """Abort now: close the socket, stop the resolver wake-up, cancel the timer.

        Idempotent. After it returns neither ``on_connected`` nor ``on_error`` is called. The
        resolver thread, if any, cannot be interrupted; it ends when ``getaddrinfo`` returns
        and then touches nothing.
        """
        self._done()

    # -- steps ---------------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._phase is not _Phase.STARTING:
            return
        self._arm_timer(self._deadline, ends_attempt=False)
        literal = _ip_literal(self._host)
        if literal is not None:
            # AI_NUMERICHOST: no lookup, so no thread, and the right sockaddr (IPv6 scope ids).
            try:
                infos = socket.getaddrinfo(
                    literal,
                    self._port,
                    type=socket.SOCK_STREAM,
                    proto=socket.IPPROTO_TCP,
                    flags=socket.AI_NUMERICHOST,
                )
            except OSError as exc:
                self._resolved(exc)
                return
            self._resolved([(info[0], tuple(info[4])) for info in infos])
            return
        self._phase = _Phase.RESOLVING
        self._resolution = _Resolution(self._loop, self._host, self._port, self._resolved)

    def _resolved(self, result: _ResolveResult) -> None:
        self._resolution = None
        if isinstance(result, (OSError, UnicodeError)):
            reason = result.strerror if isinstance(result, OSError) and result.strerror else result
            error = ConnectError(
                f"cannot connect to {self._where()}: cannot resolve {self._host!r}: {reason}",
                host=self._host,
                port=self._port,
            )
            error.__cause__ = result
            self._fail(error)
            return
        if not result:
            self._fail(
                ConnectError(
                    f"cannot connect to {self._where()}: no address for {self._host!r}",
                    host=self._host,
                    port=self._port,
                )
            )
            return
        self._addresses = result
        self._phase = _Phase.CONNECTING
        self._next_address()

    def _next_address(self) -> None:
        while self._addresses:
            family, sockaddr = self._addresses.pop(0)
            try:
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            except OSError as exc:
                self._failures.append((sockaddr, exc))
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                code = sock.connect_ex(sockaddr)
            except OSError as exc:
                sock.close()
                self._failures.append((sockaddr, exc))
                continue
            self._sock = sock
            self._sockaddr = sockaddr
            if code == 0:
                self._tcp_connected()
                return
            if code not in _CONNECT_PENDING:
                self._attempt_failed(OSError(code, os.strerror(code)))
                return
            # Wait for writability, then read SO_ERROR (connect(2), "EINPROGRESS").
            self._loop.add_write_stream(sock, self._on_connect_writable)
            self._arm_attempt_timer()
            return
        self._all_failed()

    def _arm_attempt_timer(self) -> None:
        """Share the remaining time: each of the n addresses left gets 1/n of it, the last all."""
        if self._deadline is None:
            return
        if not self._addresses:
            self._arm_timer(self._deadline, ends_attempt=False)
            return
        now = time.monotonic()
        share = max(0.0, self._deadline - now) / (len(self._addresses) + 1)
        self._arm_timer(now + share, ends_attempt=True)

    def _on_connect_writable(self, _stream: Stream) -> None:
        sock = self._sock
        if sock is None:
            return
        self._loop.remove_write_stream(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            self._attempt_failed(OSError(code, os.strerror(code)))
            return
        self._tcp_connected()

    def _attempt_failed(self, exc: OSError) -> None:
        sock = self._sock
        self._sock = None
        if sock is not None:
            self._loop.remove_write_stream(sock)
            sock.close()
        self._failures.append((self._sockaddr, exc))
        self._arm_timer(self._deadline, ends_attempt=False)
        self._next_address()

    def _all_failed(self) -> None:
        if len(self._failures) == 1:  # one address: its reason says it all
            causes = _describe(self._failures[0][1])
        else:
            causes = self._failures_text()
        error = ConnectError(
            f"cannot connect to {self._where()}: {causes}", host=self._host, port=self._port
        )
        if self._failures:
            error.__cause__ = self._failures[-1][1]
        self._fail(error)

    def _failures_text(self) -> str:
        return "; ".join(
            f"{_format_address(str(addr[0]), int(addr[1]))}: {_describe(exc)}"
            if len(addr) >= 2
            else _describe(exc)
            for addr, exc in self._failures
        )

    def _tcp_connected(self) -> None:
        sock = self._sock
        assert sock is not None
        self._sock = None
        if self._ssl_context is None:
            self._succeed(SocketTransport(self._loop, sock))
            return
        self._phase = _Phase.HANDSHAKING
        self._arm_timer(self._deadline, ends_attempt=False)
        hostname = self._server_hostname or _ip_literal(self._host) or self._host
        try:
            self._tls = TLSTransport(self._loop, sock, self._ssl_context, server_hostname=hostname)
        except TLSError as exc:
            exc.host, exc.port = self._host, self._port
            self._fail(exc)
            return
        self._tls.handshake(self._handshake_done, self._handshake_failed)

    def _handshake_done(self) -> None:
        tls = self._tls
        assert tls is not None
        self._tls = None
        self._succeed(tls)

    def _handshake_failed(self, error: Exception) -> None:
        self._tls = None
        if isinstance(error, TransportError):
            error.host, error.port = self._host, self._port
        self._fail(error)

    # -- timer ---------------------------------------------------------------------------------

    def _arm_timer(self, when: float | None, *, ends_attempt: bool) -> None:
        if self._timer is not None:
            self._loop.cancel_timer(self._timer)
            self._timer = None
        if when is None:
            return
        self._timer_ends_attempt = ends_attempt
        self._timer = self._loop.add_timer(max(0.0, when - time.monotonic()), self._on_timer)

    def _on_timer(self, _timer: TimerInterface) -> None:
        self._timer = None
        if self._timer_ends_attempt and self._phase is _Phase.CONNECTING:
            self._attempt_failed(TimeoutError(errno.ETIMEDOUT, "connect timed out"))
            return
        timeout = self._timeout if self._timeout is not None else 0.0
        self._fail(
            ConnectTimeout(
                f"connecting to {self._where()} timed out after {timeout:g} s "
                f"(while {self._phase.value})",
                timeout=timeout,
            )
        )

    # -- endings -------------------------------------------------------------------------------

    def _where(self) -> str:
        return _format_address(self._host, self._port)

    def _done(self) -> None:
        """Release everything; no callback afterwards."""
        self._phase = _Phase.DONE
        self._on_connected = None
        self._on_error = None
        if self._timer is not None:
            self._loop.cancel_timer(self._timer)
            self._timer = None
        if self._resolution is not None:
            self._resolution.cancel()
            self._resolution = None
        if self._sock is not None:
            self._loop.remove_write_stream(self._sock)
            self._sock.close()
            self._sock = None
        if self._tls is not None:
            self._tls.close()
            self._tls = None
        self._addresses = []

    def _fail(self, error: Exception) -> None:
        on_error = self._on_error
        self._done()
        if on_error is not None:
            on_error(error)

    def _succeed(self, transport: Transport) -> None:
        on_connected = self._on_connected
        self._done()
        if on_connected is not None:
            on_connected(transport)
        else:  # pragma: no cover - cancel() empties the callbacks and closes what it owns
            transport.close()


def _ip_literal(host: str) -> str | None:
    """``host`` without brackets if it is an IPv4/IPv6 literal (scope ids allowed), else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return None
    return bare


def connect(
    loop: LoopInterface,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float | None = 30.0,
    on_connected: Callable[[Transport], object],
    on_error: Callable[[Exception], object],
) -> PendingConnect:
    """Open a TCP (``ssl_context=None``) or TLS connection to ``host:port`` without blocking.

    ``host`` is a name (resolved by ``getaddrinfo`` in a thread that wakes the loop) or an
    IPv4/IPv6 literal (``"127.0.0.1"``, ``"::1"``, ``"[::1]"``: no thread). The addresses are
    tried in order; each gets an equal share of the time left, the last one all of it.
    For TLS, the certificate is checked against ``server_hostname`` or else ``host`` (SNI is
    sent for names only, not IP literals).

    ``timeout`` (seconds, ``None`` for none) covers resolution, TCP connect and TLS handshake.
    Later, from the loop, exactly one of: ``on_connected(transport)`` (a ``SocketTransport`` or
    ``TLSTransport``, not started: call its ``start``), or ``on_error(exc)`` with a
    ``ConnectError`` (resolution failed, refused, unreachable), a ``TLSError`` (handshake or
    certificate) or a ``ConnectTimeout``. Returns a ``PendingConnect``; its ``cancel()``
    aborts at any moment. Raises ``ValueError`` for a port outside 0-65535 or a negative
    timeout.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port!r}")
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    bare_host = _ip_literal(host) or host
    pending = PendingConnect(
        loop,
        bare_host,
        port,
        ssl_context=ssl_context,
        server_hostname=server_hostname,
        timeout=timeout,
        on_connected=on_connected,
        on_error=on_error,
    )
    # Never call back from inside connect() (ReactPHP's promises settle asynchronously too).
    loop.future_tick(pending._begin)
    return pending
