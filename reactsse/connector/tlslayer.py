"""``TLSLayer``: TLS over another ``Transport`` (TLS in TLS, through an ``https://`` proxy).

``TLSTransport`` reads a socket; this class reads a ``Transport``: its ciphertext comes from the
lower transport's ``on_data`` and goes out through the lower transport's ``write``, through the
same ``ssl.MemoryBIO`` pair and ``SSLObject`` (``tls.wrap_bio``). Stacked on the tunnel through
an ``https://`` proxy (a ``TLSTransport`` to the proxy), it is the TLS session with the target
inside the TLS session with the proxy, as curl's and httpcore's https proxies do it.

The TLS session itself (handshake, held plaintext, decrypting, encrypting) is
``tls.TLSSession``, shared with ``TLSTransport``; what brings the records in stays two classes:
``TLSTransport``'s socket read is the one every direct TLS stream takes (one ``recv_into`` into
the shared buffers, then the BIO), and the stacked case must not cost it an indirection. Flow
control passes straight through:
``pause_reading`` pauses the lower transport (and so, at the bottom, the socket), ``on_drain``
and ``buffered_size`` count the lower transport's buffer too.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from typing import Any

from reactsse.connector.oserrors import as_transport_error, stream_error
from reactsse.connector.tls import TLSSession
from reactsse.connector.transport import State, Transport
from reactsse.errors import TransportError
from reactsse.loop.interface import LoopInterface

__all__ = ["TLSLayer"]


class TLSLayer(TLSSession):
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
        self._init_session(context, server_side=False, server_hostname=server_hostname)
        self._paused = False
        self._lower_ended = False  # the lower transport ended cleanly: EOF written to the BIO

    # -- Transport ------------------------------------------------------------------------------

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
        self._lower.on_drain = self._lower_drained
        self._lower.start(self._lower_data, self._lower_closed)
        self._await_handshake(on_done, on_error)

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
        self._cancel_handshake()
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
        if self._holds_plaintext() or self._lower_ended:
            # Records that came with the handshake's last flight or during a pause, and the
            # end that came after them: delivered in order.
            self._loop.future_tick(self._deliver_if_reading)

    def __repr__(self) -> str:
        return f"<TLSLayer {self._state.value} over {self._lower!r}>"

    def _opened(self) -> None:
        self._lower.pause_reading()  # until start()

    # -- the lower transport's callbacks ----------------------------------------------------------

    def _lower_data(self, data: memoryview) -> None:
        self._incoming.write(data)
        if self._state is State.HANDSHAKING:
            self._step_handshake()
        elif self._state is State.OPEN and self._started and not self._paused:
            self._deliver_plaintext()

    def _lower_closed(self, error: Exception | None) -> None:
        if self._state is State.HANDSHAKING:
            reason = error or ConnectionResetError("connection closed by the peer")
            self._handshake_failed(self._handshake_error(reason))
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

    def _fail(self, exc: OSError) -> None:
        self._finish(stream_error(exc, self.peer))

    def _fail_later(self, exc: OSError) -> None:
        error = stream_error(exc, self.peer)
        self._release()
        self._end_later(error)

    def _flush_tls(self) -> None:
        if self._outgoing.pending:
            self._lower.write(self._outgoing.read())

    # -- endings ---------------------------------------------------------------------------------

    def _close_notify(self, was: State) -> None:
        """Best effort ``close_notify`` (RFC 8446 section 6.1), never waiting for the peer's."""
        if was is State.OPEN:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._ssl.unwrap()
            self._flush_tls()

    def _release(self) -> None:
        if self._state is State.CLOSED:
            return
        was, self._state = self._state, State.CLOSED
        self._close_notify(was)
        self._lower.close()

    def _finish(self, error: TransportError | None) -> None:
        self._release()
        self._report(error)
