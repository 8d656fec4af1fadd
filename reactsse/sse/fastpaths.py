"""The fast paths of the decoder: the same events as the reference interpreter, sooner.

``Interpreter._interpret`` (``reactsse.sse.interpreter``) is the reference. Each fast path here
takes only inputs whose meaning it can prove with a few C calls, handles them completely, and
declines anything else (returns ``None`` or ``False`` having changed nothing, or hands the chunk
on), which then goes to the next path down and finally to the reference:

``feed`` (whole-event chunk)
    A chunk that is exactly one block, on an idle decoder: ``data: v\\n\\n`` and
    ``event: t\\ndata: v\\n\\n`` by ``find`` and slices, other shapes (an ``id:`` line, several
    ``data: `` lines, CRLF endings) by one ``re.fullmatch``. Declines by calling the decoder's
    general path, ``_feed_lines``. It is ``EventStreamDecoder.feed`` itself: the commonest call
    (servers flush one event per chunk) pays no second Python call.
``_regions`` (the whole blocks between a chunk's first and last blank lines)
    The lines before the region go through the line loop (they may complete a pending block),
    the region itself, always at a fresh block start, through one of ``_data_blocks`` (every
    block one ``data: v`` line), ``_event_blocks`` (every block ``event: t`` + ``data: v``),
    ``_blocks`` (one ``re.split`` on "dense" streams; other shapes between its matches go
    through the line loop). A region of another shape goes through the line loop. Returns the
    chunk's rest (after the region) for the general path, or ``None`` when there is no region.
``_interpret_fast`` (the line loop)
    Every line, with no trace and when no line or event of the chunk can break the limit (the
    decoder checks that before): ``_interpret``'s rules without the per-line checks.

When each path is tried, and what switches it, is ``FastPathPolicy`` (``reactsse.sse.policy``,
one place).
"""

from __future__ import annotations

import re
from itertools import repeat

from reactsse.sse.interpreter import COMPACT_AT, Interpreter, decode_text, retry_ms
from reactsse.sse.lines import CR, LF, join_pending
from reactsse.sse.model import MessageEvent

__all__ = ["FastPaths", "LineLoop"]


def _type_and_text(event_type: bytes | None, value: bytes) -> tuple[str, str]:
    """The type (``"message"`` when absent or empty) and the data of one block matched by a
    regex, UTF-8 decoded with replacement (see ``decode_text``)."""
    try:
        return (event_type.decode() if event_type else "message"), value.decode()
    except UnicodeDecodeError:
        return (decode_text(event_type) if event_type else "message"), decode_text(value)


_new_event = tuple.__new__  # MessageEvent(...) runs a Python-level __new__; this is one C call.
_NUL = 0

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
_SIMPLE_STARTS = (b"data: ", b"event: ")  # regions _data_blocks and _event_blocks may take


class LineLoop(Interpreter):
    """The fast line loop, a base of ``EventStreamDecoder``."""

    __slots__ = ()

    def _interpret_fast(self, lines: list[bytes], events: list[MessageEvent]) -> None:
        # Longer than a function should be, on purpose: every line of the general path runs
        # through this loop, and a helper per line or per field would be a Python call per
        # line. No trace, and no line or event here can break the limit (the decoder checked
        # that the new bytes fit with what is held), so nothing is checked per line. Why it is
        # fast: one C split per chunk; per line one C partition and name comparisons ordered by
        # frequency (blank line, data, event, id), no other call but to build an event; one
        # decode per event. The rules are those of Interpreter._interpret, which cites them.
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
                # The field rules are written once: a line they do not match (no ": ", or an
                # unknown name) goes round once more, split at the first colon instead, one
                # space dropped. The common line takes no extra test: `while` costs a jump.
                name, _, value = line.partition(b": ")
                again = True
                while True:
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
                            id_buffer = decode_text(value)
                    elif line[0] == 58:  # ":" a comment
                        self.comments_seen += 1
                    elif again:
                        again = False
                        name, _, value = line.partition(b":")
                        if value[:1] == b" ":
                            value = value[1:]
                        continue
                    elif name == b"retry" and value.isdigit():
                        self.retry = retry_ms(value)
                    break
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
                if held > COMPACT_AT:  # a block of many lines across reads (see there)
                    self._compact_data()


