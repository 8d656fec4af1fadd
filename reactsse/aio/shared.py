"""``shared_loop()``: one ``AnyioLoop`` per running host loop, for every ``aconnect`` stream in it.

Why one loop per host and not one per stream: an ``AnyioLoop`` owns a selector (one descriptor)
and one task of the host; with one per stream, 10,000 streams would be 10,000 selectors and
10,000 tasks each waking the host for its own socket. Shared, they are one selector and one task,
which dispatches every ready socket of an iteration in one pass (docs/embedding.md measures it).

The loop lives while a stream uses it: the first user creates it (in the host's ``RunVar``, so
each ``asyncio.run``/``trio.run`` has its own) and starts its runner task; the runner awaits
``run_async()``, which returns when nothing is registered (every source closed or paused). The
last user to leave stops it; when the runner ends with no user left, it closes the loop (its
selector) and forgets it. Work added while a run is ending (between the loop's last iteration
and the end of ``run_async``) would be missed: each ``wake()`` is counted, and the runner runs the
loop once more when one came during a run.

The runner is a task of the host that no user's task group owns (asyncio: ``create_task``; trio:
a system task), because streams are opened and closed by unrelated tasks: it cannot be the child
of any one of them. It never raises: the listeners that ``aconnect`` puts on the loop catch
nothing because they raise nothing; an unexpected error is kept and handed to every user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import anyio.lowlevel

from reactsse.aio.loop import AnyioLoop

__all__ = ["SharedLoop", "hold_shared_loop", "shared_loop"]


class _HandOffLoop(AnyioLoop):
    """The shared loop: its readers hand events over to consumer tasks of the host.

    It yields to the host after every 2 ready streams rather than 16: the consumers woken by
    those reads then take their events while these are fresh in the CPU's caches, before the
    loop decodes more reads (``bench/aio_bench.py`` measured ``aconnect`` faster this way; a
    loop whose listeners consume the events themselves gains nothing from the extra yields).
    """

    _dispatch_slice = 2


class SharedLoop:
    """An ``AnyioLoop`` and its runner task, shared by the streams of one host loop."""

    def __init__(self) -> None:
        self.loop: AnyioLoop = _HandOffLoop()  # created inside the host: on its clock for good
        self.users = 0
        self._wakes = 0  # wake() calls so far: a run that saw one more must run again
        self._running = False
        self._closed = False
        # A dict (insertion-ordered, O(1) removal), not a list: with 10,000 streams, leaving
        # by list.remove would scan the others on every close.
        self._errors: dict[Callable[[BaseException], object], None] = {}

    @property
    def closed(self) -> bool:
        """True once the loop was closed (a new user gets a new ``SharedLoop``)."""
        return self._closed

    def enter(self, on_error: Callable[[BaseException], object]) -> None:
        """A stream starts using the loop; ``on_error`` hears of a crash of the runner."""
        self.users += 1
        self._errors[on_error] = None

    def leave(self, on_error: Callable[[BaseException], object]) -> None:
        """A stream is done with the loop (its source is closed); the last one stops it."""
        self.users -= 1
        del self._errors[on_error]
        if self.users == 0:
            if self._running:
                self.loop.stop()  # the runner ends, and closes the loop
            else:
                self._close()

    def _close(self) -> None:
        self._closed = True
        self.loop.close()
        if _CURRENT.get(None) is self:
            _CURRENT.set(None)

    def wake(self) -> None:
        """Work was added to the loop: make sure a runner will see it."""
        self._wakes += 1
        if not self._running:
            self._running = True
            _spawn(self._run)

    async def _run(self) -> None:
        loop = self.loop
        try:
            while True:
                wakes = self._wakes
                await loop.run_async()
                if self._wakes == wakes or self.users == 0:
                    break
        except anyio.get_cancelled_exc_class():
            raise  # the host is shutting down
        except BaseException as error:  # a listener's: every user hears of it
            for on_error in list(self._errors):
                on_error(error)
        finally:
            self._running = False
            if self.users == 0:
                self._close()


_CURRENT: anyio.lowlevel.RunVar[SharedLoop | None] = anyio.lowlevel.RunVar("reactsse_shared_loop")


def shared_loop() -> SharedLoop:
    """The ``SharedLoop`` of the running host loop (created on first use)."""
    shared = _CURRENT.get(None)
    if shared is None or shared.closed:
        shared = SharedLoop()
        _CURRENT.set(shared)
    return shared


# How often the timer that keeps a held loop running fires (it does nothing): any interval keeps
# ReactPHP's run() going; a long one costs nothing.
_HOLD_INTERVAL = 3600.0


@contextlib.asynccontextmanager
async def hold_shared_loop() -> AsyncIterator[AnyioLoop]:
    """Keep the running host's shared loop open and running for the block; yield it.

    Without it the shared loop lives while a stream uses it: a program that opens one stream
    after another creates the loop (a selector) and starts its runner task for each, which
    delays every first event by that set-up. Held, the loop and its runner stay up, so a stream
    opened in the block starts at once, as a request in an ``aiohttp.ClientSession`` does. The
    loop is also the one to put your own ``EventSource`` or timers on beside the ``aconnect``
    streams. Leaving the block lets the loop close once its last stream is done. Raises, on
    leaving, an error a listener of the shared loop raised while it was held.
    """
    shared = shared_loop()
    errors: list[BaseException] = []
    on_error = errors.append
    # ReactPHP's run() returns when nothing is registered; a periodic timer keeps it running.
    keeper = shared.loop.add_periodic_timer(_HOLD_INTERVAL, lambda _timer: None)
    shared.enter(on_error)
    shared.wake()
    try:
        await anyio.lowlevel.checkpoint()  # let the runner start before the first stream
        yield shared.loop
    finally:
        shared.loop.cancel_timer(keeper)
        shared.leave(on_error)
    if errors and isinstance(errors[0], Exception):
        raise errors[0]


_TASKS: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references to tasks


def _spawn(function: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``function()`` as a task of the running host that outlives the caller's task."""
    try:
        host = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        trio.lowlevel.spawn_system_task(function, name="reactsse shared loop")
        return
    task = host.create_task(function(), name="reactsse shared loop")
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
