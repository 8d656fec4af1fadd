"""``TLSLayer``: TLS over another ``Transport`` (TLS in TLS, through an ``https://`` proxy).

``TLSTransport`` reads a socket; this class reads a ``Transport``: its ciphertext comes from the
lower transport's ``on_data`` and goes out through the lower transport's ``write``, through the
same ``ssl.MemoryBIO`` pair and ``SSLObject`` (``tls.wrap_bio``). Stacked on the tunnel through
an ``https://`` proxy (a ``TLSTransport`` to the proxy), it is the TLS session with the target
inside the TLS session with the proxy, as curl's and httpcore's https proxies do it.

Two classes rather than one with a pluggable lower end: ``TLSTransport`` sits on the read path
every direct TLS stream takes (one ``recv_into`` into the shared buffers, then the BIO), and the
stacked case must not cost it an indirection. Flow control passes straight through:
``pause_reading`` pauses the lower transport (and so, at the bottom, the socket), ``on_drain``
and ``buffered_size`` count the lower transport's buffer too.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from typing import Any

from reactsse.connector.buffers import READ_BUFFER_SIZE, free_buffers, give_back, take_buffer
from reactsse.connector.oserrors import as_transport_error, handshake_error, stream_error
from reactsse.connector.tls import wrap_bio
from reactsse.connector.transport import State, Transport, TransportBase
from reactsse.errors import TransportError
from reactsse.loop.deferred import Deferred
from reactsse.loop.interface import LoopInterface

__all__ = ["TLSLayer"]


class TLSLayer(TransportBase):
    """A TLS client session whose records travel over ``lower`` (an open, not started transport).

    ``TLSLayer(loop, lower, context, server_hostname=...)``, then ``handshake(on_done,
    on_error)`` (which starts ``lower``); after ``on_done()`` it is used like any ``Transport``.
    ``close()`` closes ``lower`` too. Raises ``TLSError`` if the context refuses the settings;
    ``lower`` is not closed then (the caller owns it until ``handshake``).
    """

    def __init__(
        self,
        loop: LoopInterface,
        lower: Transport,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None,
    ) -> None:
        super().__init__(loop)
        self._lower = lower
        self._server_hostname = server_hostname
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = wrap_bio(
            context, self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self._state = State.HANDSHAKING
        self._handshake: Deferred[None] | None = None
        self._plain_pending = bytearray()  # plaintext held during the handshake
        self._paused = False
        self._lower_ended = False  # the lower transport ended cleanly: EOF written to the BIO

    # -- Transport ------------------------------------------------------------------------------

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The inner ``SSLObject`` (the target's session): ``version()``, ``getpeercert()``."""
        return self._ssl

    @property
    def is_tls(self) -> bool:
        return True

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def peer(self) -> tuple[Any, ...]:
        return self._lower.peer  # the socket's peer: the proxy

    @property
    def local(self) -> tuple[Any, ...]:
        return self._lower.local

    @property
    def buffered_size(self) -> int:
        return self._lower.buffered_size + self._outgoing.pending + len(self._plain_pending)

    def handshake(
        self, on_done: Callable[[], object], on_error: Callable[[Exception], object]
    ) -> None:
        """Run the handshake over ``lower``; then ``on_done()`` or ``on_error(TLSError)``.

        From the loop only, and neither after ``close()``; no timeout here (the caller's).
        """
        if self._handshake is not None or self._state is not State.HANDSHAKING:
            raise RuntimeError("TLSLayer.handshake() called twice")
        self._handshake = Deferred()
        self._handshake.then(lambda _none: on_done(), on_error)
        self._lower.on_drain = self._lower_drained
        self._lower.start(self._lower_data, self._lower_closed)
        self._loop.future_tick(self._step_handshake)

    def write(self, data: bytes) -> None:
        if self._state not in (State.OPEN, State.HANDSHAKING) or not data:
            return
        if self._state is State.HANDSHAKING:
            self._plain_pending += data
            return
        self._encrypt(data)

    def end(self) -> None:
        if self._state is State.HANDSHAKING:
            self.close()  # nothing to flush yet; the handshake's owner is told by close()
            return
        if self._state in (State.CLOSED, State.CLOSING):
            return
        was, self._state = self._state, State.CLOSING
        self._close_notify(was)
        self._lower.end()  # flushes, then its on_close(None) ends this layer

    def close(self) -> None:
        handshake, self._handshake = self._handshake, None
        if handshake is not None:
            handshake.cancel()
        self._forget_callbacks()
        self._release()

    def pause_reading(self) -> None:
        self._paused = True
        self._lower.pause_reading()

    def _start_reading(self) -> None:
        self.resume_reading()

    def resume_reading(self) -> None:
        self._paused = False
        if self._state is not State.OPEN or not self._started:
            return
        self._lower.resume_reading()
        if self._incoming.pending or self._ssl.pending() or self._lower_ended:
            # Records that came with the handshake's last flight or during a pause, and the
            # end that came after them: delivered in order.
            self._loop.future_tick(self._deliver_if_reading)

    def __repr__(self) -> str:
        return f"<TLSLayer {self._state.value} over {self._lower!r}>"

    # -- handshake -------------------------------------------------------------------------------

    def _step_handshake(self) -> None:
        if self._state is not State.HANDSHAKING:
            return
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, OSError) as exc:
            self._flush()  # the alert tells the peer why
            self._handshake_failed(exc)
            return
        self._flush()
        self._state = State.OPEN
        self._lower.pause_reading()  # until start()
        if self._plain_pending:
            pending = bytes(self._plain_pending)
            self._plain_pending.clear()
            self._encrypt(pending)
        handshake, self._handshake = self._handshake, None
        if handshake is not None:  # a write that failed above is reported by start()
            handshake.resolve(None)

    def _handshake_failed(self, exc: BaseException) -> None:
        handshake, self._handshake = self._handshake, None
        self._release()
        if handshake is not None:
            handshake.reject(handshake_error(exc, self.peer, self._server_hostname))

    # -- the lower transport's callbacks ----------------------------------------------------------

    def _lower_data(self, data: memoryview) -> None:
        self._incoming.write(data)
        if self._state is State.HANDSHAKING:
            self._step_handshake()
        elif self._state is State.OPEN and self._started and not self._paused:
            self._deliver_plaintext()

    def _lower_closed(self, error: Exception | None) -> None:
        if self._state is State.HANDSHAKING:
            self._handshake_failed(error or ConnectionResetError("connection closed by the peer"))
            return
        if error is None and self._state is State.OPEN:
            self._incoming.write_eof()
            self._lower_ended = True
            if not self._started or self._paused:
                return  # what the BIO holds, then the end, once reading (resume_reading)
            self._deliver_plaintext()
        if self._state is not State.CLOSED:
            self._finish(as_transport_error(error, self.peer))

    def _lower_drained(self) -> None:
        if self._state is State.OPEN and self.on_drain is not None:
            self.on_drain()

    # -- data ------------------------------------------------------------------------------------

    def _deliver_if_reading(self) -> None:
        if self._state is State.OPEN and self._started and not self._paused:
            self._deliver_plaintext()

    def _deliver_plaintext(self) -> None:
        """Drain ``SSLObject.read`` into reused buffers; each full buffer is one ``on_data``."""
        while self._state is State.OPEN and not self._paused:
            buffer = take_buffer()
            filled, end, error = self._read_into(buffer[1])
            self._flush()  # reading can produce records to send (a TLS 1.3 KeyUpdate)
            if filled:
                data = buffer[1][:filled]
                try:
                    if self._on_data is not None:
                        self._on_data(data)
                finally:
                    give_back(buffer, data)
            else:
                free_buffers.append(buffer)
            if error is not None:
                self._finish(stream_error(error, self.peer))
                return
            if end:
                self._finish(None)
                return
            if filled < READ_BUFFER_SIZE:
                return

    def _read_into(self, view: memoryview) -> tuple[int, bool, ssl.SSLError | None]:
        """Fill ``view`` from the ``SSLObject``: (bytes, the peer ended, an error)."""
        filled = 0
        while filled < READ_BUFFER_SIZE:
            try:
                # With a buffer, SSLObject.read returns the count (typeshed knows only bytes).
                count: int = self._ssl.read(  # type: ignore[assignment]
                    READ_BUFFER_SIZE - filled, view[filled:]
                )
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return filled, True, None  # close_notify, or a ragged EOF (see tls.py)
            except ssl.SSLError as exc:
                return filled, False, exc
            if not count:
                return filled, True, None
            filled += count
        return filled, False, None

    def _encrypt(self, data: bytes) -> None:
        try:
            self._ssl.write(data)
        except ssl.SSLError as exc:
            error = stream_error(exc, self.peer)
            self._release()
            self._end_later(error)
            return
        self._flush()

    def _flush(self) -> None:
        if self._outgoing.pending:
            self._lower.write(self._outgoing.read())

    # -- endings ---------------------------------------------------------------------------------

    def _close_notify(self, was: State) -> None:
        """Best effort ``close_notify`` (RFC 8446 section 6.1), never waiting for the peer's."""
        if was is State.OPEN:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._ssl.unwrap()
            self._flush()

    def _release(self) -> None:
        if self._state is State.CLOSED:
            return
        was, self._state = self._state, State.CLOSED
        self._close_notify(was)
        self._lower.close()

    def _finish(self, error: TransportError | None) -> None:
        self._release()
        self._report(error)
