"""Injected faults: the ``X-Reactsse-Fault`` header (and ``MockOptions.fault``) and their effect.

``error-after`` is carried out here, in the events themselves (N events, then the API's error
event, then the end); ``disconnect-after`` and ``stall-after`` are asked of the server through
:class:`~reactsse.server.app.EventStream`'s fields of the same names; ``status`` is a whole
error reply instead of the work.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from reactsse.mock.common import JSONObject
from reactsse.server.app import BodyReply, Event, EventStream, Reply, error_reply

__all__ = ["Fault", "fault_stream", "parse_fault", "status_fault_reply", "whole_reply"]

ERROR_MESSAGE = "Injected fault: error mid-stream."


@dataclass(frozen=True)
class Fault:
    """Injected faults: the ``*_after`` fields count events; ``status`` is an HTTP status."""

    error_after: int | None = None
    disconnect_after: int | None = None
    stall_after: int | None = None
    status: int | None = None

    @property
    def counts_events(self) -> bool:
        """True when a threshold counts a stream's events (error, disconnect or stall after N)."""
        return any(
            n is not None for n in (self.error_after, self.disconnect_after, self.stall_after)
        )

    def merged(self, other: Fault) -> Fault:
        """``other``'s settings win where set (a request header over the server's default)."""
        return Fault(
            **{
                f.name: getattr(other, f.name)
                if getattr(other, f.name) is not None
                else getattr(self, f.name)
                for f in dataclasses.fields(self)
            }
        )


_FAULT_KEYS = ("error-after", "disconnect-after", "stall-after", "status")


def parse_fault(spec: str) -> Fault:
    """Parse ``"error-after=3, disconnect-after=5, status=429"`` (``,`` or ``;`` separated).

    ``error-after=N``: after N events the stream sends an error event and ends.
    ``disconnect-after=N``: after N events the TCP connection is closed without ending the
    response. ``stall-after=N``: after N events nothing more is sent but keep-alive comments
    (for clients' event timeouts). ``status=CODE``: answer CODE (400..599) with an OpenAI-style
    error body instead. Raises ``ValueError`` for anything else.
    """
    values: dict[str, int] = {}
    for item in re.split(r"[,;]", spec):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in _FAULT_KEYS:
            raise ValueError(
                f"unknown fault {item!r}; use "
                + ", ".join(f"{k}=N" for k in _FAULT_KEYS).replace("status=N", "status=CODE")
            )
        try:
            number = int(raw.strip())
        except ValueError:
            raise ValueError(f"fault {key} needs an integer, not {raw.strip()!r}") from None
        if number < 0 or (key == "status" and not 400 <= number <= 599):
            raise ValueError(f"fault {key}={number} is out of range")
        values[key.replace("-", "_")] = number
    return Fault(**values)


def status_fault_reply(status: int) -> BodyReply:
    """The error reply of a ``status=CODE`` fault."""
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    if status == 429:
        type_ = "rate_limit_exceeded"  # what the API sends for rate limits (code too)
        return error_reply(status, "Injected fault: rate limit reached.", type_, code=type_)
    return error_reply(status, f"Injected fault: status {status}.", type_)


def whole_reply(body: JSONObject, fault: Fault) -> Reply:
    """A non-stream reply; an ``error-after`` fault makes it a 500 (there are no events)."""
    if fault.error_after is not None:
        return error_reply(500, "Injected fault: error.", "server_error")
    return BodyReply(200, body)


def fault_stream(
    events: Iterator[Event],
    fault: Fault,
    error_event: Callable[[str], Event],
    *,
    timed: bool,
) -> EventStream:
    """``events`` as a stream with ``fault``'s first threshold applied.

    Only the first threshold reached can act (each ends or silences the stream); on a tie,
    error wins over disconnect, which wins over stall. ``error_event(message)`` builds the
    API's error event once the events before it are sent.
    """
    thresholds = (fault.error_after, fault.disconnect_after, fault.stall_after)
    first = min((n for n in thresholds if n is not None), default=None)
    if first is None:
        return EventStream(events, timed=timed)
    if fault.error_after == first:
        return EventStream(_error_after(events, first, error_event), timed=timed)
    if fault.disconnect_after == first:
        return EventStream(events, timed=timed, disconnect_after=first)
    return EventStream(events, timed=timed, stall_after=first)


def _error_after(
    events: Iterator[Event], count: int, error_event: Callable[[str], Event]
) -> Iterator[Event]:
    """The first ``count`` events, then the error event (if there were that many)."""
    try:
        sent = 0
        for event in itertools.islice(events, count):
            sent += 1
            yield event
        if sent == count:
            yield error_event(ERROR_MESSAGE)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
