"""How a consumer task waits for what the shared loop's listeners hand it: the host's own primitive.

An ``AsyncChannel`` has exactly one consumer task and one party that wakes it (a listener on the
loop), and it waits once per socket read, which for an LLM token stream is once per event. So
the wait is on the hot path, and it is done with the backend's bare primitive, one class per
backend, rather than with ``anyio.Event``:

* ``AsyncioParking`` (asyncio, uvloop included): one future of the running loop
  (``loop.create_future()``), awaited directly and resolved by ``set_result``. ``anyio.Event``
  on asyncio is a Python wrapper (its constructor looks the backend up) around an
  ``asyncio.Event``, whose ``wait()`` makes such a future, keeps it in a deque of waiters and
  removes it afterwards, and whose ``set()`` walks that deque: the same future, behind three
  layers written for any number of waiters.
* ``TrioParking``: ``trio.lowlevel.wait_task_rescheduled`` and ``reschedule``, the primitive
  ``trio.Event`` itself is built on (through a ``ParkingLot`` that keeps a dict of waiting tasks
  and a set of parked lots); one waiting task needs none of that.

Both are also a checkpoint between bursts (``checkpoint()``: ``asyncio.sleep(0)``,
``trio.lowlevel.checkpoint()``), which is what ``anyio.lowlevel.checkpoint`` runs after looking
the backend up on every call.

Cancellation is the backend's own: a cancelled ``park()`` raises the host's cancellation
exception and leaves nothing behind (the next ``unpark()`` finds no waiter).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["AsyncioParking", "TrioParking", "new_parking"]


class AsyncioParking:
    """One task waits on a future of the running asyncio loop; ``unpark()`` resolves it."""

    __slots__ = ("_create_future", "_future")

    def __init__(self, host: asyncio.AbstractEventLoop) -> None:
        self._create_future = host.create_future
        self._future: asyncio.Future[None] | None = None

    async def park(self) -> None:
        """Wait until ``unpark()`` (or until the task is cancelled)."""
        future = self._future = self._create_future()
        try:
            await future
        finally:
            self._future = None

    def unpark(self) -> None:
        """Wake the waiting task, if one waits; a no-op otherwise, or if it was woken already."""
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    async def checkpoint(self) -> None:
        """Let the host's other tasks run (and take a cancellation)."""
        await asyncio.sleep(0)


class TrioParking:
    """One trio task waits in ``wait_task_rescheduled``; ``unpark()`` reschedules it."""

    __slots__ = ("_lowlevel", "_task")

    def __init__(self) -> None:
        import trio  # only on trio hosts: asyncio programs need not have it installed

        self._lowlevel = trio.lowlevel
        self._task: trio.lowlevel.Task | None = None

    async def park(self) -> None:
        """Wait until ``unpark()`` (or until the task is cancelled)."""
        lowlevel = self._lowlevel
        self._task = lowlevel.current_task()
        try:
            await lowlevel.wait_task_rescheduled(self._abort)
        finally:
            self._task = None

    def _abort(self, raise_cancel: object) -> Any:
        self._task = None  # a cancelled task must not be rescheduled by unpark() as well
        return self._lowlevel.Abort.SUCCEEDED

    def unpark(self) -> None:
        """Wake the waiting task, if one waits; a no-op otherwise, or if it was woken already."""
        task = self._task
        if task is not None:
            self._task = None
            self._lowlevel.reschedule(task)

    async def checkpoint(self) -> None:
        """Let the host's other tasks run (and take a cancellation)."""
        await self._lowlevel.checkpoint()


def new_parking() -> AsyncioParking | TrioParking:
    """The waiting primitive of the running host: asyncio's (uvloop's) or, otherwise, trio's."""
    try:
        return AsyncioParking(asyncio.get_running_loop())
    except RuntimeError:
        return TrioParking()
