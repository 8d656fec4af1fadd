"""The ``Transport`` contract and ``SocketTransport``, plain TCP on any ``LoopInterface``.

The I/O layer under the HTTP client and the SSE server: it knows sockets and the loop, nothing
of HTTP or SSE. It plays the part of reactphp/socket's ``Connection`` and reactphp/stream's
``DuplexResourceStream``.

Invariants (the states are ``State`` below):

* A transport calls its callbacks (``on_data``, ``on_close``, ``on_drain``) only from loop
  callbacks, never from inside a method the user called, and never after ``close()``.
* ``on_close`` is called at most once: ``None`` at a clean end, else a ``TransportError``
  subclass translated from ``OSError``/``ssl.SSLError`` once (``oserrors``), with
  ``__cause__`` set.
* Releasing is immediate: ``close()`` removes every loop registration and closes the socket
  before it returns.

Reading is one ``recv_into`` per readiness, as reactphp/stream's
``ReadableResourceStream::handleData`` does one ``stream_get_contents($stream, 65536)``: a busy
connection cannot starve the others. The bytes land in a reused buffer of the free list
(``buffers``), and every read is one ``on_data`` call with a view of them.

The size asked adapts, after Netty's ``AdaptiveRecvByteBufAllocator``: a connection's first
read asks ``FIRST_READ_SIZE`` (2 KiB, Netty's initial size); a read that comes back full sets it
to ``READ_SIZE`` (64 KiB, ReactPHP's) at once, and two reads in a row that fill at most a quarter
of it halve it again (never below ``FIRST_READ_SIZE``). A fast stream's first events are then
decoded and delivered after 2 KiB instead of after the whole first 64 KiB. Netty grows step by
step because each size is an allocation; here the buffer is reused, so asking 64 KiB costs no
more than asking 2 KiB, and a 64 KiB event arrives in two reads, not six.

The choices against plain ``recv``, against reading until ``EAGAIN`` and against a larger
maximum were measured: ``bench/connector.py`` and ``bench/client.py``, figures in
``docs/connector.md``.
"""

from __future__ import annotations

import abc
import enum
import socket
from collections.abc import Callable
from typing import Any

from reactsse.connector.buffers import (
    FIRST_READ_SIZE,
    READ_SIZE,
    free_buffers,
    give_back,
    take_buffer,
)
from reactsse.connector.oserrors import address_tuple, stream_error
from reactsse.connector.writer import SocketWriter
from reactsse.errors import TransportError
from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["SocketBase", "SocketTransport", "State", "Transport", "TransportBase"]


class State(enum.Enum):
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


class TransportBase(Transport):
    """The user's side that every transport here shares: ``start()``'s callbacks and the end.

    Keeps ``on_data``/``on_close``, refuses a second ``start()``, holds an end that came before
    ``start()`` (a failed write, the lower transport's end) until ``start()`` reports it, and
    reports the end at most once: the callbacks are forgotten first, so none is called after it.
    A subclass says what ``start()`` begins (``_start_reading``) and reads ``_on_data`` itself,
    straight from its read path.
    """

    def __init__(self, loop: LoopInterface) -> None:
        self._loop = loop
        self._on_data: Callable[[memoryview], object] | None = None
        self._on_close: Callable[[Exception | None], object] | None = None
        self._started = False
        # An end met before start(), as a 1-tuple (its error, or None for a clean end).
        self._early_end: tuple[Exception | None] | None = None

    @property
    def loop(self) -> LoopInterface:
        """The loop this transport reads and writes on."""
        return self._loop

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
        early, self._early_end = self._early_end, None
        if early is not None:
            self._loop.future_tick(lambda: self._report(early[0]))
            return
        self._start_reading()

    @abc.abstractmethod
    def _start_reading(self) -> None:
        """What ``start()`` begins on a transport that has not ended yet."""

    def _end_later(self, error: Exception | None) -> None:
        """Report an end met inside a user's call: on the next tick, or from ``start()``."""
        if not self._started:
            self._early_end = (error,)
            return
        self._loop.future_tick(lambda: self._report(error))

    def _report(self, error: Exception | None) -> None:
        """Deliver the end (from the loop) unless ``close()`` came first."""
        on_close = self._forget_callbacks()
        if on_close is not None:
            on_close(error)

    def _forget_callbacks(self) -> Callable[[Exception | None], object] | None:
        """Drop the user's callbacks, so that none is called after the end; returns the
        ``on_close`` that was set, for the one report of the end."""
        on_close = self._on_close
        self._on_data = None
        self._on_close = None
        self.on_drain = None
        return on_close


