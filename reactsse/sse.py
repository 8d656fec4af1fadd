"""The ``text/event-stream`` format, sans-IO: bytes in, events out (WHATWG HTML §9.2.5–9.2.6).

``EventStreamDecoder`` turns the bytes of an event stream, fed in chunks of any size, into
``MessageEvent`` objects; ``encode_event`` and ``encode_comment`` produce the bytes a server
sends. This module owns no socket, clock, loop or thread (house rule 1): any loop can drive it.

The decoder works in three stages, which ``trace`` (and ``python -m reactsse.sse``) make visible:

1. bytes → text → lines: the stream is UTF-8 (§9.2.5), decoded incrementally with replacement;
   one leading BOM is dropped; lines end in CRLF, LF or a lone CR, and in nothing else.
2. lines → ``Comment`` / ``Field``: a line starting with ``:`` is a comment; otherwise the name
   is the text before the first colon and the value the text after it, minus one leading space.
3. fields → events: a blank line dispatches (``Dispatch``) the block's data as a ``MessageEvent``.

Invariants of the decoder (its state machine is ``_State``: START → OPEN → CLOSED or FAILED):

* ``_parts`` holds the unterminated last line (never containing a line ending), ``_utf8_tail``
  the at most 3 bytes of a character cut by the end of a chunk, ``_skip_lf`` whether the text
  seen so far ended in a CR whose LF (if it comes) belongs to the same line ending.
* ``_data`` holds the block's data lines (a block dispatches an event iff it is non-empty),
  ``_data_size`` their total length plus one LF each; ``_data_size`` plus the length of the
  unterminated line never exceeds ``max_event_size`` (else ``EventTooLarge``).
* Every event completed by a ``feed`` is returned by that ``feed``: a line ending in a lone CR
  is complete at once (a following LF is skipped when it arrives), so nothing is ever delayed.
"""

from __future__ import annotations

import codecs
import enum
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from reactsse.errors import EventTooLarge, LocalProtocolError

__all__ = [
    "Comment",
    "Dispatch",
    "EventStreamDecoder",
    "Field",
    "Line",
    "MessageEvent",
    "encode_comment",
    "encode_event",
]


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

_MAX_RETRY = 2**31 - 1
"""Reconnection times are clamped to this (ms, ~24.8 days): the spec sets no upper bound, and
browsers' timers clamp at 2**31 - 1 ms (HTML timers); also keeps ``int()`` off huge strings."""

_new_event = tuple.__new__  # MessageEvent(...) runs a Python __new__; this builds it in C.
_utf8_decode = codecs.utf_8_decode  # (bytes, errors, final) -> (str, consumed); what the
# incremental decoder calls, without its Python wrapper.


class _State(enum.Enum):
    START = "start"  # nothing decoded yet: a leading BOM is still to be dropped
    OPEN = "open"
    CLOSED = "closed"  # close() was called
    FAILED = "failed"  # EventTooLarge was raised; the stream cannot be resynchronised


