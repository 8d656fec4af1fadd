"""The data types of the event stream: what the decoder returns and what ``trace`` receives.

``MessageEvent`` is a dispatched event (WHATWG HTML §9.2.6 "dispatch the event"). ``Comment``,
``Field`` and ``Dispatch`` are the three interpretations of one line, ``Line`` their union.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

__all__ = ["Comment", "Dispatch", "Field", "Line", "MessageEvent"]


class MessageEvent(NamedTuple):
    """One dispatched event (WHATWG §9.2.6 "dispatch the event"); immutable and cheap.

    ``type`` is the ``event:`` field's value, ``"message"`` when the block had none (or an empty
    one); ``data`` the ``data:`` lines joined by LF; ``last_event_id`` the stream's last event ID
    when the event was dispatched (``id:`` persists across events). Construct with keywords:
    ``MessageEvent(data="x")``.
    """

    type: str = "message"
    data: str = ""
    last_event_id: str = ""


class Comment(NamedTuple):
    """A comment line (``:`` then ``text``); never an event, but keep-alives are comments."""

    text: str


class Field(NamedTuple):
    """A field line: ``name`` and ``value`` as the decoder interprets them, ``line`` as received.

    Unknown names are reported too (and then ignored by the decoder). A line without a colon is
    a field with an empty value.
    """

    name: str
    value: str
    line: str


class Dispatch(NamedTuple):
    """A blank line: ``event`` is the ``MessageEvent`` it fired, ``None`` when the block had no
    data (nothing is fired, but the event type is reset and ``last_event_id`` updated)."""

    event: MessageEvent | None


#: One line of the stream as the decoder interpreted it: what ``trace`` receives, once per line.
Line: TypeAlias = Comment | Field | Dispatch
