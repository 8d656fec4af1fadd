"""``GET /events``: the numbered demo stream that resumes from ``Last-Event-ID``.

Event N has ``id: N`` and ``data: event N``; the first of each connection carries ``retry:``.
With ``interval=0`` the events go as fast as the client reads (backpressure), otherwise they
are timed (a client that falls too far behind is dropped).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping

from reactsse.mock.faults import Fault, fault_stream, status_fault_reply
from reactsse.mock.options import MockOptions
from reactsse.server.app import BodyReply, Event, Reply, Request, error_reply

__all__ = ["events_reply", "numbered_events"]

#: Longest ``Last-Event-ID`` taken as one of our ids. Ours count events from 1, so they never
#: get this long; a longer one was not sent by us (and ``int()`` of thousands of digits is
#: slow, and refused past CPython's ``sys.get_int_max_str_digits()``).
MAX_ID_DIGITS = 18

#: Longest whole-number query value read: ``count`` and friends are counts and milliseconds.
MAX_QUERY_DIGITS = 18


def numbered_events(
    first: int, count: int | None, interval: float, retry_ms: int
) -> Iterator[Event]:
    """Events ``first``..``count`` (forever if ``count`` is None), ``interval`` s apart."""
    number = first
    sent = 0
    while count is None or number <= count:
        yield Event(
            f"event {number}",
            id=str(number),
            retry=retry_ms if sent == 0 else None,
            at=sent * interval,
        )
        number += 1
        sent += 1


def error_event(message: str) -> Event:
    """An injected error on ``/events``: ``event: error`` with the message as data."""
    return Event(data=message, event="error")


def query_number(
    query: Mapping[str, str], name: str, default: float | None, *, integer: bool
) -> float | BodyReply | None:
    """``?name=`` as a number >= 0 (``default`` when absent), or a 400 reply naming it."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        if integer and len(raw.strip()) > MAX_QUERY_DIGITS:
            raise ValueError(raw)  # bounded before int(): see MAX_QUERY_DIGITS
        value = float(int(raw)) if integer else float(raw)
    except ValueError:
        kind = f"a whole number of at most {MAX_QUERY_DIGITS} digits" if integer else "a number"
        return error_reply(400, f"?{name}= needs {kind}", "invalid_request_error", param=name)
    if not math.isfinite(value) or value < 0:
        return error_reply(400, f"?{name}= must be >= 0", "invalid_request_error", param=name)
    return value


def events_reply(request: Request, options: MockOptions, fault: Fault) -> Reply:
    """Answer ``GET /events?count=N&interval=S&drop_every=M&retry=MS``."""
    if fault.status is not None:
        return status_fault_reply(fault.status)
    query = request.query
    count = query_number(query, "count", None, integer=True)
    interval = query_number(query, "interval", options.events_interval, integer=False)
    drop_every = query_number(query, "drop_every", None, integer=True)
    retry = query_number(query, "retry", options.events_retry_ms, integer=True)
    for value in (count, interval, drop_every, retry):
        if isinstance(value, BodyReply):
            return value
    assert not isinstance(count, BodyReply) and not isinstance(interval, BodyReply)
    assert not isinstance(drop_every, BodyReply) and not isinstance(retry, BodyReply)
    last = request.headers.get("last-event-id", "").strip()
    # WHATWG §9.2: the client sends the last id it saw; ids here are 1, 2, 3 ... so resume
    # after it. Anything that is not our id starts again at 1: only ASCII digits (str.isdigit
    # also takes "²", which int() refuses), and no more of them than our ids can have.
    ours = last.isascii() and last.isdigit() and len(last) <= MAX_ID_DIGITS
    first = int(last) + 1 if ours else 1
    if count is not None and first > count:
        # WHATWG §9.2.3: a 204 tells an EventSource to stop reconnecting: nothing is left.
        return BodyReply(204, None)
    if drop_every and fault.disconnect_after is None:
        fault = dataclasses.replace(fault, disconnect_after=int(drop_every))
    events = numbered_events(
        first, None if count is None else int(count), interval or 0.0, int(retry or 0)
    )
    return fault_stream(events, fault, error_event, timed=bool(interval))
