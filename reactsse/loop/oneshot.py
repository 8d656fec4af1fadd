"""``OneShotTimer``: one timer that its owner arms, re-arms and cancels.

A connect attempt's share of the time, the whole connect timeout, a read or event watchdog and
a server connection's idle timeout each keep at most one timer pending, arm it, maybe arm it
again, and cancel it when the work ends. Written once here, the bookkeeping is the same
everywhere: the handle is forgotten when the timer fires or is cancelled, so ``armed`` says
whether a timer is pending and cancelling twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.loop.interface import LoopInterface, TimerInterface

__all__ = ["OneShotTimer"]


class OneShotTimer:
    """Calls ``callback()`` once, ``delay`` seconds after the last ``arm(delay)``, unless cancelled.

    At most one timer is pending: ``arm`` replaces the pending one. The callback may ``arm``
    again (when it runs, the timer that fired is already forgotten: ``armed`` is False).
    """

    __slots__ = ("_callback", "_loop", "_timer")

    def __init__(self, loop: LoopInterface, callback: Callable[[], object]) -> None:
        self._loop = loop
        self._callback = callback
        self._timer: TimerInterface | None = None

    @property
    def armed(self) -> bool:
        """Whether a timer is pending (armed, not yet fired nor cancelled)."""
        return self._timer is not None

    def arm(self, delay: float) -> None:
        """Fire ``delay`` seconds from now (the loop's clock); a pending timer is cancelled."""
        self.cancel()
        self._timer = self._loop.add_timer(delay, self._fire)

    def cancel(self) -> None:
        """Cancel the pending timer, if any; idempotent."""
        if self._timer is not None:
            self._loop.cancel_timer(self._timer)
            self._timer = None

    def _fire(self, _timer: TimerInterface) -> None:
        self._timer = None
        self._callback()
