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
from typing import Protocol

from reactsse.connector.oserrors import describe
from reactsse.errors import ProxyError
from reactsse.http.tunnel import HandshakeStep
from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["Handshake", "SocketHandshake"]

# A proxy's answer is a head of a few hundred bytes; h11 bounds it anyway (16 KiB).
_RECV_SIZE = 16384


class Handshake(Protocol):
    """A sans-IO tunnel handshake: ``start()`` gives the first bytes, ``receive`` the rest."""

    authority: str

    def start(self) -> bytes: ...

    def receive(self, data: bytes) -> HandshakeStep: ...


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
            # Neither an HTTP request nor a TLS ClientHello lets the target speak first.
            self._fail(
                ProxyError(
                    f"proxy {self._proxy} sent {len(leftover)} bytes after opening the tunnel "
                    f"to {self._handshake.authority}, before the target could speak"
                )
            )
            return
        self._sock = None
        self._loop.remove_read_stream(sock)
        if self._writing:
            self._loop.remove_write_stream(sock)
        self._on_done(sock)

    def _fail_os(self, exc: OSError) -> None:
        error = ProxyError(
            f"connection to proxy {self._proxy} failed while opening the tunnel to "
            f"{self._handshake.authority}: {describe(exc)}"
        )
        error.__cause__ = exc
        self._fail(error)

    def _fail(self, error: Exception) -> None:
        self.cancel()
        self._on_error(error)
