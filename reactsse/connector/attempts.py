"""Happy Eyeballs (RFC 8305): TCP connects to a host's addresses, racing, first socket wins.

As react/socket's ``HappyEyeballsConnector`` does it: the addresses are interleaved by family
(RFC 8305 section 4: the family of the first address, then the other, alternating), the first
attempt starts at once, and each next one starts when the one before it fails or after the
connection-attempt delay, whichever comes first (section 5), while the earlier ones go on. The
first socket that connects wins; every other attempt is closed at once. A non-blocking
``connect`` per address (connect(2), ``EINPROGRESS``: wait for writability, then read
``SO_ERROR``).

The delay defaults to RFC 8305's recommended 250 ms rather than ReactPHP's 100 ms: an event
stream is long-lived, so 150 ms more before a second attempt on a dead first address costs
little, while a shorter delay doubles the SYNs a server sees from every client whose first
round trip is slower than 100 ms (mobile and intercontinental paths). CPython's asyncio
recommends the same 0.25 s for ``happy_eyeballs_delay``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from reactsse.connector.oserrors import CONNECT_PENDING
from reactsse.connector.resolve import Address
from reactsse.loop.interface import LoopInterface, Stream
from reactsse.loop.oneshot import OneShotTimer

__all__ = ["DEFAULT_ATTEMPT_DELAY", "AddressAttempts", "Failure", "interleave"]

#: An address that could not be connected, and why.
Failure = tuple[tuple[Any, ...], OSError]
#: Seconds between the starts of two connection attempts (RFC 8305 section 5's recommendation).
DEFAULT_ATTEMPT_DELAY = 0.25


def interleave(addresses: Sequence[Address]) -> list[Address]:
    """``addresses`` in RFC 8305 section 4's order: the first one's family, then alternating.

    Within a family the resolver's order is kept (it sorted them by RFC 6724 already).
    """
    if not addresses:
        return []
    first_family = addresses[0][0]
    first = [address for address in addresses if address[0] == first_family]
    other = [address for address in addresses if address[0] != first_family]
    ordered: list[Address] = []
    for index in range(max(len(first), len(other))):
        ordered.extend(family[index] for family in (first, other) if index < len(family))
    return ordered


class AddressAttempts:
    """Race connects to ``addresses``; ``on_connected(sock)`` or ``on_failed(failures)``, once.

    Called from ``start()`` or a loop callback; none after ``cancel()``. There is no deadline
    here: the caller's own timer ends the race by calling ``cancel()`` (``pending`` then names
    the addresses still under way, for its error message).
    """

    def __init__(
        self,
        loop: LoopInterface,
        addresses: Sequence[Address],
        on_connected: Callable[[socket.socket], object],
        on_failed: Callable[[list[Failure]], object],
        *,
        attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
    ) -> None:
        self._loop = loop
        self._addresses = interleave(addresses)
        self._on_connected = on_connected
        self._on_failed = on_failed
        self._delay = attempt_delay
        self._racing: dict[socket.socket, tuple[Any, ...]] = {}
        self._timer = OneShotTimer(loop, self._next)
        self._done = False
        self.failures: list[Failure] = []

    @property
    def pending(self) -> list[tuple[Any, ...]]:
        """The sockaddrs of the attempts under way."""
        return list(self._racing.values())

    @property
    def sockets(self) -> list[socket.socket]:
        """The sockets of the attempts under way (for tests that check they are closed)."""
        return list(self._racing)

    def start(self) -> None:
        """Start the first attempt (and any that fail at once after it)."""
        self._next()

    def cancel(self) -> None:
        """Close every socket under way and stop the timer; no callback after."""
        self._done = True
        self._timer.cancel()
        self._addresses = []
        racing, self._racing = self._racing, {}
        for sock in racing:
            self._loop.remove_write_stream(sock)
            sock.close()

    def _next(self) -> None:
        """Start the next address; on a failure at once, the one after it, and so on."""
        self._timer.cancel()
        while self._addresses and not self._done:
            family, sockaddr = self._addresses.pop(0)
            try:
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            except OSError as exc:
                self.failures.append((sockaddr, exc))
                continue
            try:
                sock.setblocking(False)  # TCP_NODELAY: the transport sets it, once connected
                code = sock.connect_ex(sockaddr)
            except OSError as exc:
                sock.close()
                self.failures.append((sockaddr, exc))
                continue
            if code == 0:
                self._racing[sock] = sockaddr
                self._won(sock)
                return
            if code not in CONNECT_PENDING:
                sock.close()
                self.failures.append((sockaddr, OSError(code, os.strerror(code))))
                continue
            # Wait for writability, then read SO_ERROR (connect(2), "EINPROGRESS").
            self._racing[sock] = sockaddr
            self._loop.add_write_stream(sock, self._on_writable)
            if self._addresses:
                self._timer.arm(self._delay)
            return
        self._maybe_failed()

    def _on_writable(self, stream: Stream) -> None:
        sock = stream if isinstance(stream, socket.socket) else None
        if sock is None or sock not in self._racing:
            return
        self._loop.remove_write_stream(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            self._won(sock)
            return
        sockaddr = self._racing.pop(sock)
        sock.close()
        self.failures.append((sockaddr, OSError(code, os.strerror(code))))
        # RFC 8305 section 5: a failed attempt starts the next one at once.
        self._next()

    def _maybe_failed(self) -> None:
        if not self._racing and not self._addresses and not self._done:
            self._done = True
            self._timer.cancel()
            self._on_failed(self.failures)

    def _won(self, sock: socket.socket) -> None:
        del self._racing[sock]
        self.cancel()  # close the others at once
        self._on_connected(sock)
