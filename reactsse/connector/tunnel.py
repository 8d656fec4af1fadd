"""A proxy's handshake (HTTP ``CONNECT`` or SOCKS) on a connected socket, before any transport.

``connect`` runs it between the TCP connect to the proxy and the TLS handshake with the target:
once the proxy says yes, the socket is a plain byte pipe to the target and becomes an ordinary
``SocketTransport`` or ``TLSTransport``, so a stream through a tunnel reads exactly as a direct
one does (same read path, same costs). The handshakes themselves are sans-IO
(``reactsse.http.tunnel.ConnectHandshake``, ``reactsse.connector.socks.SocksHandshake``); this
module only moves their bytes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Protocol

from reactsse.connector.oserrors import describe
from reactsse.connector.transport import Transport, TransportBase
from reactsse.errors import ProxyError
from reactsse.http.tunnel import HandshakeStep
from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["Handshake", "SocketHandshake", "TransportTunnel", "too_early"]

# A proxy's answer is a head of a few hundred bytes; h11 bounds it anyway (16 KiB).
_RECV_SIZE = 16384


class Handshake(Protocol):
    """A sans-IO tunnel handshake: ``start()`` gives the first bytes, ``receive`` the rest."""

    authority: str

    def start(self) -> bytes: ...

    def receive(self, data: bytes) -> HandshakeStep: ...


def too_early(proxy: str, authority: str, count: int) -> ProxyError:
    """The proxy sent bytes right after opening the tunnel: neither an HTTP request nor a TLS
    ClientHello lets the target speak first, so they cannot be the target's."""
    return ProxyError(
        f"proxy {proxy} sent {count} bytes after opening the tunnel to {authority}, "
        "before the target could speak",
        target=authority,
    )


