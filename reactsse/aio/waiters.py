"""How an ``AnyioLoop`` waits in its host for its selector's descriptor, a timeout or a wake-up.

Two ways, one interface (``open``, ``wait``, ``close``, and ``waking`` while a wait is on):

* ``AnyioWaiter``, any anyio backend: ``anyio.wait_readable(fd)`` inside a cancel scope whose
  deadline is the timeout; a wake-up cancels the scope. Each wait registers the descriptor with
  the host and unregisters it after (that is how ``wait_readable`` works on asyncio).
* ``AsyncioWaiter``, asyncio hosts only (uvloop included): the descriptor stays registered with
  ``loop.add_reader`` for the whole run, and a wait is one future, resolved by the reader
  callback, by a ``call_later`` handle for the timeout, or by a wake-up. No cancel scope and no
  registration per wait.

``bench/aio_loop.py`` measures both on asyncio (docs/loop.md, "Embedding").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio

__all__ = ["AnyioWaiter", "AsyncioWaiter"]


class AnyioWaiter:
    """Waits through anyio's ``wait_readable``, on any backend."""

    __slots__ = ("_fd", "waking")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        #: while a wait is on: a call that ends it at once (from another task of the host).
        self.waking: Callable[[], object] | None = None

    def open(self) -> None:
        """Nothing to set up: each wait registers the descriptor itself."""

    def close(self) -> None:
        """Nothing to undo: a wait unregisters the descriptor as it ends."""
        self.waking = None

    async def wait(self, timeout: float | None, watching: bool) -> None:
        """Until the descriptor is readable (if ``watching``), ``timeout`` s pass, or a wake-up."""
        with anyio.move_on_after(timeout) as scope:
            self.waking = scope.cancel
            try:
                if watching:
                    await anyio.wait_readable(self._fd)
                else:
                    await anyio.sleep_forever()
            finally:
                self.waking = None


class AsyncioWaiter:
    """Waits through asyncio's own ``add_reader``, registered once per run."""

    __slots__ = ("_fd", "_future", "_host", "waking")

    def __init__(self, fd: int, host: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._host = host
        self._future: asyncio.Future[None] | None = None
        #: while a wait is on: a call that ends it at once (from another task of the host).
        self.waking: Callable[[], object] | None = None

    def open(self) -> None:
        """Register the descriptor with the host for the run."""
        self._host.add_reader(self._fd, self._ready)

    def close(self) -> None:
        """Unregister the descriptor (also when the run was cancelled)."""
        self._host.remove_reader(self._fd)
        self.waking = None

    def _ready(self) -> None:
        # Level-triggered: the host calls this on each of its iterations while the selector has
        # events nobody took yet; only a wait in progress cares.
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, timeout: float | None, watching: bool) -> None:
        """Until the descriptor is readable, ``timeout`` s pass, or a wake-up."""
        future = self._future = self._host.create_future()
        timer = None if timeout is None else self._host.call_later(timeout, self._ready)
        self.waking = self._ready
        try:
            await future
        finally:
            self._future = self.waking = None
            if timer is not None:
                timer.cancel()