class SocketBase(TransportBase):
    """The socket half shared by both transports: reading, the life cycle and closing.

    Writing goes through a ``SocketWriter``; the subclasses say what the bytes read mean
    (``_received``, ``_eof``) and what a write does.
    """

    def __init__(self, loop: LoopInterface, sock: socket.socket) -> None:
        super().__init__(loop)
        self._sock = sock
        if sock.getblocking():  # a connect() socket is non-blocking already: no second ioctl
            sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Event streams are many small writes; Nagle would hold each one for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._peer = address_tuple(sock.getpeername())
        except OSError:
            self._peer = ()
        self._local = address_tuple(sock.getsockname())
        self._state = State.OPEN
        self._paused = False
        self._reading = False  # read listener registered
        # The adaptive read size (see the module docstring): FIRST_READ_SIZE..READ_SIZE, a
        # power of two; _short_reads counts the reads in a row that filled at most a quarter.
        self._read_size = FIRST_READ_SIZE
        self._short_reads = 0
        self._writer = SocketWriter(loop, sock, self._fail, self._drained)

    # -- public ------------------------------------------------------------------------------

    def end(self) -> None:
        if self._state in (State.CLOSED, State.CLOSING):
            return
        self._state = State.CLOSING
        self._update_reading()
        if not self._pending_output():
            self._discard_unread()
            self._release()
            self._loop.future_tick(lambda: self._report(None))

    def close(self) -> None:
        self._forget_callbacks()
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
        return len(self._writer.buffer)

    @property
    def peer(self) -> tuple[Any, ...]:
        return self._peer

    @property
    def local(self) -> tuple[Any, ...]:
        return self._local

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state.value} peer={self._peer!r}>"

    # -- hooks for the subclasses --------------------------------------------------------------

    @abc.abstractmethod
    def _received(self, data: memoryview) -> None:
        """Bytes from the socket (never empty; a view of a reused buffer, valid during the call)."""

    @abc.abstractmethod
    def _eof(self) -> None:
        """The peer closed its side (recv returned b"")."""

    def _start_reading(self) -> None:
        if self._state is not State.CLOSED:
            self._update_reading()

    def _resumed_hook(self) -> None:
        """Called at the end of ``resume_reading()``."""

    def _pending_output(self) -> bool:
        return bool(self._writer.buffer)

    def _drained(self) -> None:
        """The raw write buffer became empty (after having been non-empty)."""
        if self._state is State.CLOSING:
            self._discard_unread()
            self._finish(None)
        elif self.on_drain is not None:
            self.on_drain()

    # -- reading -------------------------------------------------------------------------------

    def _wants_reading(self) -> bool:
        if self._state is State.HANDSHAKING:
            return True
        return self._state is State.OPEN and self._started and not self._paused

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
        buffer = take_buffer()
        try:
            received = self._sock.recv_into(buffer[0], size)
        except (BlockingIOError, InterruptedError):
            free_buffers.append(buffer)
            return  # spurious readiness
        except OSError as exc:
            free_buffers.append(buffer)
            self._fail(exc)
            return
        if received == size:  # full: more is waiting; ask the most (see the module docstring)
            self._read_size = READ_SIZE
            self._short_reads = 0
        elif received <= size >> 2 and size > FIRST_READ_SIZE:  # Netty's hysteresis
            self._short_reads += 1
            if self._short_reads == 2:
                self._read_size = size >> 1
                self._short_reads = 0
        else:
            self._short_reads = 0
        if not received:
            free_buffers.append(buffer)
            self._eof()
            return
        data = buffer[1][:received]
        try:
            self._received(data)
        finally:
            give_back(buffer, data)

    # -- writing -------------------------------------------------------------------------------

    def _raw_write(self, data: bytes | bytearray | memoryview) -> None:
        """Send now as far as the kernel takes it; the writer buffers the rest."""
        if not data or self._state is State.CLOSED:
            return
        error = self._writer.send(data)
        if error is not None:
            # Not from a loop callback: report on the next tick (no callback inside write()).
            self._fail_later(error)

    # -- ending --------------------------------------------------------------------------------

    def _discard_unread(self) -> None:
        """Read and drop what the peer sent and nobody read, before an ``end()`` closes.

        close(2) with unread bytes in the receive queue sends RST instead of FIN, and an RST
        can make the peer drop our last bytes unread (RFC 9112 section 9.6, "tear-down";
        RFC 1122 4.2.2.13). Bounded: at most 16 reads, never waits.
        """
        buffer = take_buffer()
        try:
            for _ in range(16):
                if not self._sock.recv_into(buffer[0], READ_SIZE):
                    return
        except OSError:  # EAGAIN (queue empty) or an error: nothing more to drop
            return
        finally:
            free_buffers.append(buffer)

    def _release(self) -> None:
        """Remove every loop registration and close the socket; idempotent, no callback."""
        if self._state is State.CLOSED:
            return
        was = self._state
        self._state = State.CLOSED
        self._before_release(was)
        if self._reading:
            self._loop.remove_read_stream(self._sock)
            self._reading = False
        self._writer.close()
        self._sock.close()

    def _before_release(self, was: State) -> None:
        """Last words before the socket closes (TLS: close_notify); ``was`` is the old state."""

    def _finish(self, error: TransportError | None) -> None:
        """Release and report the end (called from loop callbacks only)."""
        self._release()
        self._report(error)

    def _translate(self, exc: OSError) -> TransportError:
        return stream_error(exc, self._peer)

    def _fail(self, exc: OSError) -> None:
        error = self._translate(exc)
        if not self._started:
            self._release()
            self._early_end = (error,)
            return
        self._finish(error)

    def _fail_later(self, exc: OSError) -> None:
        error = self._translate(exc)
        self._release()
        self._end_later(error)


class SocketTransport(SocketBase):
    """Plain TCP (or any stream socket) on a ``LoopInterface``.

    ``SocketTransport(loop, sock)`` takes a *connected* socket (``connect`` makes one; a server
    passes what ``accept()`` returned), makes it non-blocking, sets ``TCP_NODELAY`` on TCP, and
    owns it from then on: ``close()`` closes it. Nothing is read before ``start()``.
    """

    @property
    def is_tls(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        if self._state is not State.OPEN:
            return
        self._raw_write(data)

    def _received(self, data: memoryview) -> None:
        on_data = self._on_data
        if on_data is not None:
            on_data(data)

    def _eof(self) -> None:
        self._finish(None)
