"""Timers: ``Timer`` (what ``add_timer`` returns) and ``Timers``, the schedule a loop keeps.

Port of reactphp/event-loop ``src/Timer/Timer.php`` and ``src/Timer/Timers.php``. ``Timers`` is an
internal building block shared by every loop implementation; only ``Timer`` objects reach users,
through the ``TimerInterface`` they implement.

ReactPHP keeps an array sorted with ``asort`` on every change; this port keeps a heap of
``(when, seq, timer)`` tuples and cancels lazily (after asyncio/base_events.py and
trio/_core/_run.py ``Deadlines``).

Invariants:

* an entry ``(when, seq, timer)`` of the heap is *live* exactly when ``timer._seq == seq``; every
  other entry is stale (its timer was cancelled) and is dropped when it reaches the top;
* a timer is scheduled on a ``Timers`` exactly when ``timer._owner`` is that ``Timers``, and then
  it has exactly one live entry; ``_active`` counts those timers;
* stale entries are ``len(heap) - _active``; when a cancel makes them most of a heap of more
  than 64 entries, it is rebuilt, so memory stays proportional to the most timers ever live at
  once, however many are added and cancelled.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from heapq import heapify, heappop, heappush

from reactsse.loop.interface import TimerInterface

__all__ = ["MIN_INTERVAL", "Timer", "Timers", "check_interval"]

#: ``Timer::MIN_INTERVAL`` (src/Timer/Timer.php): shorter intervals, zero and negative ones
#: included, are clamped to one microsecond.
MIN_INTERVAL = 0.000001

# Rebuild the heap only when it is this big and more than half stale: small heaps are cheap to
# carry, and rebuilding at "half stale" keeps the cost amortised O(1) per cancel.
_PRUNE_MIN = 64


def check_interval(interval: float) -> float:
    """Return ``interval`` as a float clamped to at least ``MIN_INTERVAL`` (ReactPHP's rule).

    Raises ``TypeError`` if ``interval`` is not a real number (``bool`` is rejected too) and
    ``ValueError`` if it is NaN. Infinity is accepted: such a timer never fires.
    """
    if type(interval) is not float:
        if type(interval) is int:  # the common ``add_timer(0, ...)``: skip the isinstance checks
            interval = float(interval)
        elif isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError(f"timer interval must be a number of seconds, not {interval!r}")
        else:
            interval = float(interval)
    if interval != interval:  # NaN is the only float not equal to itself
        raise ValueError("timer interval must not be NaN")
    return interval if interval >= MIN_INTERVAL else MIN_INTERVAL


class Timer(TimerInterface):
    """A timer of a loop: the object ``add_timer``/``add_periodic_timer`` return.

    Its callback is called with the timer itself. Create timers through a loop, not directly.
    """

    __slots__ = ("_callback", "_interval", "_owner", "_periodic", "_seq")

    def __init__(
        self, interval: float, callback: Callable[[TimerInterface], object], periodic: bool
    ) -> None:
        if not callable(callback):
            raise TypeError(f"timer callback must be callable, not {callback!r}")
        self._interval = check_interval(interval)
        self._callback = callback
        self._periodic = periodic
        self._seq = -1  # the seq of this timer's live heap entry; -1 when not scheduled
        self._owner: Timers | None = None

    @property
    def interval(self) -> float:
        """The interval in seconds, as a float of at least 1 µs."""
        return self._interval

    @property
    def callback(self) -> Callable[[TimerInterface], object]:
        """The callback, called with this timer."""
        return self._callback

    @property
    def is_periodic(self) -> bool:
        """True for a timer made by ``add_periodic_timer``."""
        return self._periodic

    def __repr__(self) -> str:
        kind = "periodic" if self._periodic else "once"
        state = "scheduled" if self._owner is not None else "idle"
        return f"<Timer {kind} every {self._interval!r}s {state} {self._callback!r}>"


class Timers:
    """The timers of one loop, in a heap ordered by due time, then by insertion order.

    ``tick()`` runs every timer that is strictly past due at the start of the call
    (``Timers::tick``: ``$scheduled >= $time`` ends the pass); the clock is ``time.monotonic()``
    unless another is given.
    """

    __slots__ = ("_active", "_clock", "_counter", "heap", "time")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` returns seconds; only tests pass another one than ``time.monotonic``."""
        #: ``(due, insertion number, timer)`` entries, cancelled ones included until pruned.
        #: Only this class changes it; the loop's hot path tests its truth.
        self.heap: list[tuple[float, int, Timer]] = []
        self._counter = itertools.count()
        self._active = 0
        self._clock = clock
        #: the clock value at the start of the last ``tick()`` (``Timers::getTime``).
        self.time = clock()

    def add(self, timer: Timer) -> Timer:
        """Schedule ``timer`` for ``interval`` seconds from now (``Timers::add``); returns it."""
        seq = next(self._counter)
        timer._seq = seq
        timer._owner = self
        self._active += 1
        heappush(self.heap, (self._clock() + timer._interval, seq, timer))
        return timer

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Read the time from ``clock`` from now on, keeping every timer's remaining wait.

        A loop hosted by another event loop schedules on the host's clock while the host runs
        and on ``time.monotonic`` otherwise; the two may count from different origins (trio's
        clock starts at a random offset). Every due time moves by the difference between the
        clocks, read back to back, so the heap order is unchanged. The same clock is a no-op.
        """
        old = self._clock
        if clock is old:
            return
        shift = clock() - old()
        self._clock = clock
        if shift:
            # In place, and order-preserving: every entry moves by the same amount.
            self.heap[:] = [(when + shift, seq, timer) for when, seq, timer in self.heap]
            self.time += shift

    def contains(self, timer: TimerInterface) -> bool:
        """Whether ``timer`` is scheduled here (not yet fired if one-shot, not cancelled)."""
        return isinstance(timer, Timer) and timer._owner is self

    def cancel(self, timer: TimerInterface) -> None:
        """Unschedule ``timer``; a timer that is not scheduled here is ignored."""
        if not isinstance(timer, Timer) or timer._owner is not self:
            return
        timer._owner = None
        timer._seq = -1  # its heap entry is stale from now on
        self._active -= 1
        heap = self.heap
        if len(heap) > _PRUNE_MIN and self._active * 2 < len(heap):
            # In place: tick() may be iterating this very list (a callback that cancels).
            heap[:] = [entry for entry in heap if entry[2]._seq == entry[1]]
            heapify(heap)

    def is_empty(self) -> bool:
        """True when no timer is scheduled."""
        return self._active == 0

    def get_first(self) -> float | None:
        """The due time of the next timer (``time.monotonic()`` scale), or None if there is none."""
        heap = self.heap
        while heap:
            when, seq, timer = heap[0]
            if timer._seq == seq:
                return when
            heappop(heap)  # a cancelled timer's entry: drop it now that it is on top
        return None

    def tick(self) -> None:
        """Call every timer strictly past due, in due order (``Timers::tick``).

        A timer added or rescheduled by a callback is due after the time taken at the start of
        this call (its interval is at least 1 µs), so it never runs in the same pass: a chain of
        zero-interval timers cannot starve I/O. A timer cancelled by an earlier callback of the
        same pass is skipped. An exception from a callback propagates; the timers not yet called
        stay scheduled.
        """
        heap = self.heap
        if not heap:
            return
        now = self.time = self._clock()
        while heap:
            entry = heap[0]
            if entry[0] >= now:
                break
            heappop(heap)
            timer = entry[2]
            if timer._seq != entry[1]:
                continue  # cancelled earlier: a stale entry
            if timer._periodic:
                # Reschedule from this pass's time: fixed delay, drift, no catch-up burst
                # (Timers.php `$timer->getInterval() + $time`). Done before the call so that an
                # exception leaves the timer scheduled one interval later (see "Deviations").
                seq = next(self._counter)
                timer._seq = seq
                heappush(heap, (timer._interval + now, seq, timer))
            else:
                # A one-shot timer is unscheduled before its callback runs, so it runs once even
                # when the callback raises (ReactPHP would run it again: see "Deviations").
                timer._seq = -1
                timer._owner = None
                self._active -= 1
            timer._callback(timer)

    def clear(self) -> None:
        """Unschedule every timer."""
        for _when, seq, timer in self.heap:
            if timer._seq == seq:
                timer._seq = -1
                timer._owner = None
        self.heap.clear()
        self._active = 0
