"""``Reconnects``: when, and after how long, an ``EventSource`` connects again.

It holds what the decision needs across attempts (the failures in a row, the reconnects since the
backoff last reset, when the current stream opened, the reconnection time the server may change
with ``retry:``) and the one timer of the WAITING phase; the rules themselves are the pure
functions of ``policy`` (docs/eventsource.md "Reconnection").
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.errors import ReactSSEError
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.policy import (
    JITTER,
    backoff_resets,
    is_retryable,
    reconnect_delay,
    reconnect_floor,
    retries_exhausted,
)
from reactsse.loop import LoopInterface, TimerInterface

__all__ = ["Reconnects"]


class Reconnects:
    """The reconnect schedule of one source (``has_body``: its request has a body)."""

    __slots__ = (
        "_allowed",
        "_cap",
        "_loop",
        "_max_retries",
        "_minimum",
        "_opened_at",
        "_reset_after",
        "_streak",
        "_timer",
        "failures",
        "retry",
    )

    def __init__(self, loop: LoopInterface, options: EventSourceOptions, has_body: bool) -> None:
        self._loop = loop
        # A request with a body is re-sent only when asked: it may repeat a side effect.
        self._allowed = options.reconnect and (not has_body or options.reconnect_with_body)
        self._cap = options.max_reconnect_delay
        self._minimum = options.min_reconnect_delay
        self._reset_after = options.backoff_reset_after
        # Reconnects since the backoff last reset, and when the current stream opened (None:
        # not open): a stream that ends before backoff_reset_after seconds does not reset it.
        self._streak = 0
        self._opened_at: float | None = None
        self._max_retries = options.max_retries
        self._timer: TimerInterface | None = None
        self.failures = 0
        """Attempts that failed in a row since the last successful open."""
        self.retry = options.retry
        """The reconnection time in seconds: the option, until the server sends ``retry:``."""

    def opened(self) -> None:
        """A stream opened: the failures in a row start over (the backoff does not, yet)."""
        self.failures = 0
        self._opened_at = self._loop.now()

    def delay(
        self, error: ReactSSEError, *, clean_end: bool, retry_after: float | None
    ) -> float | None:
        """The wait before the next attempt after ``error`` (``clean_end``: an open stream
        ended), or ``None``: do not reconnect. ``retry_after``: the server's, if any."""
        opened_at, self._opened_at = self._opened_at, None
        if opened_at is None:
            self.failures += 1
        if not self._allowed or not (clean_end or is_retryable(error)):
            return None
        if retries_exhausted(self.failures, self._max_retries):
            return None
        uptime = 0.0 if opened_at is None else self._loop.now() - opened_at
        if backoff_resets(opened_at is not None, uptime, self._reset_after):
            self._streak = 0
        else:
            self._streak += 1
        floor = reconnect_floor(self.retry, retry_after, self._minimum)
        return reconnect_delay(floor, self._streak, self._cap, JITTER)

    def schedule(self, delay: float, callback: Callable[[], object]) -> None:
        """Call ``callback()`` after ``delay`` seconds, unless ``cancel()`` comes first."""
        self.cancel()

        def fire(_timer: TimerInterface) -> None:
            self._timer = None
            callback()

        self._timer = self._loop.add_timer(delay, fire)

    def cancel(self) -> None:
        """Stop the scheduled reconnect, if any; idempotent."""
        if self._timer is not None:
            self._loop.cancel_timer(self._timer)
            self._timer = None
