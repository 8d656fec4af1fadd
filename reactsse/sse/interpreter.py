"""The reference interpreter: lines into fields into events, rule by rule (WHATWG HTML §9.2.6).

``Interpreter._interpret`` is the plain version of "Interpreting an event stream", the one to
read to learn the rules; it also reports every line to ``trace`` and enforces
``max_event_size``. The decoder runs it whenever tracing is on or a chunk could break the limit;
the fast paths (``reactsse.sse.fastpaths``) give the same events for the inputs they take, and
the tests compare them with it.

The block being built is held as ``_first`` (the first ``data`` value, ``None`` while there is
none: such a block fires nothing) and ``_more`` (the later ``data`` values): the data buffer of
the spec without its LFs, so that the usual one-line event needs no list and no join.
"""

from __future__ import annotations

from reactsse.sse.model import Comment, Dispatch, Field, MessageEvent
from reactsse.sse.state import DecoderState

__all__ = ["MAX_RETRY", "Interpreter", "decode_text", "retry_ms"]

MAX_RETRY = 2**31 - 1
"""Reconnection times are clamped to this (ms, ~24.8 days): the spec sets no upper bound, and
browsers' timers clamp at 2**31 - 1 ms (HTML timers); also keeps ``int()`` off huge strings."""

_new_event = tuple.__new__  # MessageEvent(...) runs a Python-level __new__; this is one C call.


# A block of more data values than this at the end of a read is joined (``_compact_data``).
COMPACT_AT = 32


def decode_text(value: bytes | bytearray) -> str:
    """UTF-8 decode (§9.2.5): invalid sequences become U+FFFD.

    A strict decode is cheaper to call and nearly always succeeds; the replacing decode runs
    only when it fails.
    """
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace")


def retry_ms(digits: bytes) -> int:
    """The reconnection time of a ``retry`` value of ASCII digits, clamped to ``MAX_RETRY``."""
    # Clamp without int() on huge strings (int() refuses more than 4300 digits, and is slow).
    significant = digits.lstrip(b"0")
    if len(significant) > 10:
        return MAX_RETRY
    return min(int(significant or b"0"), MAX_RETRY)


class Interpreter(DecoderState):
    """The §9.2.6 rules over complete lines; a base of ``EventStreamDecoder``, whose state
    (``DecoderState``) it reads and writes."""

    __slots__ = ()

    def _interpret(self, lines: list[bytes], events: list[MessageEvent]) -> str | None:
        """Interpret complete ``lines`` (without their endings), appending fired events.

        Returns ``None``, or what broke ``max_event_size`` (``"line"`` or ``"event"``): then it
        stops at that line, ``events`` holding the events before it (the decoder is broken
        from then on).
        """
        limit = self._max_event_size
        for line in lines:
            if not line:  # a blank line dispatches the event
                self._dispatch(events)
            elif len(line) > limit:
                return "line"
            elif line[0] == 58:  # ":" a comment: ignored (keep-alives are comments)
                self._comment(line)
            elif self._field(line):
                return "event"
        self._data_counted = 0 if self._first is None else 1 + len(self._more)
        if self._data_counted > COMPACT_AT:
            self._compact_data()
        self._idle = (
            self._first is None
            and not self._event_type
            and not self._skip_lf
            and self._trace is None
        )
        return None

    def _compact_data(self) -> None:
        """Join the block's data values held apart into ``_first``, a ``bytearray``.

        ``_data_size`` counts each value's bytes and its LF; a value held in ``_more`` also
        costs a list slot (8 bytes) and, unless it is empty or one byte, an object header: an
        event of endless empty ``data`` lines would hold 8 times what is counted. Joined at the
        end of a read, the block holds what is counted (one LF-join is the same as two), and
        appending to the bytearray copies only the new values."""
        first = self._first
        assert first is not None
        if type(first) is not bytearray:
            first = bytearray(first)
        first += b"\n"
        first += b"\n".join(self._more)
        self._first = first
        self._more = []
        self._data_counted = 1

    def _dispatch(self, events: list[MessageEvent]) -> None:
        # §9.2.6 "dispatch the event": 1. the last event ID becomes the ID buffer (which is
        # kept); 2. no data: fire nothing; 3. remove one trailing LF from the data (the values
        # are joined by LF, none after the last); 4. the type defaults to "message"; 5. clear
        # the data and type buffers.
        self.last_event_id = self._id_buffer
        event = None
        first = self._first
        if first is not None:
            more = self._more
            text = decode_text(b"\n".join([first, *more]) if more else first)
            event_type = self._event_type or "message"
            event = _new_event(MessageEvent, (event_type, text, self._id_buffer))
            events.append(event)
            self._first = None
            self._more = []
            self._data_size = 0
        self._event_type = ""
        if self._trace is not None:
            self._trace(Dispatch(event))

    def _comment(self, line: bytes) -> None:
        self.comments_seen += 1
        if self._trace is not None:
            self._trace(Comment(decode_text(line[1:])))

    def _field(self, line: bytes) -> bool:
        # The name is the text before the first colon, the value the text after it minus one
        # leading U+0020; no colon: the whole line is the name, the value is empty. Names are
        # exact (case-sensitive); unknown names are ignored. Returns True if the block's data
        # now exceeds max_event_size.
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if self._trace is not None:
            self._trace(Field(decode_text(name), decode_text(value), decode_text(line)))
        if name == b"data":  # append the value and an LF to the data buffer
            if self._first is None:
                self._first = value
            else:
                self._more.append(value)
            self._data_size += len(value) + 1
            return self._data_size > self._max_event_size
        if name == b"event":  # set the event type buffer
            self._event_type = decode_text(value)
        elif name == b"id":  # set the ID buffer, unless the value contains NUL
            if b"\0" not in value:
                self._id_buffer = decode_text(value)
        elif name == b"retry" and value.isdigit():
            # Only one or more ASCII digits (bytes.isdigit is ASCII-only) set the reconnection
            # time, at once, even if the block is never dispatched.
            self.retry = retry_ms(value)
        return False
