"""Host names to addresses without blocking the loop: ``getaddrinfo`` in a thread.

``getaddrinfo`` blocks, so a name is resolved in a daemon thread that wakes the loop with the
result (asyncio's ``loop.getaddrinfo`` runs it in an executor for the same reason). An IP
literal needs no lookup and no thread: ``AI_NUMERICHOST`` gives its sockaddr at once (with the
right IPv6 scope id).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["Address", "Resolution", "ResolveResult", "ip_literal", "resolve_literal"]

#: A socket family and a sockaddr for ``connect``.
Address = tuple[socket.AddressFamily, tuple[Any, ...]]
#: What a resolution ends in: the addresses in ``getaddrinfo``'s order, or its error.
ResolveResult = list[Address] | OSError | UnicodeError


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
    """``getaddrinfo`` in a daemon thread, waking the loop through a socketpair.

    ``LoopInterface`` has no thread-safe call, so the thread writes one byte to a socketpair
    whose other end is a read stream of the loop; this works on any implementation.
    Lock discipline: the thread stores its result and sends its byte under ``_lock`` only while
    ``_finished`` is false; the loop sets ``_finished`` under ``_lock`` before it closes the
    pair, so the thread never touches a closed socket (nor a reused descriptor).
    """

    def __init__(
        self, loop: LoopInterface, host: str, port: int, on_done: Callable[[ResolveResult], None]
    ) -> None:
        self._loop = loop
        self._on_done = on_done
        self._lock = threading.Lock()
        self._finished = False
        self._result: ResolveResult | None = None
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        loop.add_read_stream(self._reader, self._on_wake)
        thread = threading.Thread(
            target=self._run, args=(host, port), name=f"reactsse-resolve-{host}", daemon=True
        )
        thread.start()

    def _run(self, host: str, port: int) -> None:
        result: ResolveResult
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
        """Stop now: the thread cannot be interrupted, but its late answer touches nothing."""
        with self._lock:
            self._finished = True
        self._close()

    def _close(self) -> None:
        self._loop.remove_read_stream(self._reader)
        self._reader.close()
        self._writer.close()
