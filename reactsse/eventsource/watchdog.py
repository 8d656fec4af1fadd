"""``Watchdog``: "nothing happened for ``timeout`` seconds", with one timer re-armed lazily.

A happening costs one clock read stored in ``last`` (no timer cancelled and added per read or per
event: timers are cheap to add, but not free). When the timer fires it compares ``last`` with
the clock and either re-arms itself for the time left or reports the timeout. ``EventSource``
uses one for the read timeout and one for the event timeout.
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.loop import LoopInterface, OneShotTimer

__all__ = ["Watchdog", "optional_watchdog"]

# A timer may fire a little early; within this margin the timeout counts as reached.
_SLACK = 0.0005


class Watchdog:
    """Calls ``on_timeout()`` once nothing touched ``last`` for ``timeout`` seconds."""

    __slots__ = ("_loop", "_on_timeout", "_timer", "last", "timeout")

    def __init__(self, loop: LoopInterface, timeout: float, on_timeout: Callable[[], None]) -> None:
        self._loop = loop
        self.timeout = timeout
        self._on_timeout = on_timeout
        self._timer = OneShotTimer(loop, self._check)
        self.last = 0.0
        """The loop's clock (``loop.now()``) at the last happening: set it on each one."""

    @property
    def running(self) -> bool:
        """Whether the watchdog is armed (between ``start()`` and ``stop()`` or the timeout)."""
        return self._timer.armed

    def start(self) -> None:
        """Arm it from now; a running watchdog is restarted."""
        self.last = self._loop.now()
        self._timer.arm(self.timeout)

    def stop(self) -> None:
        """Disarm it; idempotent."""
        self._timer.cancel()

    def _check(self) -> None:
        idle = self._loop.now() - self.last
        if idle + _SLACK < self.timeout:
            self._timer.arm(self.timeout - idle)
            return
        self._on_timeout()


def optional_watchdog(
    loop: LoopInterface, timeout: float | None, on_timeout: Callable[[], None]
) -> Watchdog | None:
    """A ``Watchdog`` for ``timeout`` seconds, or ``None`` when there is no timeout."""
    return None if timeout is None else Watchdog(loop, timeout, on_timeout)
