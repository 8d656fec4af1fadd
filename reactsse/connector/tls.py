"""TLS on any ``LoopInterface``: ``TLSTransport`` over ``ssl.MemoryBIO``, ``default_ssl_context``.

The socket half (reading, writing, closing) is ``SocketBase``'s; this module adds the
``SSLObject`` between the socket's bytes and the user's: the handshake, decrypting each socket
read into one ``on_data`` call, encrypting writes, and ``close_notify``. ``TLSSession`` is the
part that does not depend on what carries the records, shared with ``TLSLayer`` (TLS over
another transport, ``tlslayer``).
"""

from __future__ import annotations

import abc
import contextlib
import socket
import ssl
from collections.abc import Callable

from reactsse.connector.buffers import READ_BUFFER_SIZE, free_buffers, give_back, take_buffer
from reactsse.connector.oserrors import handshake_error, stream_error
from reactsse.connector.transport import SocketBase, State, TransportBase
from reactsse.errors import TLSError, TransportError
from reactsse.loop.deferred import Deferred
from reactsse.loop.interface import LoopInterface

__all__ = [
    "TLSSession",
    "TLSTransport",
    "default_ssl_context",
    "system_trust_context",
    "wrap_bio",
]


def default_ssl_context() -> ssl.SSLContext:
    """Return ``ssl.create_default_context()``: certificate and host-name checks on, system roots.

    Pass it (or your own context) as ``connect(..., ssl_context=...)`` for ``https`` URLs.
    """
    return ssl.create_default_context()


def system_trust_context() -> ssl.SSLContext:
    """An ``SSLContext`` that verifies against the operating system's own trust store.

    Through ``truststore`` (the ``truststore`` extra): Keychain on macOS, CryptoAPI on Windows,
    the system's CA bundle on Linux. For networks whose TLS-inspecting proxy has its CA in the
    system's store but not in Python's (``certifi``-style) bundle. Certificate and host-name
    checks stay on. Raises ``ImportError`` without the extra.
    """
    try:
        import truststore
    except ImportError:
        raise ImportError(
            "the system trust store needs the truststore package: "
            "pip install 'reactsse[truststore]'"
        ) from None
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def wrap_bio(
    context: ssl.SSLContext,
    incoming: ssl.MemoryBIO,
    outgoing: ssl.MemoryBIO,
    *,
    server_side: bool = False,
    server_hostname: str | None = None,
) -> ssl.SSLObject:
    """``context.wrap_bio``, refusing a client with ``check_hostname`` and no host name.

    ``SSLSocket`` refuses that; ``SSLObject`` does not, and would then check the chain but not
    the name (CPython ssl.py ``SSLSocket._create``). Raises ``TLSError`` for any refusal.
    """
    try:
        if not server_side and context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        return context.wrap_bio(
            incoming, outgoing, server_side=server_side, server_hostname=server_hostname
        )
    except (ValueError, ssl.SSLError) as exc:
        raise TLSError(f"cannot start TLS: {exc}") from exc


