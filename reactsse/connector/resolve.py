"""Host names to addresses without blocking the loop: ``getaddrinfo`` in a thread.

``getaddrinfo`` blocks, so a name is resolved in a daemon thread that hands the result to the
loop thread (asyncio's ``loop.getaddrinfo`` runs it in an executor for the same reason). An IP
literal needs no lookup and no thread: ``AI_NUMERICHOST`` gives its sockaddr at once (with the
right IPv6 scope id).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from reactsse.loop.interface import LoopInterface
from reactsse.loop.waker import ThreadWaker

__all__ = [
    "Address",
    "Resolution",
    "ResolveResult",
    "Resolver",
    "getaddrinfo_addresses",
    "ip_literal",
    "resolve_literal",
]

#: A socket family and a sockaddr for ``connect``.
Address = tuple[socket.AddressFamily, tuple[Any, ...]]
#: What a resolution ends in: the addresses in ``getaddrinfo``'s order, or its error.
ResolveResult = list[Address] | OSError | UnicodeError
#: A name lookup: ``(host, port)`` to addresses; it may block (it runs in a thread).
Resolver = Callable[[str, int], Sequence[Address]]


def getaddrinfo_addresses(host: str, port: int) -> list[Address]:
    """The default ``Resolver``: ``getaddrinfo`` for TCP, A and AAAA in the system's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(info[0], tuple(info[4])) for info in infos]


def ip_literal(host: str) -> str | None:
    """``host`` without brackets if it is an IPv4/IPv6 literal (scope ids allowed), else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return None
    return bare


def resolve_literal(literal: str, port: int) -> ResolveResult:
    """The sockaddr of an IP literal (``ip_literal``'s result): no lookup, no thread."""
    try:
        infos = socket.getaddrinfo(
            literal,
            port,
            type=socket.SOCK_STREAM,
            proto=socket.IPPROTO_TCP,
            flags=socket.AI_NUMERICHOST,
        )
    except OSError as exc:
        return exc
    return [(info[0], tuple(info[4])) for info in infos]


class Resolution:
    """``getaddrinfo`` in a daemon thread; ``on_done(result)`` on the loop thread, once.

    The thread hands its result to the loop through a ``ThreadWaker``, which works on any
    ``LoopInterface`` (it has no thread-safe call of its own). ``cancel()`` closes the waker:
    the thread cannot be interrupted, but its late answer is dropped and touches nothing.
    """

    def __init__(
        self,
        loop: LoopInterface,
        host: str,
        port: int,
        on_done: Callable[[ResolveResult], None],
        resolver: Resolver = getaddrinfo_addresses,
    ) -> None:
        self._on_done = on_done
        self._resolver = resolver
        self._waker = ThreadWaker(loop)
        thread = threading.Thread(
            target=self._run, args=(host, port), name=f"reactsse-resolve-{host}", daemon=True
        )
        thread.start()

    def _run(self, host: str, port: int) -> None:
        result: ResolveResult
        try:
            result = list(self._resolver(host, port))
        except (OSError, UnicodeError) as exc:  # gaierror; an IDNA label that cannot be encoded
            result = exc
        self._waker.call_soon_threadsafe(lambda: self._done(result))

    def _done(self, result: ResolveResult) -> None:
        self._waker.close()
        self._on_done(result)

    def cancel(self) -> None:
        """Stop now: the wake-up socketpair is closed before this returns."""
        self._waker.close()
