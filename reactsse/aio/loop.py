"""``AnyioLoop``: ReactPHP's ``LoopInterface`` hosted by a running anyio event loop.

Code written for the ReactPHP-style loop (``EventSource``, ``SSEServer``, the OpenAI client,
user listeners) runs unchanged inside an asyncio or trio program: the loop's iteration runs in
one task of the host, and waits in the host instead of blocking the thread.

How one iteration maps onto the host (the numbering of ``StreamSelectLoop``'s docstring):

1. and 2. the future ticks, then the timers strictly past due: the same ``FutureTickQueue`` and
   ``Timers`` as ``StreamSelectLoop``, run by the loop's task (one task for all timers and
   ticks, not one host timer or callback each);
3. the timeout: the same rule;
4. the wait is done in the host: the streams are registered with the loop's own selector (epoll,
   kqueue), exactly as in ``StreamSelectLoop``, and the task waits until that selector's own
   descriptor is readable, the timeout passes, a signal arrives or another task of the host
   gives the loop work (``reactsse/aio/waiters.py``: asyncio's ``add_reader``, registered once
   per run, on asyncio hosts; ``anyio.wait_readable`` on trio); then it selects with a zero
   timeout and dispatches signals, readers and writers exactly as ``StreamSelectLoop`` does.
   With a zero timeout it still yields to the host once (a checkpoint), so a chain of ticks or
   zero timers cannot starve the host's other tasks.

Why a selector inside the host rather than one host registration per stream: the host watches one
descriptor whatever the number of streams, an iteration stays O(ready), the dispatch order and
the "looked up again before each call" rule are ``StreamSelectLoop``'s own code, and the same
code serves both backends (trio has no reader callbacks: one task per stream would be needed).
``bench/aio_loop.py`` compares the waits (docs/loop.md, "Embedding").

``AnyioLoop`` is a ``StreamSelectLoop`` whose ``run()`` is replaced: the stream tables, timers,
ticks and dispatch are inherited, as ``VirtualTimeLoop`` inherits them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.lowlevel

from reactsse.aio.signals import HostSignals
from reactsse.aio.waiters import AnyioWaiter, AsyncioWaiter
from reactsse.loop.interface import Stream, TimerInterface
from reactsse.loop.select_loop import StreamSelectLoop, timer_wait
from reactsse.loop.timer import Timer

__all__ = ["AnyioLoop"]

_BACKENDS = ("asyncio", "trio")

# Ready streams dispatched between two yields to the host. One socket read of an SSE stream
# can be 64 KiB of events to decode and deliver; with hundreds of streams ready at once, one
# uninterrupted dispatch would hold the host for tens of milliseconds, so the other tasks of
# the host (and the consumers of the events) get a turn after each slice.
_DISPATCH_SLICE = 16


def _host_clock() -> Callable[[], float]:
    """The clock of the running host, as a function (the loop schedules its timers on it)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _trio_clock()
    # asyncio's own loop.time() is time.monotonic(); uvloop's is the same clock truncated to
    # milliseconds, too coarse for 1 µs timers: read time.monotonic at full resolution instead.
    if type(loop).time is asyncio.BaseEventLoop.time or type(loop).__module__.startswith("uvloop"):
        return time.monotonic
    return loop.time  # another asyncio loop with a clock of its own


