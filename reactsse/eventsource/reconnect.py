"""``Reconnects``: when, and after how long, an ``EventSource`` connects again.

It holds what the decision needs across attempts (the failures in a row, the reconnection time
the server may change with ``retry:``) and the one timer of the WAITING phase; the rules
themselves are the pure functions of ``policy`` (docs/eventsource.md "Reconnection").
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.errors import ReactSSEError
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.policy import JITTER, is_retryable, reconnect_delay, retries_exhausted
from reactsse.loop import LoopInterface, TimerInterface

__all__ = ["Reconnects"]


class Reconnects:
    """The reconnect schedule of one source (``has_body``: its request has a body)."""

    __slots__ = ("_allowed", "_cap", "_loop", "_max_retries", "_timer", "failures", "retry")

    def __init__(self, loop: LoopInterface, options: EventSourceOptions, has_body: bool) -> None:
        self._loop = loop
        # A request with a body is re-sent only when asked: it may repeat a side effect.
        self._allowed = options.reconnect and (not has_body or options.reconnect_with_body)
        self._cap = options.max_reconnect_delay
        self._max_retries = options.max_retries
        self._timer: TimerInterface | None = None
        self.failures = 0
        """Attempts that failed in a row since the last successful open."""
        self.retry = options.retry
        """The reconnection time in seconds: the option, until the server sends ``retry:``."""

    def delay(
        self, error: ReactSSEError, *, clean_end: bool, retry_after: float | None
    ) -> float | None:
        """The wait before the next attempt after ``error`` (``clean_end``: an open stream
        ended), or ``None``: do not reconnect. ``retry_after``: the server's, if any."""
        if not self._allowed or not (clean_end or is_retryable(error)):
            return None
        if retries_exhausted(self.failures, self._max_retries):
            return None
        if retry_after is not None:
            return retry_after
        return reconnect_delay(self.retry, self.failures, self._cap, JITTER)

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
