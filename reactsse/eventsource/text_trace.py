"""``TextTrace``: a ``Trace`` that shows each layer of a stream once, short and aligned.

One line per happening, in the order it happened, each tagged with its layer::

    < wire   read 289 bytes: b'e4\\r\\ndata: {"id":"chatcmpl-…(289 bytes)…\\n\\n\\r\\n'
    < http   chunk-size line b'e4' (228 bytes follow)
    | sse    'data: {"id":"chatcmpl-1","object":"chat.…(219 chars)…}]}'
    | sse    '' (empty line: dispatch)
    = event  'message', 212 chars of data, last_event_id ''

Values are shown as ``repr`` (a hostile server's escape sequences never reach the terminal)
and, unless ``width`` is None, elided in the middle, with their length, to fit ``width``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO

from reactsse.errors import ReactSSEError
from reactsse.eventsource.trace import Trace
from reactsse.http import ResponseHead
from reactsse.http.redact import ReadRedactor
from reactsse.sse import Comment, Dispatch, Field

__all__ = ["TextTrace", "elide"]

# The layer column: "openai" is the longest tag.
_TAG_WIDTH = 6
# Never elide below this many characters of the value, however narrow the line.
_MIN_KEEP = 12
# ANSI colours of the marks (client, sent, received, SSE, events and typed values).
_COLOURS = {"*": "\x1b[36m", ">": "\x1b[32m", "<": "\x1b[33m", "|": "\x1b[35m", "=": "\x1b[34m"}
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def elide(value: str, room: int | None, length: int, unit: str = "chars") -> str:
    """``value`` itself when it fits in ``room`` characters (or ``room`` is None), else its
    beginning and end around ``…(length unit)…``, e.g. ``'{"id":"chat…(212 chars)…}]}'``."""
    if room is None or len(value) <= room:
        return value
    marker = f"…({length} {unit})…"
    keep = max(room - len(marker), _MIN_KEEP)
    tail = keep // 3
    return value[: keep - tail] + marker + value[len(value) - tail :]


class TextTrace(Trace):
    """A ready ``Trace`` that prints one line per happening to ``file`` (default ``sys.stderr``).

    Lines start with a mark and a layer: ``* conn``/``* source`` (the client), ``> http`` (the
    request as sent), ``< wire`` (a socket read), ``< http`` (the response head, each chunk-size
    line, a body that needed decoding), ``| sse`` (each line of the event stream as the decoder
    read it, the empty line that dispatches), ``= event`` (the event, once).

    ``width``: the longest line, long values being elided in the middle with their length;
    None prints everything. ``color``: ANSI colours (for a terminal; the caller decides, e.g.
    on ``isatty()`` and ``NO_COLOR``).
    """

    wants_chunk_lines = True

    def __init__(
        self, file: IO[str] | None = None, *, width: int | None = 100, color: bool = False
    ) -> None:
        self._file = file
        self.width = width
        self._color = color
        # Remembers a header line that a read boundary splits, to redact its second half too.
        self._reads = ReadRedactor()
        # Chunk-size lines of the read being decoded: shown after the head that precedes them.
        self._chunks: list[bytes] = []

    def show(self, mark: str, layer: str, text: str, value: str = "", length: int = 0) -> None:
        """Write one line: ``mark``, ``layer``, ``text``, then ``value`` elided to fit (its
        length given as ``length``, in characters)."""
        if self._chunks:
            self._show_chunks()
        self._emit(mark, layer, text, value, length)

    def _emit(
        self, mark: str, layer: str, text: str, value: str, length: int, unit: str = "chars"
    ) -> None:
        start = f"{mark} {layer:<{_TAG_WIDTH}} "
        room = None if self.width is None else self.width - len(start) - len(text)
        body = text + elide(value, room, length, unit)
        file = self._file if self._file is not None else sys.stderr
        if self._color:
            colour = _COLOURS.get(mark, "")
            file.write(f"{colour}{start}{_RESET}{_DIM}{body}{_RESET}\n")
        else:
            file.write(f"{start}{body}\n")
        file.flush()

    def _show_chunks(self) -> None:
        lines, self._chunks = self._chunks, []
        for line in lines:
            digits = line.split(b";", 1)[0].strip()
            try:
                size = int(digits, 16)
            except ValueError:
                what = ""
            else:
                what = " (the last chunk)" if size == 0 else f" ({size} bytes follow)"
            shown = repr(line)
            self._emit("<", "http", "chunk-size line ", shown + what, len(line), "bytes")

    def connecting(self, host: str, port: int, tls: bool) -> None:
        self.show("*", "conn", f"connecting to {host}:{port} ({'TLS' if tls else 'TCP'})")

    def via_proxy(self, proxy: str, tunnel: str) -> None:
        self.show("*", "conn", f"via proxy {proxy} ({tunnel})")

    def connected(self, peer: str, tls_version: str | None) -> None:
        self.show(
            "*", "conn", f"connected to {peer}" + (f" ({tls_version})" if tls_version else "")
        )

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        self.show(">", "http", "", request_line, len(request_line))
        for name, value in headers:
            self.show(">", "http", f"{name}: ", value, len(value))
        if body_size:
            self.show(">", "http", f"({body_size} bytes of body)")

    def socket_read(self, data: bytes | memoryview) -> None:
        size = len(data)
        if self._chunks:
            self._show_chunks()
        shown = self._reads.excerpt(data, size)
        self._emit("<", "wire", f"read {size} bytes: ", shown, size, "bytes")

    def response_head(self, head: ResponseHead) -> None:
        # The chunk-size lines read with the head come after it.
        chunks, self._chunks = self._chunks, []
        self.show("<", "http", f"HTTP/{head.http_version} {head.status} {head.reason}")
        for name, value in head.headers:
            self.show("<", "http", f"{name}: ", value, len(value))
        self._chunks = chunks

    def chunk_line(self, line: bytes) -> None:
        self._chunks.append(bytes(line))

    def body(self, size: int, decoded_size: int) -> None:
        dechunked = bool(self._chunks)
        if size != decoded_size:
            self.show("<", "http", f"body: {size} bytes, {decoded_size} decoded")
        elif not dechunked:
            self.show("<", "http", f"body: {size} bytes")
        else:
            self._show_chunks()

    def sse(self, record: Comment | Field | Dispatch) -> None:
        if isinstance(record, Comment):
            line = ":" + record.text
            self.show("|", "sse", "", repr(line), len(line))
        elif isinstance(record, Field):
            self.show("|", "sse", "", repr(record.line), len(record.line))
        elif record.event is None:
            self.show("|", "sse", "'' (empty line: nothing to dispatch)")
        else:
            event = record.event
            self.show("|", "sse", "'' (empty line: dispatch)")
            self.show(
                "=",
                "event",
                f"{event.type!r}, {len(event.data)} chars of data, "
                f"last_event_id {event.last_event_id!r}",
            )

    def redirect(self, status: int, location: str) -> None:
        self.show("*", "source", f"redirect {status} to ", location, len(location))

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        resume = f", Last-Event-ID: {last_event_id!r}" if last_event_id else ""
        why = f"({type(reason).__name__}: {reason}){resume}"
        self.show("*", "source", f"reconnecting in {delay:.3f} s ", why, len(why))

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        what = f"{type(error).__name__}: {error}"
        self.show("*", "source", f"{'fatal ' if fatal else ''}error: ", what, len(what))

    def closed(self) -> None:
        self.show("*", "source", "closed")
