"""The reconnect policy as pure functions: the wait (backoff with jitter), ``Retry-After``, and
which failures are retried.

docs/eventsource.md ("Reconnection", "Errors") states the same rules for users.
"""

from __future__ import annotations

import email.utils
import random
from datetime import datetime, timezone

from reactsse.errors import (
    ContentTypeError,
    HTTPStatusError,
    ProxyError,
    Timeout,
    TLSError,
    TransportError,
)

__all__ = [
    "RETRY_AFTER_CAP",
    "backoff_resets",
    "is_retryable",
    "parse_retry_after",
    "reconnect_delay",
    "reconnect_floor",
]

# A Retry-After longer than this is clamped (a day): honoured, but never "forever".
RETRY_AFTER_CAP = 86400.0

# The jitter's random numbers, shared by every EventSource: seeding a random.Random from
# os.urandom is not free, and every new source would pay it before its first event.
JITTER = random.Random()


def reconnect_delay(retry: float, failures: int, cap: float, rng: random.Random) -> float:
    """The wait before the next attempt, in seconds (docs/eventsource.md "Reconnection").

    ``retry`` is the floor (``reconnect_floor``), ``failures`` the reconnects in a row since the
    backoff last reset (``backoff_resets``). After a stream that stayed open (``failures == 0``)
    the wait is exactly ``retry``, as WHATWG HTML §9.2.3 says. After ``n`` failures it is drawn
    uniformly ("full jitter") between ``retry`` (the floor: the server asked for at least that)
    and ``max(retry, min(cap, retry * 2**n))``.
    """
    if failures <= 0:
        return retry
    ceiling = max(retry, min(cap, retry * 2.0 ** min(failures, 60)))
    return rng.uniform(retry, ceiling)


def reconnect_floor(retry: float, retry_after: float | None, minimum: float) -> float:
    """The least wait before the next attempt: the server's ``Retry-After`` if it sent one, else
    the reconnection time ``retry``, and never below ``minimum`` (``min_reconnect_delay``).

    What the server says raises the floor of the backoff, never its ceiling: ``retry: 0`` or
    ``Retry-After: 0`` cannot make a client reconnect at once, again and again.
    """
    return max(minimum, retry if retry_after is None else retry_after)


def backoff_resets(was_open: bool, uptime: float, threshold: float) -> bool:
    """Whether the backoff starts over: only after a stream that stayed open ``threshold``
    seconds (``backoff_reset_after``). A stream that opens and ends at once is no success, or a
    server that accepts and closes in a loop would be reconnected to at the floor for ever
    (LaunchDarkly's production SSE client resets only after ``retry_delay_reset_threshold``,
    60 s by default: launchdarkly/python-eventsource, ``ld_eventsource/sse_client.py``)."""
    return was_open and uptime >= threshold


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; None if absent/invalid.

    The result is clamped to ``[0, RETRY_AFTER_CAP]``. ``now`` (default: the current UTC time)
    is what an HTTP-date is measured from.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if now is None:
        now = datetime.now(timezone.utc)
    seconds = (when - now).total_seconds()
    return min(max(0.0, seconds), RETRY_AFTER_CAP)


def is_retryable(error: Exception) -> bool:
    """Whether a failed attempt may be retried (docs/eventsource.md "Errors")."""
    if isinstance(error, HTTPStatusError):
        if isinstance(error, ContentTypeError):
            return False
        return error.status in (408, 429) or 500 <= error.status <= 599
    if isinstance(error, ProxyError):
        return error.retryable  # a 407 or 403 from the proxy does not fix itself
    if isinstance(error, TLSError):
        # A certificate that is not trusted, or names another host, does not fix itself.
        return False
    return isinstance(error, (TransportError, Timeout))


def retries_exhausted(failures: int, max_retries: int | None) -> bool:
    """Whether ``failures`` failed attempts in a row exceed ``max_retries`` (None: never)."""
    return max_retries is not None and failures > max_retries
