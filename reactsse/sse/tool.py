"""The decoder explained line by line: the engine of ``python -m reactsse.sse``, sans-IO.

``Explainer`` feeds chunks to an ``EventStreamDecoder`` with ``trace`` on (so the reference
interpreter runs, rule by rule) and turns each traced ``Line`` into a line of text that says how
it was interpreted and, for everything the decoder ignores, the rule that ignores it. ``close``
adds the footer: the stream's state and what the end of the stream discarded. ``unescape`` reads
the escapes that let a stream be typed on a command line. The rules quoted are WHATWG HTML
§9.2.5-9.2.6 (<https://html.spec.whatwg.org/multipage/server-sent-events.html>).

Nothing here reads or writes: ``reactsse/sse/__main__.py`` does the I/O.
"""

from __future__ import annotations

import json
import re

from reactsse.sse.decoder import EventStreamDecoder
from reactsse.sse.lines import BOM
from reactsse.sse.model import Comment, Dispatch, Field, Line, MessageEvent

__all__ = ["Explainer", "event_json", "unescape"]

_SIMPLE = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|.?)", re.DOTALL)
_COLUMN = 30  # the width of the "line ..." column


def unescape(text: str) -> bytes:
    """The bytes ``text`` stands for: UTF-8, with ``\\n \\r \\t \\0 \\\\`` and two more escapes.

    ``\\xNN`` is one byte (``\\xEF\\xBB\\xBF`` is a BOM's three bytes, ``\\xFF`` invalid
    UTF-8); ``\\uNNNN`` is one character, UTF-8 encoded (``\\uFEFF`` is a BOM too). Raises
    ``ValueError`` for any other backslash sequence.
    """
    out = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        out += text[position : match.start()].encode("utf-8", "surrogatepass")
        position = match.end()
        escape = match.group(1)
        if escape in _SIMPLE:
            out += _SIMPLE[escape]
        elif escape[:1] == "x" and len(escape) == 3:
            out.append(int(escape[1:], 16))
        elif escape[:1] == "u" and len(escape) == 5:
            out += chr(int(escape[1:], 16)).encode("utf-8", "surrogatepass")
        else:
            raise ValueError(
                f"unknown escape {match.group(0)!r}: use \\n \\r \\t \\0 \\\\ \\xNN \\uNNNN"
            )
    out += text[position:].encode("utf-8", "surrogatepass")
    return bytes(out)


def event_json(event: MessageEvent) -> str:
    """One event as ``{"type", "data", "last_event_id"}``, like ``reactsse get --format jsonl``."""
    record = {"type": event.type, "data": event.data, "last_event_id": event.last_event_id}
    return json.dumps(record, ensure_ascii=False)


def _field_note(field: Field) -> str:
    """Why a field does what it does, or the rule that ignores it (empty: nothing to add)."""
    name, value = field.name, field.value
    if name == "data":
        return ""
    if name == "event":
        return "  (the event type, for this block only)"
    if name == "id":
        if "\0" in value:
            return "  (ignored: an id containing NUL does not set the last event ID)"
        return "  (the last event ID, from the next dispatch on)"
    if name == "retry":
        if value and value.isascii() and value.isdigit():
            return "  (the reconnection time, in ms, set at once)"
        return "  (ignored: retry must be ASCII digits only)"
    if name.startswith("\ufeff"):
        return (
            "  (ignored: unknown name; a BOM is dropped only once, at the very start of the "
            "stream: this one is text)"
        )
    return "  (ignored: unknown name)"


class Explainer:
    """Feed chunks, get the lines that explain them; ``close()`` for the footer.

    ``events`` holds every event dispatched so far.
    """

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder(trace=self._record)
        self._out: list[str] = []
        self._block: list[Field] = []  # the fields of the block in progress
        self._received = bytearray()
        self.events: list[MessageEvent] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Decode ``chunk``; the lines that explain what it completed."""
        before = len(self._received)
        self._received += chunk
        if before < 3 <= len(self._received) and self._received[:3] == BOM:
            self._out.append("BOM at the start of the stream: dropped (only this one)")
        self.events += self._decoder.feed(chunk)
        return self._take()

    def close(self) -> list[str]:
        """End the stream; the footer: the stream's state and what was discarded."""
        self._decoder.close()
        decoder = self._decoder
        self._out.append(
            f"end of stream: last_event_id={decoder.last_event_id!r} retry={decoder.retry!r}"
        )
        discarded = []
        if self._block:
            lines = ", ".join(repr(field.line) for field in self._block)
            discarded.append(f"the block in progress ({lines}): no blank line ended it")
        tail = self._tail()
        if tail:
            discarded.append(f"the unterminated last line {tail!r}: no line ending")
        if discarded:
            for item in discarded:
                self._out.append(f"discarded: {item} (WHATWG HTML §9.2.6)")
        else:
            self._out.append("discarded: nothing")
        return self._take()

    def _tail(self) -> bytes:
        received = bytes(self._received)
        if received.startswith(BOM):
            received = received[3:]
        end = max(received.rfind(b"\n"), received.rfind(b"\r"))
        return received[end + 1 :]

    def _take(self) -> list[str]:
        out, self._out = self._out, []
        return out

    def _record(self, item: Line) -> None:
        if isinstance(item, Comment):
            shown = repr(":" + item.text)
            self._out.append(
                f"line {shown:<{_COLUMN}} -> comment {item.text!r} "
                "(ignored: a line starting with ':' is a comment)"
            )
        elif isinstance(item, Field):
            self._block.append(item)
            self._out.append(
                f"line {item.line!r:<{_COLUMN}} -> field {item.name!r} = {item.value!r}"
                + _field_note(item)
            )
        elif isinstance(item, Dispatch):
            self._dispatch(item)

    def _dispatch(self, item: Dispatch) -> None:
        self._block = []
        blank = repr("")
        if item.event is None:
            self._out.append(
                f"line {blank:<{_COLUMN}} -> blank line: dispatch, no data so no event "
                "(ignored: a block without data fires nothing; the event type is reset)"
            )
            return
        event = item.event
        self._out.append(f"line {blank:<{_COLUMN}} -> blank line: dispatch")
        self._out.append(
            f"     EVENT type={event.type!r} data={event.data!r} "
            f"last_event_id={event.last_event_id!r}"
        )
