"""Virtual time for tests: ``VirtualClock`` and ``VirtualTimeLoop``.

A timeout test on a real clock has to wait the timeout out and then assert a window such as
``0.45 <= elapsed < 1.0``, which a loaded machine breaks. trio's ``MockClock`` (trio/_core/
_mock_clock.py) shows the way out: the loop reads a clock that only moves when told to, and it
"autojumps" that clock to the next timer whenever the program is idle, i.e. when nothing would
happen before that timer anyway. Tests then assert exact virtual times and finish at once.

``VirtualTimeLoop`` is a ``StreamSelectLoop`` with exactly that change to step 4 of an iteration:

* real I/O is still real: streams are selected as usual, only with the wait cut to
  ``autojump_threshold`` real seconds;
* when that wait ends with no stream ready, no future tick queued, no signal pending and the loop
  not stopped, the clock jumps to just past the first timer's due time, so that timer runs in the
  next iteration (``Timers.tick`` runs timers *strictly* past due);
* with no stream to watch, the "sleep" until the next timer is the same jump, without waiting.

The threshold is what keeps this honest with real sockets: a peer in another thread (a test
server) gets that much real time to answer before the loop decides it is idle. On loopback a
reply that has been sent is readable at once, so the default is generous.
"""

from __future__ import annotations

import math
import selectors
from collections.abc import Callable

from reactsse.loop.select_loop import StreamSelectLoop

__all__ = ["VirtualClock", "VirtualTimeLoop"]

_Ready = list[tuple[selectors.SelectorKey, int]]


class VirtualClock:
    """A monotonic clock that moves only when told to; call it to read the time (seconds)."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never backwards: ``ValueError``)."""
        if not seconds >= 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        self._now += seconds

    def jump_to(self, when: float) -> None:
        """Move the clock forward to ``when``; a time already past is ignored."""
        if when > self._now:
            self._now = when

    def __repr__(self) -> str:
        return f"<VirtualClock at {self._now!r}s>"


class VirtualTimeLoop(StreamSelectLoop):
    """A ``StreamSelectLoop`` on a ``VirtualClock`` that jumps to the next timer when idle.

    ``loop.clock`` is the clock, for tests that want to move it by hand. Everything else is
    ``StreamSelectLoop``: it passes the same contract suite.
    """

    # A virtual wait is a jump, so there is no reason to poll instead of waiting.
    _spin_below = 0.0

    def __init__(
        self, clock: VirtualClock | None = None, *, autojump_threshold: float = 0.05
    ) -> None:
        """``autojump_threshold``: real seconds of no I/O after which the clock may jump."""
        if not autojump_threshold >= 0:
            raise ValueError(f"autojump_threshold must be >= 0, not {autojump_threshold!r}")
        self.clock = clock if clock is not None else VirtualClock()
        self._autojump_threshold = autojump_threshold
        super().__init__(self.clock)

    def _idle(self) -> bool:
        """Nothing is due before the first timer: no tick, no signal, no stop pending."""
        return self._running and not self._ticks.queue and not self._signals.pending

    def _jump_to_first_timer(self) -> None:
        first = self._timers.get_first()
        if first is not None:
            self.clock.jump_to(math.nextafter(first, math.inf))

    def _waiter(self) -> Callable[[float | None], _Ready]:
        select = self._selector.select
        threshold = self._autojump_threshold

        def virtual_select(timeout: float | None) -> _Ready:
            if timeout is None:
                return select(None)  # no timer at all: only real I/O can happen
            ready = select(min(timeout, threshold) if self._idle() else 0.0)
            if not ready and self._idle():
                self._jump_to_first_timer()
            return ready

        return virtual_select

    def _sleep(self, timeout: float) -> None:
        self._jump_to_first_timer()
