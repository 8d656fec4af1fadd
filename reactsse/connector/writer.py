"""The write side of a non-blocking socket: send what the kernel takes now, buffer the rest.

Like reactphp/stream's ``WritableResourceStream``: ``write`` tries the socket at once, and only
what it does not take is buffered; the loop's write listener is registered while the buffer is
not empty and flushes it, and the owner hears when it is empty again (ReactPHP's ``drain``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["SocketWriter"]


class SocketWriter:
    """The write buffer of one socket; its owner checks the state and reports the errors."""

    def __init__(
        self,
        loop: LoopInterface,
        sock: socket.socket,
        on_error: Callable[[OSError], object],
        on_drained: Callable[[], object],
    ) -> None:
        """``on_error(exc)`` and ``on_drained()`` are called from the loop's write listener."""
        self._loop = loop
        self._sock = sock
        self._on_error = on_error
        self._on_drained = on_drained
        self.buffer = bytearray()  # del from the front is amortised O(1) in CPython
        self._writing = False  # write listener registered

    def send(self, data: bytes | bytearray | memoryview) -> OSError | None:
        """Send now as far as the kernel takes it; buffer the rest and watch for writability.

        Returns the error of ``send()`` instead of reporting it: the caller is inside a user's
        ``write()`` and must report it later, from the loop.
        """
        if self.buffer:
            self.buffer += data
            return None
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            return exc
        if sent < len(data):
            self.buffer += memoryview(data)[sent:]
            self._loop.add_write_stream(self._sock, self._on_writable)
            self._writing = True
        return None

    def _on_writable(self, _stream: Stream) -> None:
        try:
            sent = self._sock.send(self.buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._on_error(exc)
            return
        del self.buffer[:sent]
        if not self.buffer:
            self._loop.remove_write_stream(self._sock)
            self._writing = False
            self._on_drained()

    def close(self) -> None:
        """Drop the buffer and the write listener (the owner closes the socket)."""
        if self._writing:
            self._loop.remove_write_stream(self._sock)
            self._writing = False
        self.buffer = bytearray()