class FastPaths(LineLoop):
    """The chunk fast paths, a base of ``EventStreamDecoder``."""

    __slots__ = ()

    def _feed_lines(self, data: bytes) -> list[MessageEvent]:
        raise NotImplementedError  # the decoder's general path

    def feed(self, data: bytes) -> list[MessageEvent]:
        """Decode ``data`` (the next bytes of the stream); return every event it completes.

        Raises ``EventTooLarge`` (``limit`` = ``max_event_size``) when a line or an event
        exceeds the limit, unless this call completed events before the offending point: then
        it returns them, and the next call (``feed`` or ``close``) raises the error (also
        readable at once as ``error``). Further calls raise ``LocalProtocolError``, as do calls
        after ``close()``.
        """
        # The whole-event shortcut, then the general path (see the module docstring). Longer
        # than a function should be, on purpose: this is the call per event of a stream flushed
        # per event, and splitting it would add a Python call to each.
        if self._idle and len(data) <= self._max_event_size:
            # The commonest chunks of LLM streams (servers flush per event): exactly one whole
            # event, nothing pending, no trace, within the limit. The result is the general
            # path's, which would split the chunk into its lines and dispatch at the blank line
            # at more cost per call. Why it is fast: memchr-based find (count walks every
            # byte), few slices, one decode; the other shapes of one block in one regex match,
            # in C, instead of the line loop.
            match = None
            separator = b"\ndata: "
            if CR in data:
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
                        event_type = decode_text(data[start:end])
                        text = decode_text(data[end + 7 : -2])
                    self.last_event_id = event_id = self._id_buffer
                    event = (event_type or "message", text, event_id)
                    return [_new_event(MessageEvent, event)]
                else:
                    match = _BLOCK.fullmatch(data)
            if match is not None:
                event_type_bytes, id_value, value = match.groups()
                if id_value is not None:
                    self._id_buffer = decode_text(id_value)
                if LF in value:
                    value = value.replace(separator, b"\n")
                try:  # _type_and_text written out: this path runs once per event
                    text = value.decode()
                    event_type = event_type_bytes.decode() if event_type_bytes else "message"
                except UnicodeDecodeError:
                    event_type, text = _type_and_text(event_type_bytes, value)
                self.last_event_id = event_id = self._id_buffer
                return [_new_event(MessageEvent, (event_type, text, event_id))]
        return self._feed_lines(data)

    def _regions(self, data: bytes, events: list[MessageEvent]) -> bytes | None:
        # data: a chunk with its line endings made LF, within the limit with what is held, no
        # trace. If it holds whole blocks between its first and last blank lines, interpret
        # everything up to the last blank line (appending to events) and return the rest;
        # else return None, having done nothing.
        start = data.find(b"\n\n") + 2
        if start < 2:
            return None
        policy = self._policy
        if not policy.dense and not data.startswith(_SIMPLE_STARTS, start):
            return None
        stop = data.rfind(b"\n\n") + 2
        if start >= stop:
            return None
        # The lines before the region may complete a pending block: the line loop.
        lines = data[:start].split(b"\n")
        lines.pop()  # b"": the head ends with its blank line
        if self._parts:
            join_pending(self._parts, lines)
            self._parts = []
        self._pending_size = 0
        self._interpret_fast(lines, events)
        region = data[start:stop]
        head = region[:7]
        if policy.dense:
            done = self._blocks(region, events)
        elif head[:6] == b"data: ":
            done = self._data_blocks(region, events)
        elif head == b"event: ":
            done = self._event_blocks(region, events)
        else:
            done = False
        if not done:
            lines = region.split(b"\n")
            lines.pop()
            count = len(events)
            self._interpret_fast(lines, events)
            policy.fell_back(len(lines), len(events) - count, len(region))
        return data[stop:]

    def _data_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        # region: whole blocks from a fresh state, starting with "data: ". If every block is
        # one "data: <value>" line and its blank line (chat chunks, tiny events), all values
        # come out of one split in C, are decoded by one map, and become events by another:
        # no per-line loop at all. Returns False, having done nothing, for another shape.
        if type(region) is not bytes:
            region = bytes(region)  # a bytearray: bytes.decode below takes only bytes
        values = region[6:-2].split(b"\n\ndata: ")
        # If no value holds an LF, every block is exactly "data: <value>\n\n" (a second line
        # of any kind, or "data:" without the space, leaves an LF in some value). One join and
        # one search: a one-byte search is a memchr, several times faster than bytes.count,
        # which looks at every byte.
        if LF in b"".join(values):
            return False
        try:
            texts = list(map(bytes.decode, values))
        except UnicodeDecodeError:
            texts = list(map(decode_text, values))
        event_id = self._id_buffer
        fields = zip(repeat("message"), texts, repeat(event_id))
        events.extend(map(_new_event, repeat(MessageEvent), fields))
        self.last_event_id = event_id
        return True

    def _event_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        # region: whole blocks from a fresh state, starting with "event: ". The same as
        # _data_blocks for blocks of exactly "event: <type>" and "data: <value>" (Responses API
        # streams): one split, one partition per block, maps for the rest. Returns False,
        # having done nothing, for any other shape.
        if type(region) is not bytes:
            region = bytes(region)
        pieces = region[7:-2].split(b"\n\nevent: ")
        parts = [piece.partition(b"\ndata: ") for piece in pieces]
        types, separators, values = zip(*parts, strict=True)
        # Every piece has an LF followed by "data: " (separators all found), and no type or
        # value holds another LF, so every block is exactly "event: <type>\ndata: <value>\n\n"
        # (searched as in _data_blocks). An empty type (the event is then a "message") is left
        # to the line loop too.
        if not all(separators) or not all(types):
            return False
        if LF in b"".join(types) or LF in b"".join(values):
            return False
        try:
            texts = list(map(bytes.decode, values))
            type_texts = list(map(bytes.decode, types))
        except UnicodeDecodeError:
            texts = list(map(decode_text, values))
            type_texts = list(map(decode_text, types))
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
        # Always returns True: blocks of other shapes (the gaps) go through the line loop.
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
                id_buffer = decode_text(id_line)
            if LF in value:
                value = value.replace(b"\ndata: ", b"\n")
            type_text, text = _type_and_text(event_type, value)
            append(_new_event(MessageEvent, (type_text, text, id_buffer)))
        if pieces[-1]:
            id_buffer = self._gap(pieces[-1], id_buffer, events)
        self._id_buffer = self.last_event_id = id_buffer
        return True  # every block is done, gaps included

    def _gap(self, gap: bytes, id_buffer: str, events: list[MessageEvent]) -> str:
        # Whole blocks of another shape, between two matches: the line loop, from a fresh state,
        # and a pause of the regex region (FastPathPolicy.pause).
        self._policy.pause()
        self._id_buffer = self.last_event_id = id_buffer
        lines = gap.split(b"\n")
        lines.pop()  # b"": a gap ends with its blank line
        self._interpret_fast(lines, events)
        return self._id_buffer
