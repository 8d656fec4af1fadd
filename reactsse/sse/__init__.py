"""The ``text/event-stream`` format, sans-IO: bytes in, events out (WHATWG HTML §9.2.5–9.2.6).

``EventStreamDecoder`` turns the bytes of an event stream, fed in chunks of any size, into
``MessageEvent`` objects; ``encode_event`` and ``encode_comment`` produce the bytes a server
sends. This module owns no socket, clock, loop or thread (house rule 1): any loop can drive it.

The decoder works in three stages, which ``trace`` (and ``python -m reactsse.sse``) make visible:

1. bytes → lines: one leading BOM is dropped; lines end in CRLF, LF or a lone CR, and in
   nothing else; the text is UTF-8 (§9.2.5), invalid sequences replaced by U+FFFD.
2. lines → ``Comment`` / ``Field``: a line starting with ``:`` is a comment; otherwise the name
   is the text before the first colon and the value the text after it, minus one leading space.
3. fields → events: a blank line dispatches (``Dispatch``) the block's data as a ``MessageEvent``.

Invariants of the decoder (its state machine is ``_State``: START → OPEN → CLOSED or FAILED):

* Framing works on bytes: ``_parts`` holds the pieces of the unterminated last line (never a
  line ending), ``_skip_lf`` says the bytes so far ended in a CR whose LF, if it comes next,
  belongs to the same line ending. Values are decoded from UTF-8 per line or per event.
* The block's data values are ``_first`` (``None``: no data line yet, and the block will fire
  nothing) then ``_more`` (the second and later lines; kept apart so that the usual one-line
  event needs no list and no join). ``_data_size`` is their total length plus one LF each (of
  the first ``_data_counted`` lines); it plus the unterminated line never exceeds
  ``max_event_size`` bytes (else ``EventTooLarge``).
* Every event completed by a ``feed`` is returned by that ``feed``: a line ending in a lone CR
  is complete at once (a following LF is skipped when it arrives), so nothing is ever delayed.
* Speed without a second set of rules: the line loop (``_interpret_fast``, ``_interpret`` with
  tracing and limits) is the reference path. The shortcuts only take bytes whose meaning they
  can prove cheaply: a whole one-event chunk of a common shape when nothing is pending
  (``_idle``), and the whole blocks between a chunk's first and last blank line (a "region",
  always in a fresh block state) when every block has one of three shapes (``_data_blocks``,
  ``_event_blocks``, ``_blocks``); anything else goes through the line loop.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from itertools import repeat
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

_new_event = tuple.__new__  # MessageEvent(...) runs a Python-level __new__; this is one C call.
_BOM = b"\xef\xbb\xbf"
# Bytes tested with "in" as ints: `13 in data` is one memchr, where `b"\r" in data` goes
# through the general substring search (measured 20 ns against 204 ns on a 225-byte event).
_CR = 13
_LF = 10
_NUL = 0


def _text(value: bytes) -> str:
    # §9.2.5 "UTF-8 decode": invalid sequences become U+FFFD. A strict decode is cheaper to
    # call and nearly always succeeds; the replacing decode runs only when it fails.
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace")


# One block of the commonest shape, with nothing pending before it: an optional "event:" line,
# an optional "id:" line (without NUL: such an id is ignored, left to the general path), one or
# more "data: " lines (with the space), the blank line; LF endings (_BLOCK_CRLF: CRLF endings).
# Each group is a field's value minus one leading space (§9.2.6), None for an absent field, the
# data lines joined by "\ndata: " (which only occurs there at the start of a line: replaced by
# LF). Anything else does not match and is left to the line-by-line path. [^\n]* never
# backtracks on success (each is followed by "\n").
_BLOCK_SOURCE = (
    rb"(?:event: ?([^\n]*)\n)?(?:id: ?([^\n\0]*)\n)?data: ([^\n]*(?:\ndata: [^\n]*)*)\n\n"
)
_BLOCK = re.compile(_BLOCK_SOURCE)
_BLOCK_CRLF = re.compile(
    rb"(?:event: ?([^\r\n]*)\r\n)?(?:id: ?([^\r\n\0]*)\r\n)?"
    rb"data: ([^\r\n]*(?:\r\ndata: [^\r\n]*)*)\r\n\r\n"
)
# The same shape anywhere a block starts: at the start, or after a blank line ("\n\n": the LF
# ending a line, then the LF of an empty one). re.split gives the blocks between two matches
# ("gaps", other shapes: comments, retry, no space after the colon...) as whole blocks too.
_BLOCKS = re.compile(rb"(?:\A|(?<=\n\n))" + _BLOCK_SOURCE)
_DENSE = 160
"""A stream is "dense" (regions go through _BLOCKS) while its chunks have more than 3 lines per
event and events under this many bytes: the regex costs ~2.5 ns per byte in C where the line
loop costs ~0.1-0.2 us per line in Python, so it wins on short events of several lines, and
loses on long one-line ones (chat chunks: those take _data_blocks)."""
_COOLDOWN = 16
"""Chunks that go through the line loop alone after a region with blocks of another shape."""
_LONG_LINE = 2048  # a first or last line this long: split the chunk with find (_split_lines)
_SIMPLE_STARTS = (b"data: ", b"event: ")  # regions _data_blocks and _event_blocks may take


class _State(enum.Enum):
    START = "start"  # fewer than 3 bytes seen: whether they are a BOM is not decided yet
    OPEN = "open"
    CLOSED = "closed"  # close() was called
    FAILED = "failed"  # EventTooLarge was raised; the stream cannot be resynchronised


_OPEN = _State.OPEN


class EventStreamDecoder:
    """Incremental decoder of a ``text/event-stream`` body (WHATWG HTML §9.2.5–9.2.6).

    ``max_event_size`` (bytes) bounds the memory a peer can make the decoder hold: any single
    line, and the data of one event (its ``data:`` values plus one LF each) together with the
    unterminated line being received. ``trace``, when given, is called with each line's
    interpretation (``Comment``, ``Field``, ``Dispatch``) as it happens. ``last_event_id``
    starts a reconnecting client from the previous ID.

    Readable at any time: ``last_event_id`` (as of the last blank line, what a reconnecting
    client sends as ``Last-Event-ID``), ``retry`` (the reconnection time in ms, ``None`` until a
    valid ``retry:`` field), ``comments_seen`` (number of comment lines so far: a client can tell
    that bytes arrived but only keep-alive comments).

    Raises ``ValueError`` if ``max_event_size`` is not positive.
    """

    __slots__ = (
        "_cooldown",
        "_data_counted",
        "_data_size",
        "_dense",
        "_event_type",
        "_first",
        "_head",
        "_id_buffer",
        "_idle",
        "_many",
        "_max_event_size",
        "_more",
        "_parts",
        "_pending_size",
        "_skip_lf",
        "_state",
        "_trace",
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
        # _idle: OPEN, no trace, nothing pending (no partial line, pending CR, data or type):
        # a chunk that is exactly one "data: ...\n\n" event can then skip the general path.
        self._idle = False
        self._dense = False
        self._cooldown = 0
        self._many = False
        self._head = b""
        self._skip_lf = False
        self._parts: list[bytes] = []
        self._pending_size = 0
        self._first: bytes | None = None
        self._more: list[bytes] = []
        self._data_size = 0
        self._data_counted = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self.last_event_id: str = last_event_id
        self.retry: int | None = None
        self.comments_seen = 0

    def feed(self, data: bytes) -> list[MessageEvent]:
        """Decode ``data`` (the next bytes of the stream); return every event it completes.

        Raises ``EventTooLarge`` (``limit`` = ``max_event_size``, ``events`` = the events this
        call completed before the offending point, which the caller should still deliver) when
        a line or an event exceeds the limit; the decoder is then failed and further calls
        raise ``LocalProtocolError``, as do calls after ``close()``.
        """
        if self._idle and len(data) <= self._max_event_size:
            # The commonest chunks of LLM streams (servers flush per event): exactly one whole
            # event, nothing pending, no trace, within the limit. The result is the general
            # path's, which would split the chunk into its lines and dispatch at the blank line
            # at more cost per call. Why it is fast: memchr-based find (not count, which walks
            # every byte: 18 us on a 64 KiB event against 0.7 us), few slices, one decode; the
            # other shapes of one block in one regex match, in C, instead of the line loop.
            match = None
            separator = b"\ndata: "
            if _CR in data:
                if data[-4:] == b"\r\n\r\n":
                    # A CRLF stream: the same shapes, CRLF endings only ([^\r\n] in the regex:
                    # a lone CR or LF does not match, and takes the general path).
                    match = _BLOCK_CRLF.fullmatch(data)
                    separator = b"\r\ndata: "
            elif data[-2:] == b"\n\n":
                end = data.find(b"\n")
                last = len(data) - 2  # where the line before the blank line ends
                if end == last:
                    if data[:6] == b"data: ":  # "data: <value>\n\n"
                        value = data[6:-2]
                        try:
                            text = value.decode()
                        except UnicodeDecodeError:
                            text = value.decode("utf-8", "replace")
                        self.last_event_id = event_id = self._id_buffer
                        return [_new_event(MessageEvent, ("message", text, event_id))]
                elif (
                    data[:6] == b"event:"
                    and data.find(b"\n", end + 1) == last
                    and data[end + 1 : end + 7] == b"data: "
                ):  # "event:<type>\ndata: <value>\n\n"
                    start = 7 if data[6] == 32 else 6  # one leading space removed
                    try:
                        event_type = data[start:end].decode()
                        text = data[end + 7 : -2].decode()
                    except UnicodeDecodeError:
                        event_type = _text(data[start:end])
                        text = _text(data[end + 7 : -2])
                    self.last_event_id = event_id = self._id_buffer
                    event = (event_type or "message", text, event_id)
                    return [_new_event(MessageEvent, event)]
                else:
                    match = _BLOCK.fullmatch(data)
            if match is not None:
                event_type_bytes, id_value, value = match.groups()
                if id_value is not None:
                    try:
                        self._id_buffer = id_value.decode()
                    except UnicodeDecodeError:
                        self._id_buffer = _text(id_value)
                if _LF in value:
                    value = value.replace(separator, b"\n")
                try:
                    text = value.decode()
                    event_type = event_type_bytes.decode() if event_type_bytes else "message"
                except UnicodeDecodeError:
                    text = _text(value)
                    event_type = _text(event_type_bytes) if event_type_bytes else "message"
                self.last_event_id = event_id = self._id_buffer
                return [_new_event(MessageEvent, (event_type, text, event_id))]
        if self._state is not _OPEN:
            data = self._start(data)
            if not data:
                return []
        # Lines are split on bytes, before decoding: CR and LF never occur inside a UTF-8
        # multi-byte sequence, and an ASCII byte ends any invalid sequence in the stream
        # decoder too, so decoding each line (or event) alone gives exactly the text of
        # §9.2.5's stream decoding, with no incremental decoder to keep.
        if self._skip_lf and data:
            # The bytes so far ended in CR, a complete line ending (§9.2.5 end-of-line): an LF
            # starting this chunk belongs to the same CRLF.
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if _CR in data:
            self._skip_lf = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if _LF not in data:
            # No line completed: keep the piece without re-joining (buffers never rescan).
            if data:
                self._idle = False
                self._parts.append(data)
                self._pending_size += len(data)
                if self._pending_size + self._data_size > self._max_event_size:
                    self._fail([], "line")
            return []
        events: list[MessageEvent] = []
        size = 0  # the size of a chunk that went through the line loop alone
        start = stop = 0
        if (
            self._many  # (else the find and rfind could cost more than they save: 64 KiB events)
            and not self._cooldown
            and self._trace is None
            and self._data_size + self._pending_size + len(data) <= self._max_event_size
        ):
            start = data.find(b"\n\n") + 2
            if start > 1 and (self._dense or data.startswith(_SIMPLE_STARTS, start)):
                stop = data.rfind(b"\n\n") + 2
        if start < stop:
            # Whole blocks between the chunk's first and last blank lines, all in a fresh
            # state: the lines before (which may complete a pending block) and after go
            # through the line loop, the blocks between through one split in C: one-line
            # "data: " events (_data_blocks), "event: " + "data: " ones (_event_blocks),
            # else, on a dense stream, the regex (_blocks).
            lines = data[:start].split(b"\n")
            lines.pop()  # b"": the head ends with its blank line
            if self._parts:
                parts = self._parts
                parts.append(lines[0])
                lines[0] = b"".join(parts)
                self._parts = []
            self._pending_size = 0
            self._interpret_fast(lines, events)
            region = data[start:stop]
            head = region[:7]
            if self._dense:
                done = self._blocks(region, events)
            elif head[:6] == b"data: ":
                done = self._data_blocks(region, events)
            elif head == b"event: ":
                done = self._event_blocks(region, events)
            else:
                done = False
            if not done:
                # Not all of one simple shape: the line loop, which measures the stream again,
                # and unless it is dense, a pause (see _gap).
                lines = region.split(b"\n")
                lines.pop()
                count = len(events)
                self._interpret_fast(lines, events)
                count = len(events) - count
                self._dense = len(lines) > 3 * count and count * _DENSE > len(region)
                if not self._dense:
                    self._cooldown = _COOLDOWN
            data = data[stop:]
        else:
            size = len(data)
        lines = _split_lines(data)
        partial = lines.pop()
        if self._parts:
            # The pieces of the pending line, completed by the chunk's first line: only the new
            # chunk was split, a long pending line is joined once and never rescanned.
            parts = self._parts
            parts.append(lines[0])
            lines[0] = b"".join(parts)
            self._parts = []
        if (
            self._trace is not None
            or self._data_size + self._pending_size + len(data) > self._max_event_size
        ):
            # Slow path: line by line through _interpret, which traces and checks the limits.
            self._pending_size = 0
            self._interpret(lines, events)  # raises EventTooLarge with the events so far
        else:
            self._pending_size = 0
            self._interpret_fast(lines, events)
        if partial:
            self._idle = False
            self._parts = [partial]
            self._pending_size = len(partial)
            if self._pending_size + self._data_size > self._max_event_size:
                self._fail(events, "line")
        self._many = len(events) > 2  # a region is worth looking for in the next chunk
        if size:
            if self._cooldown:  # the last region had blocks of other shapes: wait a while
                self._cooldown -= 1
            else:
                # The regex region pays for many lines per event (6 in a CRLF event with an id
                # and 3 data lines), not for one-line events: measured on this chunk (_DENSE).
                self._dense = len(lines) > 3 * len(events) and len(events) * _DENSE > size
        return events

    def _data_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        # region: whole blocks from a fresh state, starting with "data: ". If every block is
        # one "data: <value>" line and its blank line (chat chunks, tiny events), all values
        # come out of one split in C, are decoded by one map, and become events by another:
        # no per-line loop at all (measured: 26 us against 36 us for a 16 KiB chunk of chat
        # chunks). Returns False, having done nothing, if the blocks have another shape.
        if type(region) is not bytes:
            region = bytes(region)  # a bytearray: bytes.decode below takes only bytes
        values = region[6:-2].split(b"\n\ndata: ")
        # The separators hold 2 LFs each and the end 2: exactly 2 LFs per value in all means
        # that no value holds one, so every block is exactly "data: <value>\n\n" (a second
        # line of any kind, or "data:" without the space, adds an LF to some value).
        if region.count(b"\n") != 2 * len(values):
            return False
        try:
            texts = list(map(bytes.decode, values))
        except UnicodeDecodeError:
            texts = list(map(_text, values))
        event_id = self._id_buffer
        fields = zip(repeat("message"), texts, repeat(event_id))
        events.extend(map(_new_event, repeat(MessageEvent), fields))
        self.last_event_id = event_id
        return True

    def _event_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        # region: whole blocks from a fresh state, starting with "event: ". The same as
        # _data_blocks for blocks of exactly "event: <type>" and "data: <value>" (Responses API
        # streams): one split, one partition per block, maps for the rest (measured: 20% less
        # time than the line loop). Returns False, having done nothing, for any other shape.
        if type(region) is not bytes:
            region = bytes(region)
        pieces = region[7:-2].split(b"\n\nevent: ")
        parts = [piece.partition(b"\ndata: ") for piece in pieces]
        types, separators, values = zip(*parts, strict=True)
        # Every piece has an LF followed by "data: " (separators all found), and the region
        # has 3 LFs per block (line, line, blank), so each piece has exactly that one LF:
        # every block is exactly "event: <type>\ndata: <value>\n\n". An empty type (the
        # event is then a "message") is left to the line loop too.
        if not all(separators) or not all(types) or region.count(b"\n") != 3 * len(pieces):
            return False
        try:
            texts = list(map(bytes.decode, values))
            type_texts = list(map(bytes.decode, types))
        except UnicodeDecodeError:
            texts = list(map(_text, values))
            type_texts = list(map(_text, types))
        event_id = self._id_buffer
        fields = zip(type_texts, texts, repeat(event_id))
        events.extend(map(_new_event, repeat(MessageEvent), fields))
        self.last_event_id = event_id
        return True

    def _blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        # region: whole blocks (from a block start to the end of a blank line), the decoder in
        # a fresh state (no data, no type, nothing pending). Why it is fast: the C regex engine
        # finds and splits the fields of every block of the common shape (_BLOCK) in one call,
        # leaving per event a few C calls (replace, decode, tuple) and no per-line loop.
        if type(region) is not bytes:
            region = bytes(region)  # a bytearray: bytes.decode below takes only bytes
        pieces = _BLOCKS.split(region)
        types = pieces[1::4]
        ids = pieces[2::4]
        if ids and not any(pieces[0::4]) and all(types) and None not in ids:
            # Every block matched, each with an event type and an id (streams of named,
            # numbered events): no loop in Python at all, only maps in C.
            values = map(bytes.replace, pieces[3::4], repeat(b"\ndata: "), repeat(b"\n"))
            try:
                texts = list(map(bytes.decode, values))
                type_texts = list(map(bytes.decode, types))
                id_texts = list(map(bytes.decode, ids))
            except UnicodeDecodeError:
                pass  # the loop below decodes with replacement
            else:
                fields = zip(type_texts, texts, id_texts, strict=True)
                events.extend(map(_new_event, repeat(MessageEvent), fields))
                self._id_buffer = self.last_event_id = id_texts[-1]
                return True
        id_buffer = self._id_buffer
        append = events.append
        for gap, event_type, id_line, value in zip(
            pieces[0::4], pieces[1::4], pieces[2::4], pieces[3::4], strict=False
        ):
            if gap:
                id_buffer = self._gap(gap, id_buffer, events)
            if id_line is not None:
                try:
                    id_buffer = id_line.decode()
                except UnicodeDecodeError:
                    id_buffer = _text(id_line)
            if _LF in value:
                value = value.replace(b"\ndata: ", b"\n")
            try:
                text = value.decode()
                type_text = event_type.decode() if event_type else "message"
            except UnicodeDecodeError:
                text = _text(value)
                type_text = _text(event_type) if event_type else "message"
            append(_new_event(MessageEvent, (type_text, text, id_buffer)))
        if pieces[-1]:
            id_buffer = self._gap(pieces[-1], id_buffer, events)
        self._id_buffer = self.last_event_id = id_buffer
        return True  # every block is done, gaps included

    def _gap(self, gap: bytes, id_buffer: str, events: list[MessageEvent]) -> str:
        # Whole blocks of another shape, between two matches: the line loop, from a fresh state.
        # Leave the region path for the next _COOLDOWN chunks: a stream whose blocks often
        # have other shapes (comments in every block, "data:" without the space) would pay a
        # failed regex scan on every other chunk (measured: 11% slower; with it, no loss).
        self._dense = False
        self._cooldown = _COOLDOWN
        self._id_buffer = self.last_event_id = id_buffer
        lines = gap.split(b"\n")
        lines.pop()  # b"": a gap ends with its blank line
        self._interpret_fast(lines, events)
        return self._id_buffer

    def _start(self, data: bytes) -> bytes:
        if self._state is not _State.START:
            raise LocalProtocolError(f"feed() on a {self._state.value} EventStreamDecoder")
        # §9.2.5: one leading BOM is dropped, only at the very start of the stream, also when
        # its three bytes arrive in different chunks.
        head = self._head + data
        if len(head) < 3 and _BOM.startswith(head):
            self._head = head
            return b""
        self._head = b""
        self._state = _OPEN
        return head[3:] if head[:3] == _BOM else head

    def _interpret_fast(self, lines: list[bytes], events: list[MessageEvent]) -> None:
        # The fast path: no trace, and no line or event here can break the limit (feed checked
        # that the new bytes fit with what is held), so nothing is checked per line. Why it is
        # fast: one C split per chunk; per line one C partition and name comparisons ordered by
        # frequency (blank line, data, event, id), no other call but to build an event; one
        # decode per event. The rules are those of _interpret, which cites them.
        first = self._first
        more = self._more
        dispatched = False
        event_type = self._event_type
        id_buffer = self._id_buffer
        last_event_id = self.last_event_id
        append = events.append
        for line in lines:
            if not line:
                last_event_id = id_buffer
                if first is not None:
                    if more:
                        first = b"\n".join([first, *more])
                        more = []
                    try:
                        text = first.decode()
                    except UnicodeDecodeError:
                        text = first.decode("utf-8", "replace")
                    append(_new_event(MessageEvent, (event_type or "message", text, id_buffer)))
                    first = None
                    dispatched = True
                event_type = ""
            else:
                # One C call splits "name: value"; a known name before the first ": " is also
                # the name before the first colon, and a line without ": " gives the whole line
                # as name and an empty value, which is right for "data", "event" and "id" too.
                name, _, value = line.partition(b": ")
                if name == b"data":
                    if first is None:
                        first = value
                    else:
                        more.append(value)
                elif name == b"event":
                    try:
                        event_type = value.decode()
                    except UnicodeDecodeError:
                        event_type = value.decode("utf-8", "replace")
                elif name == b"id":
                    if _NUL not in value:
                        id_buffer = _text(value)
                elif line[0] == 58:  # ":" a comment
                    self.comments_seen += 1
                else:
                    # no ": " (or an unknown name): split at the first colon, drop one space
                    name, _, value = line.partition(b":")
                    if value[:1] == b" ":
                        value = value[1:]
                    if name == b"data":
                        if first is None:
                            first = value
                        else:
                            more.append(value)
                    elif name == b"id":
                        if _NUL not in value:
                            id_buffer = _text(value)
                    elif name == b"event":
                        event_type = _text(value)
                    elif name == b"retry" and value.isdigit():
                        self.retry = _retry_ms(value)
        self.last_event_id = last_event_id
        self._event_type = event_type
        self._id_buffer = id_buffer
        self._first = first
        self._more = more
        if first is None:
            self._data_size = self._data_counted = 0
            self._idle = not event_type and not self._skip_lf and self._trace is None
        else:
            # Keep the held size current without re-summing what was counted before (the
            # lines of the block held before this chunk, unless it was dispatched since).
            self._idle = False
            held = 1 + len(more)
            counted = 0 if dispatched else self._data_counted
            if counted != held:
                size = 0 if dispatched else self._data_size
                if not counted:
                    size += len(first) + 1
                    counted = 1
                size += sum(map(len, more[counted - 1 :])) + held - counted
                self._data_size = size
                self._data_counted = held

    def _interpret(self, lines: list[bytes], events: list[MessageEvent]) -> None:
        """Interpret complete ``lines`` (§9.2.6) with tracing and limit checks."""
        first = self._first
        more = self._more
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
                if first is not None:
                    text = _text(b"\n".join([first, *more]) if more else first)
                    event = _new_event(MessageEvent, (event_type or "message", text, id_buffer))
                    events.append(event)
                    first = None
                    more = []
                    data_size = 0
                    if trace is not None:
                        trace(Dispatch(event))
                elif trace is not None:
                    trace(Dispatch(None))
                event_type = ""
                continue
            if len(line) > limit:
                self._fail(events, "line")
            if line[0] == 58:  # ":" a comment
                self.comments_seen += 1
                if trace is not None:
                    trace(Comment(_text(line[1:])))
                continue
            # §9.2.6: name before the first colon, value after it minus one leading U+0020;
            # no colon: the whole line is the name, the value is empty. Names are exact.
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if trace is not None:
                trace(Field(_text(name), _text(value), _text(line)))
            if name == b"data":
                if first is None:
                    first = value
                else:
                    more.append(value)
                data_size += len(value) + 1
                if data_size > limit:
                    self._fail(events, "event")
            elif name == b"event":
                event_type = _text(value)
            elif name == b"id":
                if b"\0" not in value:  # an id containing NUL is ignored entirely
                    id_buffer = _text(value)
            elif name == b"retry" and value.isdigit():
                # Only one or more ASCII digits (bytes.isdigit is ASCII-only) set the
                # reconnection time, at once, even if the block is never dispatched.
                self.retry = _retry_ms(value)
        self._first = first
        self._more = more
        self._data_size = data_size
        self._data_counted = 0 if first is None else 1 + len(more)
        self._event_type = event_type
        self._id_buffer = id_buffer
        self._idle = first is None and not event_type and not self._skip_lf and trace is None

    def _fail(self, events: list[MessageEvent], what: str) -> None:
        self._state = _State.FAILED
        self._idle = False
        limit = self._max_event_size
        raise EventTooLarge(
            f"event-stream {what} larger than max_event_size={limit} bytes",
            limit=limit,
            events=events,
        )

    def close(self) -> list[MessageEvent]:
        """End the stream: an unfinished block or line is discarded (§9.2.6). Returns ``[]``.

        Every complete event was already returned by ``feed`` (a lone CR completes a line at
        once), so nothing can be pending; the list is returned for symmetry with ``feed``.
        Idempotent; after it, ``feed`` raises ``LocalProtocolError``.
        """
        if self._state is not _State.FAILED:
            self._state = _State.CLOSED
        self._idle = False
        self._head = b""
        self._parts = []
        self._pending_size = 0
        self._first = None
        self._more = []
        self._data_size = 0
        self._data_counted = 0
        self._event_type = ""
        return []


def _split_lines(data: bytes) -> list[bytes]:
    """``data.split(b"\n")``, fast for chunks of long lines too.

    ``bytes.split`` with a one-byte separator visits every byte in its own loop (19 us for a
    64 KiB read with one line end), while ``find`` is a ``memchr`` (2 us): a stream of 64 KiB
    events has one or two line ends per read. Chunks of short lines keep ``split``, cheaper per
    line: after a few short lines in a row, the rest goes to ``split``. The first and the last
    line (``rfind``, a ``memrchr``) decide: a chunk of 64 KiB events read 64 KiB at a time often
    holds the short end of one event and a long start of the next (19 us with ``split``).
    """
    end = data.find(b"\n")
    if end < _LONG_LINE and len(data) - data.rfind(b"\n") <= _LONG_LINE:
        return data.split(b"\n")
    lines = []
    start = 0
    short = 0  # short lines in a row
    while True:
        if end < 0:
            lines.append(data[start:])
            return lines
        if end - start < _LONG_LINE:
            short += 1
            if short > 4:
                lines.extend(data[start:].split(b"\n"))
                return lines
        else:
            short = 0
        lines.append(data[start:end])
        start = end + 1
        end = data.find(b"\n", start)


def _retry_ms(digits: bytes) -> int:
    # Clamp without int() on huge strings (int() refuses more than 4300 digits, and is slow).
    significant = digits.lstrip(b"0")
    if len(significant) > 10:
        return _MAX_RETRY
    return min(int(significant or b"0"), _MAX_RETRY)


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
    if (
        event is None
        and id is None
        and retry is None
        and comment is None
        and "\n" not in data
        and "\r" not in data
    ):
        return ("data: " + data + "\n\n").encode()  # the usual token event: one line, no fields
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
