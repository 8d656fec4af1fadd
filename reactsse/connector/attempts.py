"""TCP connects to a host's addresses in order, one at a time, each with a share of the time.

A non-blocking ``connect`` per address (connect(2), ``EINPROGRESS``: wait for writability, then
read ``SO_ERROR``). Each of the n addresses left gets 1/n of the time left and the last one all
of it, so that one address that hangs cannot use up the whole timeout (the idea of RFC 8305's
connection attempts, made sequential).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from typing import Any

from reactsse.connector.oserrors import CONNECT_PENDING
from reactsse.connector.resolve import Address
from reactsse.loop.interface import LoopInterface, Stream
from reactsse.loop.oneshot import OneShotTimer

__all__ = ["AddressAttempts", "Failure"]

#: An address that could not be connected, and why.
Failure = tuple[tuple[Any, ...], OSError]


class AddressAttempts:
    """Connect to the first of ``addresses`` that accepts; ``on_connected(sock)`` or
    ``on_failed(failures)``, once, from ``start()`` or a loop callback; none after ``cancel()``.

    ``deadline`` (on the loop's clock, or ``None``) is the caller's: it ends the last attempt
    itself with its own timer; this class only ends the attempts before the last one early.
    """

    def __init__(
        self,
        loop: LoopInterface,
        addresses: list[Address],
        deadline: float | None,
        on_connected: Callable[[socket.socket], object],
        on_failed: Callable[[list[Failure]], object],
    ) -> None:
        self._loop = loop
        self._addresses = list(addresses)
        self._deadline = deadline
        self._on_connected = on_connected
        self._on_failed = on_failed
        self._sock: socket.socket | None = None
        self._sockaddr: tuple[Any, ...] = ()
        self._timer = OneShotTimer(loop, self._on_timer)
        self.failures: list[Failure] = []

    def start(self) -> None:
        """Try the addresses in order until one connects or one is under way."""
        while self._addresses:
            family, sockaddr = self._addresses.pop(0)
            try:
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            except OSError as exc:
                self.failures.append((sockaddr, exc))
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                code = sock.connect_ex(sockaddr)
            except OSError as exc:
                sock.close()
                self.failures.append((sockaddr, exc))
                continue
            self._sock = sock
            self._sockaddr = sockaddr
            if code == 0:
                self._connected()
                return
            if code not in CONNECT_PENDING:
                self._attempt_failed(OSError(code, os.strerror(code)))
                return
            # Wait for writability, then read SO_ERROR (connect(2), "EINPROGRESS").
            self._loop.add_write_stream(sock, self._on_writable)
            self._arm_attempt_timer()
            return
        self._on_failed(self.failures)

    def cancel(self) -> None:
        """Close the socket of the attempt under way and stop its timer; no callback after."""
        self._timer.cancel()
        if self._sock is not None:
            self._loop.remove_write_stream(self._sock)
            self._sock.close()
            self._sock = None
        self._addresses = []

    def _arm_attempt_timer(self) -> None:
        """Share the remaining time: each of the n addresses left gets 1/n of it."""
        if self._deadline is None or not self._addresses:
            return  # the last address has the caller's deadline
        now = self._loop.now()
        share = max(0.0, self._deadline - now) / (len(self._addresses) + 1)
        self._timer.arm(share)

    def _on_timer(self) -> None:
        self._attempt_failed(TimeoutError(errno.ETIMEDOUT, "connect timed out"))

    def _on_writable(self, _stream: Stream) -> None:
        sock = self._sock
        if sock is None:
            return
        self._loop.remove_write_stream(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            self._attempt_failed(OSError(code, os.strerror(code)))
            return
        self._connected()

    def _attempt_failed(self, exc: OSError) -> None:
        self._timer.cancel()
        sock = self._sock
        self._sock = None
        if sock is not None:
            self._loop.remove_write_stream(sock)
            sock.close()
        self.failures.append((self._sockaddr, exc))
        self.start()

    def _connected(self) -> None:
        self._timer.cancel()
        sock = self._sock
        assert sock is not None
        self._sock = None
        self._on_connected(sock)