class TLSSession(TransportBase):
    """The TLS session of a transport, whatever carries its records: ``SSLObject``, two BIOs.

    Shared by ``TLSTransport`` (records on its own socket) and ``TLSLayer`` (records on another
    ``Transport``): the handshake's steps and its one-shot result, plaintext held until the
    handshake (or a renegotiation) lets it through, decrypting into the reused read buffers and
    encrypting writes. A subclass brings the records in (its own read path: a direct
    connection's reads go through no extra call), says how they leave (``_flush_tls``) and how
    it ends (``_release``, ``_finish``, ``_fail``, ``_fail_later``).
    """

    _state: State
    _paused: bool

    def _init_session(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None,
    ) -> None:
        """Set up the session (``TLSError`` if the context refuses the settings)."""
        self._server_hostname = server_hostname
        # The handshake's one-shot result (settles once; cancelled by close()).
        self._handshake: Deferred[None] | None = None
        self._plain_pending = bytearray()  # plaintext SSLObject.write could not take yet
        self._state = State.HANDSHAKING
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = wrap_bio(
            context,
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )

    @property
    def is_tls(self) -> bool:
        return True

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The ``SSLObject``: ``version()``, ``cipher()``, ``getpeercert()``, ALPN."""
        return self._ssl

    def write(self, data: bytes) -> None:
        if self._state not in (State.OPEN, State.HANDSHAKING) or not data:
            return
        if self._state is State.HANDSHAKING or self._plain_pending:
            self._plain_pending += data
            return
        self._encrypt(data)

    # -- for the subclasses ----------------------------------------------------------------------

    @abc.abstractmethod
    def _flush_tls(self) -> None:
        """Send the records the ``SSLObject`` wrote to the outgoing BIO, if any."""

    @abc.abstractmethod
    def _finish(self, error: TransportError | None) -> None:
        """Close and report the end (from a loop callback)."""

    @abc.abstractmethod
    def _fail(self, exc: OSError) -> None:
        """Close for ``exc``, met in a loop callback, and report it."""

    @abc.abstractmethod
    def _opened(self) -> None:
        """The handshake is done (the state is ``OPEN``): stop reading until ``start()``."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Close at once, with no callback."""

    @abc.abstractmethod
    def _fail_later(self, exc: OSError) -> None:
        """Close for ``exc``, met inside a user's call: the end is reported later."""

    # -- handshake -----------------------------------------------------------------------------

    def _await_handshake(
        self, on_done: Callable[[], object], on_error: Callable[[Exception], object]
    ) -> None:
        """Arm the handshake's result, then run its first step from the loop."""
        self._handshake = Deferred()
        self._handshake.then(lambda _none: on_done(), on_error)
        # The first step only writes the ClientHello (or waits for one); run it from the loop
        # so that even a configuration error reaches on_error later, never synchronously.
        self._loop.future_tick(self._step_handshake)

    def _step_handshake(self) -> None:
        if self._state is not State.HANDSHAKING:
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
        self._state = State.OPEN
        self._opened()
        handshake, self._handshake = self._handshake, None
        self._send_held()
        if handshake is not None:  # a write that failed just now is reported by start()
            handshake.resolve(None)

    def _handshake_error(self, exc: BaseException) -> TLSError:
        return handshake_error(exc, self.peer, self._server_hostname)

    def _handshake_failed(self, error: TLSError) -> None:
        handshake, self._handshake = self._handshake, None
        self._release()
        if handshake is not None:
            handshake.reject(error)

    def _cancel_handshake(self) -> None:
        """No handshake callback after ``close()``."""
        handshake, self._handshake = self._handshake, None
        if handshake is not None:
            handshake.cancel()

    # -- data ----------------------------------------------------------------------------------

    def _holds_plaintext(self) -> bool:
        """Records the BIO holds, or plaintext the ``SSLObject`` decrypted and did not give."""
        return bool(self._incoming.pending or self._ssl.pending())

    def _deliver_if_reading(self) -> None:
        if self._state is State.OPEN and self._started and not self._paused:
            self._deliver_plaintext()

    def _deliver_plaintext(self) -> None:
        """Drain ``SSLObject.read`` into a reused buffer and hand it all to one ``on_data`` call."""
        buffer = take_buffer()
        view = buffer[1]
        filled = 0
        end = False
        error: OSError | None = None
        while True:
            if filled == READ_BUFFER_SIZE:
                # Cannot happen for one read of the records (READ_BUFFER_SIZE has room for it);
                # after a pause the BIO may hold more: deliver this buffer and go on with the rest.
                self._deliver(buffer, filled)
                if self._state is State.CLOSED:
                    return
                buffer = take_buffer()
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
                end = True  # close_notify, or an EOF without it (ragged: see TLSTransport)
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
            free_buffers.append(buffer)
        if self._state is State.CLOSED:
            return
        if error is not None:
            self._fail(error)
        elif end:
            self._finish(None)
        elif self._plain_pending:
            self._send_held()

    def _deliver(self, buffer: tuple[bytearray, memoryview], filled: int) -> None:
        """Hand ``filled`` bytes of plaintext in ``buffer`` to ``on_data``; free the buffer."""
        data = buffer[1][:filled]
        try:
            if self._on_data is not None and self._state is not State.CLOSED:
                self._on_data(data)
        finally:
            give_back(buffer, data)

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

    def _send_held(self) -> None:
        """Encrypt the plaintext held during the handshake or a renegotiation."""
        if self._plain_pending:
            pending = bytes(self._plain_pending)
            self._plain_pending.clear()
            self._encrypt(pending)


class TLSTransport(SocketBase, TLSSession):
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
        self._handshake_started = False
        try:
            self._init_session(context, server_side=server_side, server_hostname=server_hostname)
        except TLSError:
            self._release()
            raise

    @property
    def buffered_size(self) -> int:
        return len(self._writer.buffer) + self._outgoing.pending + len(self._plain_pending)

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
        if self._state is not State.HANDSHAKING:
            return
        self._update_reading()
        self._await_handshake(on_done, on_error)

    def close(self) -> None:
        self._cancel_handshake()
        super().close()

    def _opened(self) -> None:
        self._update_reading()  # stop reading until start()

    # -- data ----------------------------------------------------------------------------------

    def _received(self, data: memoryview) -> None:
        self._incoming.write(data)  # copied into the BIO: the read buffer is free again
        if self._state is State.HANDSHAKING:
            self._step_handshake()
        else:
            self._deliver_plaintext()

    def _eof(self) -> None:
        if self._state is State.HANDSHAKING:
            self._handshake_failed(
                self._handshake_error(ConnectionResetError("connection closed by the peer"))
            )
            return
        self._incoming.write_eof()
        self._deliver_plaintext()
        if self._state is not State.CLOSED:
            self._finish(None)

    def _flush_tls(self) -> None:
        if self._outgoing.pending:
            self._raw_write(self._outgoing.read())

    def _start_reading(self) -> None:
        super()._start_reading()
        # Application data may have arrived with the handshake's last flight.
        self._resumed_hook()

    def _resumed_hook(self) -> None:
        if self._holds_plaintext():
            self._loop.future_tick(self._deliver_if_reading)

    def _pending_output(self) -> bool:
        # Plaintext held back by a renegotiation is dropped by end(): completing it needs reads.
        return bool(self._writer.buffer) or self._outgoing.pending > 0

    def _before_release(self, was: State) -> None:
        # Best effort close_notify (RFC 8446 section 6.1) in one non-blocking send; never wait.
        if was in (State.OPEN, State.CLOSING) and not self._writer.buffer:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._ssl.unwrap()  # raises SSLWantReadError: it would wait for the peer's
            if self._outgoing.pending:
                with contextlib.suppress(OSError):
                    self._sock.send(self._outgoing.read())

    def _translate(self, exc: OSError) -> TransportError:
        if self._state is State.HANDSHAKING:
            return self._handshake_error(exc)
        return stream_error(exc, self._peer)

    def _fail(self, exc: OSError) -> None:
        if self._state is State.HANDSHAKING:
            self._handshake_failed(self._handshake_error(exc))
            return
        super()._fail(exc)

    def _fail_later(self, exc: OSError) -> None:
        if self._state is State.HANDSHAKING:
            error = self._handshake_error(exc)
            self._release()
            # Not from a loop callback: report on the next tick, unless close() comes first.
            self._loop.future_tick(lambda: self._handshake_failed(error))
            return
        super()._fail_later(exc)
