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

__all__ = ["RETRY_AFTER_CAP", "is_retryable", "parse_retry_after", "reconnect_delay"]

# A Retry-After longer than this is clamped (a day): honoured, but never "forever".
RETRY_AFTER_CAP = 86400.0

# The jitter's random numbers, shared by every EventSource: seeding a random.Random from
# os.urandom is not free, and every new source would pay it before its first event.
JITTER = random.Random()


def reconnect_delay(retry: float, failures: int, cap: float, rng: random.Random) -> float:
    """The wait before the next attempt, in seconds (docs/eventsource.md "Reconnection").

    ``retry`` is the reconnection time (the server's ``retry:``, else the option), ``failures``
    the attempts that failed in a row since the last successful open. After an open stream ends
    or breaks (``failures == 0``) the wait is exactly ``retry``, as WHATWG HTML §9.2.3 says.
    After ``n`` failures it is drawn uniformly ("full jitter") between ``retry`` (the floor: the
    server asked for at least that) and ``max(retry, min(cap, retry * 2**n))``.
    """
    if failures <= 0:
        return retry
    ceiling = max(retry, min(cap, retry * 2.0 ** min(failures, 60)))
    return rng.uniform(retry, ceiling)


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