class EventStreamDecoder:
    """Incremental decoder of a ``text/event-stream`` body (WHATWG HTML §9.2.5–9.2.6).

    ``max_event_size`` bounds the memory a peer can make the decoder hold: the data of one event
    plus its unterminated line, in characters (each at least one byte), and any single line.
    ``trace``, when given, is called with each line's interpretation (``Comment``, ``Field``,
    ``Dispatch``) as it happens. ``last_event_id`` starts a reconnecting client from the
    previous ID.

    Readable at any time: ``last_event_id`` (as of the last blank line, what a reconnecting
    client sends as ``Last-Event-ID``), ``retry`` (the reconnection time in ms, ``None`` until a
    valid ``retry:`` field), ``comments_seen`` (number of comment lines so far: a client can tell
    that bytes arrived but only keep-alive comments).
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event_type",
        "_id_buffer",
        "_max_event_size",
        "_parts",
        "_pending_size",
        "_skip_lf",
        "_state",
        "_trace",
        "_utf8_tail",
        "comments_seen",
        "last_event_id",
        "retry",
    )

    def __init__(
        self,
        *,
        max_event_size: int = 8 * 1024 * 1024,
        trace: Callable[[Line], None] | None = None,
        last_event_id: str = "",
    ) -> None:
        if max_event_size < 1:
            raise ValueError(f"max_event_size must be positive, not {max_event_size}")
        self._max_event_size = max_event_size
        self._trace = trace
        self._state = _State.START
        self._utf8_tail = b""
        self._skip_lf = False
        self._parts: list[str] = []
        self._pending_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self.last_event_id: str = last_event_id
        self.retry: int | None = None
        self.comments_seen = 0

    def feed(self, data: bytes) -> list[MessageEvent]:
        """Decode ``data`` (the next bytes of the stream); return every event it completes.

        Raises ``EventTooLarge`` (``limit`` = ``max_event_size``, ``events`` = the events this
        call completed before the offending point) when an event or a line exceeds the limit;
        the decoder is then failed and further calls raise ``LocalProtocolError``, as do calls
        after ``close()``.
        """
        state = self._state
        if state is not _State.OPEN:
            if state is _State.START:
                return self._feed_start(data)
            raise LocalProtocolError(f"feed() on a {state.value} EventStreamDecoder")

        # Bytes -> text (§9.2.5 "UTF-8 decode"). A strict decode of the whole chunk is the fast
        # path; only a chunk that is invalid or ends mid-character takes the incremental route,
        # which replaces invalid sequences exactly like getincrementaldecoder("utf-8")("replace").
        tail = self._utf8_tail
        if tail:
            data = tail + data
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text, used = _utf8_decode(data, "replace", False)
            self._utf8_tail = data[used:]
        else:
            if tail:
                self._utf8_tail = b""
        return self._feed_text(text)

    def _feed_start(self, data: bytes) -> list[MessageEvent]:
        # §9.2.5: one leading U+FEFF is dropped, only at the start of the stream. The incremental
        # decoder never yields part of a character, so the first character seen decides, even
        # when the BOM's three bytes arrive in different chunks.
        data = self._utf8_tail + data
        text, used = _utf8_decode(data, "replace", False)
        self._utf8_tail = data[used:]
        if not text:
            return []
        self._state = _State.OPEN
        if text[0] == "\ufeff":
            text = text[1:]
        return self._feed_text(text)

    def _feed_text(self, text: str) -> list[MessageEvent]:
        # Text -> lines (§9.2.5 grammar: end-of-line = CRLF / LF / CR). A CR is a line ending at
        # once; if the text so far ended in CR, an LF starting this text completes that ending.
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            # No line completed: keep the piece without re-joining (buffers never rescan).
            if text:
                self._parts.append(text)
                self._pending_size += len(text)
                if self._pending_size + self._data_size > self._max_event_size:
                    self._fail([], "line")
            return []
        if self._parts:
            self._parts.append(text)
            text = "".join(self._parts)
            self._parts = []
            self._pending_size = 0

        events: list[MessageEvent] = []
        if self._trace is not None or self._data_size + len(text) > self._max_event_size:
            # Slow path: every line through _interpret, which traces and checks the limits.
            lines = text.split("\n")
            partial = lines.pop()
            self._interpret(lines, events)  # raises EventTooLarge with the events so far
            self._keep_partial(partial, events)
            return events

        # Fast path (no trace; the whole text cannot break the limit, as no line or event in it
        # can be longer than the text plus the data already held). Split on blank lines, so that
        # the commonest block, one "data: " line, costs one test and one slice instead of a pass
        # through the line interpreter; every other block goes through _interpret. Every "\n" is
        # a line ending, so "\n\n" is always a line ending followed by a blank line.
        blocks = text.split("\n\n")
        rest = blocks.pop()
        if blocks:
            id_buffer = self._id_buffer
            clean = not self._data and not self._event_type
            append = events.append
            for block in blocks:
                if clean and block[:6] == "data: " and "\n" not in block:
                    append(_new_event(MessageEvent, ("message", block[6:], id_buffer)))
                else:
                    lines = block.split("\n")
                    lines.append("")
                    self._interpret(lines, events)
                    id_buffer = self._id_buffer
                    clean = True
            # The last block ended in a blank line, which set the last event ID (§9.2.6 step 1).
            self.last_event_id = id_buffer
        if "\n" in rest:
            lines = rest.split("\n")
            rest = lines.pop()
            self._interpret(lines, events)
        self._keep_partial(rest, events)
        return events

    def _keep_partial(self, partial: str, events: list[MessageEvent]) -> None:
        if partial:
            self._parts = [partial]
            self._pending_size = len(partial)
            if self._pending_size + self._data_size > self._max_event_size:
                self._fail(events, "line")

    def _fail(self, events: list[MessageEvent], what: str) -> None:
        self._state = _State.FAILED
        limit = self._max_event_size
        raise EventTooLarge(
            f"event-stream {what} larger than max_event_size={limit} characters",
            limit=limit,
            events=events,
        )

    def _interpret(self, lines: list[str], events: list[MessageEvent]) -> None:
        """Interpret complete ``lines`` (§9.2.6), appending dispatched events to ``events``."""
        data = self._data
        data_size = self._data_size
        event_type = self._event_type
        id_buffer = self._id_buffer
        limit = self._max_event_size
        trace = self._trace
        for line in lines:
            if not line:
                # §9.2.6 dispatch: 1. the last event ID := the buffer (which is kept);
                # 2. no data -> fire nothing; 3. drop one trailing LF (join does not add it);
                # 4. type defaults to "message"; 5. clear data and type buffers.
                self.last_event_id = id_buffer
                if data:
                    event = _new_event(
                        MessageEvent, (event_type or "message", "\n".join(data), id_buffer)
                    )
                    events.append(event)
                    data = []
                    data_size = 0
                    if trace is not None:
                        trace(Dispatch(event))
                elif trace is not None:
                    trace(Dispatch(None))
                event_type = ""
                continue
            if len(line) > limit:
                self._data, self._data_size = data, data_size
                self._fail(events, "line")
            if line[0] == ":":
                self.comments_seen += 1
                if trace is not None:
                    trace(Comment(line[1:]))
                continue
            # §9.2.6: name before the first colon, value after it minus one leading U+0020;
            # no colon: the whole line is the name, the value is empty. Names are exact.
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if trace is not None:
                trace(Field(name, value, line))
            if name == "data":
                data.append(value)
                data_size += len(value) + 1
                if data_size > limit:
                    self._data, self._data_size = data, data_size
                    self._fail(events, "event")
            elif name == "event":
                event_type = value
            elif name == "id":
                if "\0" not in value:  # an id containing NUL is ignored entirely
                    id_buffer = value
            elif name == "retry" and value.isascii() and value.isdigit():
                # Only one or more ASCII digits set the reconnection time (effective at once).
                self.retry = int(value) if len(value) < 10 else min(_MAX_RETRY, _to_int(value))
        self._data = data
        self._data_size = data_size
        self._event_type = event_type
        self._id_buffer = id_buffer

    def close(self) -> list[MessageEvent]:
        """End the stream: an unfinished block or line is discarded (§9.2.6). Returns ``[]``.

        Every complete event was already returned by ``feed`` (a lone CR completes a line at
        once), so nothing can be pending; the list is returned for symmetry with ``feed``.
        Idempotent; after it, ``feed`` raises ``LocalProtocolError``.
        """
        if self._state is not _State.FAILED:
            self._state = _State.CLOSED
        self._parts = []
        self._pending_size = 0
        self._data = []
        self._data_size = 0
        self._event_type = ""
        self._utf8_tail = b""
        return []


def _to_int(digits: str) -> int:
    # Huge digit strings: compare by length first (int() refuses > 4300 digits, and is slow).
    stripped = digits.lstrip("0")
    return int(stripped) if len(stripped) < 19 else _MAX_RETRY


def _lines_of(text: str) -> list[str]:
    # CRLF, CR and LF each end a line (§9.2.5), nothing else (not str.splitlines()'s U+2028...).
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Encode one event as the UTF-8 bytes of a block, ending in its blank line.

    ``data`` may span lines (CRLF, CR or LF): each becomes one ``data:`` line, and a decoder
    yields them joined by LF. ``event`` (type), ``id`` (``""`` resets the client's ID) and
    ``retry`` (ms) are written only when not ``None``; ``comment`` becomes comment lines, one
    per line, before the fields.

    Raises ``ValueError`` if ``event`` or ``id`` contains CR or LF (it would end the field), if
    ``id`` contains NUL (a decoder ignores such an id), if ``retry`` is negative, or if a string
    cannot be encoded as UTF-8 (lone surrogates).
    """
    out: list[str] = []
    if comment is not None:
        out.extend(":" + line for line in _lines_of(comment))
    if event is not None:
        if "\r" in event or "\n" in event:
            raise ValueError(f"event type must not contain CR or LF: {event!r}")
        out.append("event: " + event)
    if id is not None:
        if "\r" in id or "\n" in id or "\0" in id:
            raise ValueError(f"event id must not contain CR, LF or NUL: {id!r}")
        out.append("id: " + id)
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"retry must be a non-negative int (ms), not {retry!r}")
        out.append(f"retry: {retry}")
    out.extend("data: " + line for line in _lines_of(data))
    out.append("\n")
    return "\n".join(out).encode()


def encode_comment(text: str = "") -> bytes:
    """Encode a comment (e.g. a keep-alive): ``b":" + text + b"\\n"``, one line per line of text.

    A comment dispatches nothing and leaves the block open, so it can be sent at any point
    between events. Raises ``ValueError`` if ``text`` cannot be encoded as UTF-8.
    """
    return "".join(":" + line + "\n" for line in _lines_of(text)).encode()


if __name__ == "__main__":
    from reactsse._sse_main import main

    raise SystemExit(main())
