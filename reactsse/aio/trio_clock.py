"""``MonotonicClock``: trio's clock on ``time.monotonic``, for loops whose run() starts trio.

trio's default clock counts from a random offset (so that code mixing clocks fails early).
When ``AnyioLoop.run()`` starts trio itself, it passes this clock instead, so that the loop's
``now()`` reads the same scale inside and outside the host (asyncio's clock is
``time.monotonic`` already). Imported only when trio is used: trio is an optional dependency.
"""

from __future__ import annotations

import time

import trio

__all__ = ["MonotonicClock"]


class MonotonicClock(trio.abc.Clock):
    """``time.monotonic`` as a trio clock (``trio.abc.Clock``)."""

    def start_clock(self) -> None:
        """Nothing to start: the clock is the system's."""

    def current_time(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Real seconds until ``deadline`` (this clock runs at real speed)."""
        return deadline - time.monotonic()