class SocketHandshake:
    """Run ``handshake`` on ``sock``; then ``on_done(sock)`` or ``on_error(ProxyError)``, once.

    Both are called from loop callbacks only, and neither after ``cancel()`` (which closes the
    socket). ``proxy`` is the proxy as ``host:port``, for messages.
    """

    def __init__(
        self,
        loop: LoopInterface,
        sock: socket.socket,
        handshake: Handshake,
        proxy: str,
        on_done: Callable[[socket.socket], object],
        on_error: Callable[[Exception], object],
    ) -> None:
        self._loop = loop
        self._sock: socket.socket | None = sock
        self._handshake = handshake
        self._proxy = proxy
        self._on_done = on_done
        self._on_error = on_error
        self._outbox = bytearray()
        self._writing = False

    def start(self) -> None:
        sock = self._sock
        assert sock is not None
        self._loop.add_read_stream(sock, self._on_readable)
        self._send(self._handshake.start())

    def cancel(self) -> None:
        """Remove the loop registrations and close the socket; no callback after."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._loop.remove_read_stream(sock)
        if self._writing:
            self._loop.remove_write_stream(sock)
        sock.close()

    def _send(self, data: bytes) -> None:
        self._outbox += data
        self._flush()

    def _flush(self, _stream: Stream | None = None) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._outbox:
            try:
                sent = sock.send(self._outbox)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail_os(exc)
                return
            del self._outbox[:sent]
        if self._outbox and not self._writing:
            self._loop.add_write_stream(sock, self._flush)
            self._writing = True
        elif not self._outbox and self._writing:
            self._loop.remove_write_stream(sock)
            self._writing = False

    def _on_readable(self, _stream: Stream) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail_os(exc)
            return
        try:
            out, done, leftover = self._handshake.receive(data)
        except ProxyError as error:
            self._fail(error)
            return
        if out:
            self._send(out)
        if not done or self._sock is None:
            return
        if leftover:
            self._fail(too_early(self._proxy, self._handshake.authority, len(leftover)))
            return
        self._sock = None
        self._loop.remove_read_stream(sock)
        if self._writing:
            self._loop.remove_write_stream(sock)
        self._on_done(sock)

    def _fail_os(self, exc: OSError) -> None:
        error = ProxyError(
            f"connection to proxy {self._proxy} failed while opening the tunnel to "
            f"{self._handshake.authority}: {describe(exc)}",
            target=self._handshake.authority,
        )
        error.__cause__ = exc
        self._fail(error)

    def _fail(self, error: Exception) -> None:
        self.cancel()
        self._on_error(error)


class TransportTunnel(TransportBase):
    """Run ``handshake`` over ``lower`` (TLS to an ``https://`` proxy), then be the tunnel.

    ``open()`` starts ``lower`` and sends the request; then, from the loop, ``on_done(self)``
    (the tunnel is open: use it as the ``Transport`` to the target) or ``on_error(ProxyError)``,
    once, and neither after ``close()``. Once open it passes everything through to ``lower``:
    writes, flow control, ``end``/``close`` and the end of the stream.
    """

    def __init__(
        self,
        loop: LoopInterface,
        lower: Transport,
        handshake: Handshake,
        proxy: str,
        on_done: Callable[[Transport], object],
        on_error: Callable[[Exception], object],
    ) -> None:
        super().__init__(loop)
        self._lower = lower
        self._handshake: Handshake | None = handshake
        self._authority = handshake.authority
        self._proxy = proxy
        self._on_done = on_done
        self._on_error = on_error

    def cancel(self) -> None:
        """Abort the handshake (as ``SocketHandshake.cancel``): ``close()``."""
        self.close()

    def open(self) -> None:
        handshake = self._handshake
        assert handshake is not None
        self._lower.on_drain = self._lower_drained
        self._lower.start(self._lower_data, self._lower_closed)
        self._lower.write(handshake.start())

    # -- Transport (once open) -------------------------------------------------------------------

    def _start_reading(self) -> None:
        self._lower.resume_reading()

    def write(self, data: bytes) -> None:
        if self._handshake is None:
            self._lower.write(data)

    def end(self) -> None:
        self._lower.end()

    def close(self) -> None:
        self._handshake = None
        self._forget_callbacks()
        self._lower.close()

    def pause_reading(self) -> None:
        self._lower.pause_reading()

    def resume_reading(self) -> None:
        if self._started:
            self._lower.resume_reading()

    @property
    def buffered_size(self) -> int:
        return self._lower.buffered_size

    @property
    def peer(self) -> tuple[Any, ...]:
        return self._lower.peer

    @property
    def local(self) -> tuple[Any, ...]:
        return self._lower.local

    @property
    def is_tls(self) -> bool:
        return False  # the bytes to the target are plain; TLS is only to the proxy

    @property
    def is_closed(self) -> bool:
        return self._lower.is_closed

    def __repr__(self) -> str:
        return f"<TransportTunnel to {self._authority} via {self._proxy} over {self._lower!r}>"

    # -- the lower transport's callbacks ----------------------------------------------------------

    def _lower_data(self, data: memoryview) -> None:
        handshake = self._handshake
        if handshake is None:
            if self._on_data is not None:
                self._on_data(data)
            return
        try:
            out, done, leftover = handshake.receive(bytes(data))
        except ProxyError as error:
            self._fail(error)
            return
        if out:
            self._lower.write(out)
        if not done:
            return
        if leftover:
            self._fail(too_early(self._proxy, self._authority, len(leftover)))
            return
        self._handshake = None
        self._lower.pause_reading()  # until start()
        self._on_done(self)

    def _lower_closed(self, error: Exception | None) -> None:
        handshake = self._handshake
        if handshake is None:
            if self._started:
                self._report(error)
            else:
                self._early_end = (error,)  # after the tunnel opened: start() reports it
            return
        if error is None:
            try:
                handshake.receive(b"")  # the proxy closed: the handshake says what it means
            except ProxyError as refusal:
                error = refusal
        if not isinstance(error, ProxyError):
            failure = ProxyError(
                f"connection to proxy {self._proxy} failed while opening the tunnel to "
                f"{self._authority}: {error or 'closed'}",
                target=self._authority,
            )
            failure.__cause__ = error
            error = failure
        self._fail(error)

    def _lower_drained(self) -> None:
        if self._handshake is None and self.on_drain is not None:
            self.on_drain()

    def _fail(self, error: Exception) -> None:
        self.close()
        self._on_error(error)
