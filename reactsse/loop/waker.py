"""``ThreadWaker``: run a callable on the loop thread from any other thread.

``LoopInterface`` (like ReactPHP's, which has one thread) has no thread-safe call. asyncio has
``call_soon_threadsafe`` and trio a ``WakeupSocketpair``; this is the same idea on any loop: a
socketpair whose read end is a read stream of the loop. Another thread appends its callable to a
queue and writes one byte; the loop wakes, drains the bytes and runs every queued callable.

Lock discipline: a callable is queued and its byte sent under ``_lock`` only while the waker is
open; ``close()`` marks it closed under ``_lock`` before it closes the sockets, so no thread ever
writes to a closed socket, nor to a descriptor number the process has reused since.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
from collections.abc import Callable

from reactsse.loop.interface import LoopInterface, Stream

__all__ = ["ThreadWaker"]


class ThreadWaker:
    """Queue callables from any thread; the loop runs them, in order, on its own thread.

    While open it is a read stream of the loop, so it keeps ``run()`` going: ``close()`` it
    (from the loop thread) when no more wake-ups are expected.
    """

    def __init__(self, loop: LoopInterface) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._closed = False
        self._queue: collections.deque[Callable[[], object]] = collections.deque()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        loop.add_read_stream(self._reader, self._on_readable)

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._closed

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> bool:
        """Run ``callback()`` on the loop thread soon; False (and nothing queued) once closed."""
        with self._lock:
            if self._closed:
                return False
            self._queue.append(callback)
            # A full pair buffer already holds a wake-up byte: the loop will drain the queue.
            with contextlib.suppress(BlockingIOError, InterruptedError):
                self._writer.send(b"\0")
        return True

    def _on_readable(self, _stream: Stream) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._reader.recv(4096):
                pass
        queue = self._queue
        while queue and not self._closed:
            queue.popleft()()

    def close(self) -> None:
        """Stop waking the loop; callables still queued are dropped. Idempotent; loop thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
        self._loop.remove_read_stream(self._reader)
        self._reader.close()
        self._writer.close()