def _running_host_clock() -> Callable[[], float] | None:
    """The clock of the host running in this thread, or None outside any host."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        trio = sys.modules.get("trio")
        if trio is None:
            return None
        try:
            trio.lowlevel.current_clock()
        except RuntimeError:
            return None
    return _host_clock()


def _trio_clock() -> Callable[[], float]:
    import trio

    from reactsse.aio.trio_clock import MonotonicClock

    clock = trio.lowlevel.current_clock()
    if isinstance(clock, MonotonicClock):
        return time.monotonic  # the same readings, without trio's lookup per call
    return clock.current_time


class AnyioLoop(StreamSelectLoop):
    """A ``LoopInterface`` whose iterations run in a task of an anyio host (asyncio or trio).

    Synchronous code uses it like any loop: ``run()`` starts the backend itself, runs until
    nothing is left to do (or ``stop()``), and returns::

        loop = AnyioLoop()                  # asyncio; AnyioLoop("trio") for trio
        source = EventSource(url, loop=loop)
        ...
        loop.run()

    Inside a running host, await ``run_async()`` instead; the other tasks of the host keep
    running while the loop waits, and they may call the loop (it is woken at once)::

        async def main() -> None:
            loop = AnyioLoop()
            source = EventSource(url, loop=loop)
            ...
            await loop.run_async()

        anyio.run(main)                     # or asyncio.run(main()), trio.run(main)

    ``now()`` is the host's clock while the host runs (``anyio.current_time()``; for uvloop
    ``time.monotonic()`` at full resolution) and ``time.monotonic()`` otherwise; timers keep
    their remaining wait across the change, but a time a listener kept (a connect deadline, a
    read watchdog) does not: on trio, whose clock has an origin of its own, create the loop
    inside the host (it then keeps the host's clock for good), or add work only once inside.
    Cancelling the task that awaits ``run_async()``
    ends the run like an exception from a listener would: nothing stays registered with the
    host, and the loop's own streams, timers and ticks stay for the next run.

    Not thread-safe, like every loop here: call it from the host's thread (or through a
    ``ThreadWaker``).
    """

    def __init__(
        self, backend: str = "asyncio", *, backend_options: Mapping[str, Any] | None = None
    ) -> None:
        """``backend``: what ``run()`` starts, "asyncio" or "trio"; ``backend_options`` go to
        ``anyio.run`` (e.g. ``{"use_uvloop": True}``). ``run_async()`` uses whatever host runs.

        Raises ``ValueError`` for another backend and ``RuntimeError`` where the selector has no
        descriptor of its own to wait on (Windows' select()).
        """
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, not {backend!r}")
        super().__init__(time.monotonic)
        fileno = getattr(self._selector, "fileno", None)
        if fileno is None:
            self._selector.close()
            raise RuntimeError("AnyioLoop needs a selector with a descriptor (epoll, kqueue)")
        self._selector_fd: int = fileno()
        self._backend = backend
        self._backend_options = dict(backend_options or {})
        self._host_signals = HostSignals(self._wake)
        self._host_wait: AnyioWaiter | AsyncioWaiter = AnyioWaiter(self._selector_fd)
        # Created inside a host: its clock from the start, and for good. Times that listeners
        # keep (a connect deadline, a watchdog's last reading) stay on one clock even where the
        # host's clock is not time.monotonic (trio's counts from a random origin).
        self._pinned_clock: Callable[[], float] | None = _running_host_clock()
        if self._pinned_clock is not None:
            self._set_clock(self._pinned_clock)

    # -- work from other tasks of the host wakes the loop's wait --------------------------------

    #: On asyncio hosts, wait through the host's own add_reader (see reactsse/aio/waiters.py).
    _asyncio_native_wait = True
    #: Ready streams dispatched between two yields to the host (a subclass may choose fewer).
    _dispatch_slice = _DISPATCH_SLICE

    def _wake(self) -> None:
        # The methods a stream may call per event (adding a stream, a one-shot timer, a tick)
        # inline these three lines rather than pay for this call.
        waking = self._host_wait.waking
        if waking is not None:
            waking()

    def add_read_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """See ``StreamSelectLoop.add_read_stream``."""
        self._add_stream(stream, listener, reading=True)
        waking = self._host_wait.waking
        if waking is not None:
            waking()

    def add_write_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """See ``StreamSelectLoop.add_write_stream``."""
        self._add_stream(stream, listener, reading=False)
        waking = self._host_wait.waking
        if waking is not None:
            waking()

    def add_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """See ``StreamSelectLoop.add_timer``."""
        timer = Timer(interval, callback, False)
        self._timers.add(timer)
        waking = self._host_wait.waking
        if waking is not None:
            waking()
        return timer

    def add_periodic_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """See ``StreamSelectLoop.add_periodic_timer``."""
        timer = Timer(interval, callback, True)
        self._timers.add(timer)
        self._wake()
        return timer

    def future_tick(self, listener: Callable[[], object]) -> None:
        """See ``StreamSelectLoop.future_tick``."""
        if not callable(listener):
            raise TypeError(f"tick listener must be callable, not {listener!r}")
        self._ticks.add(listener)
        waking = self._host_wait.waking
        if waking is not None:
            waking()

    # -- signals: anyio's receivers, not the process' wake-up descriptor --------------------------

    def add_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """See ``LoopInterface.add_signal`` (same errors as ``StreamSelectLoop``'s)."""
        self._host_signals.add(signal, listener)

    def remove_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """See ``LoopInterface.remove_signal``."""
        self._host_signals.remove(signal, listener)

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Start the backend, run until nothing is left to do or ``stop()``, stop the backend.

        Call it outside any async context; inside a host, ``await run_async()``. Raises
        ``RuntimeError`` if the loop is already running; a listener's exception propagates
        unwrapped and the remaining work stays queued for the next run.
        """
        if self._running:
            raise RuntimeError("run() called while the loop is already running")
        options = dict(self._backend_options)
        if self._backend == "trio" and "clock" not in options:
            from reactsse.aio.trio_clock import MonotonicClock

            options["clock"] = MonotonicClock()
        anyio.run(self.run_async, backend=self._backend, backend_options=options)

    async def run_async(self) -> None:
        """``run()`` inside a running host (asyncio or trio, through anyio).

        Same meaning as ``run()``. Cancelling the awaiting task ends the run: the signal
        watchers end (restoring the handlers) and nothing stays registered with the host.
        """
        if self._running:
            raise RuntimeError("run_async() called while the loop is already running")
        self._running = True
        self._set_clock(self._pinned_clock or _host_clock())
        self._host_wait = waiter = self._new_waiter()
        error: BaseException | None = None
        try:
            waiter.open()
            async with anyio.create_task_group() as task_group:
                try:
                    await self._host_signals.start(task_group)
                    await self._iterate()
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as exc:  # a listener's: the task group would wrap it
                    error = exc
                finally:
                    self._host_signals.stop()
                    task_group.cancel_scope.cancel()
        finally:
            self._running = False
            waiter.close()
            self._set_clock(self._pinned_clock or time.monotonic)
        if error is not None:
            try:
                raise error
            finally:
                del error  # no reference cycle through the traceback

    def _new_waiter(self) -> AnyioWaiter | AsyncioWaiter:
        if self._asyncio_native_wait:
            try:
                return AsyncioWaiter(self._selector_fd, asyncio.get_running_loop())
            except RuntimeError:  # not asyncio: trio
                pass
        return AnyioWaiter(self._selector_fd)

    def _set_clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._timers.set_clock(clock)

    async def _iterate(self) -> None:
        """The iteration of ``StreamSelectLoop.run``, with step 4 waiting in the host."""
        ticks = self._ticks
        timers = self._timers
        signals = self._host_signals
        pending_signals = signals.pending
        watches = self._watches
        select = self._selector.select
        clock = self._clock
        spin_below = self._spin_below
        checkpoint = anyio.lowlevel.checkpoint
        wait = self._host_wait.wait
        dispatch_slice = self._dispatch_slice
        while self._running:
            # 1. Future ticks queued before this point; 2. timers strictly past due.
            if len(ticks):
                ticks.tick()
            if not timers.is_empty():
                timers.tick()
            # 3. The timeout.
            timeout: float | None
            if not self._running or len(ticks) or pending_signals:
                timeout = 0.0
            else:
                first = timers.get_first()
                if first is not None:
                    timeout = timer_wait(first - clock(), spin_below)
                elif watches or not signals.is_empty():
                    timeout = None
                else:
                    break  # nothing left to do: no tick, timer, stream or signal
            # 4. Wait in the host (always yielding to its other tasks), select, dispatch.
            if timeout == 0.0:
                await checkpoint()
            else:
                await wait(timeout, bool(watches))
            ready = select(0) if watches else None
            if pending_signals:
                signals.dispatch()
            if ready:
                if len(ready) <= dispatch_slice:
                    self._dispatch(ready)
                else:
                    for start in range(0, len(ready), dispatch_slice):
                        if start:
                            await checkpoint()
                        self._dispatch(ready[start : start + dispatch_slice])

    def stop(self) -> None:
        """See ``LoopInterface.stop``; from another task of the host, it also ends the wait."""
        self._running = False
        self._wake()

    def close(self) -> None:
        """Release the selector and restore every signal handler (see ``StreamSelectLoop``)."""
        if not self._running:
            self._host_signals.clear()
        super().close()
