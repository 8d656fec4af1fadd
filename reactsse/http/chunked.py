"""The batch de-chunker: a fast reader of ``Transfer-Encoding: chunked`` bodies (RFC 9112 §7.1).

``ClientConnection(body_reader="batch")`` (the default) gives it every byte after a chunked
response's head: the chunks, the last chunk and the trailer section; it owns them alone.

Why it exists: h11's ``ChunkedReader`` turns every HTTP chunk into one ``Data`` event, several
Python calls and two buffer copies; LLM servers send one HTTP chunk per SSE event, so that per-chunk
cost dominates a token stream. This reader walks the whole receive buffer in one loop
(``bytes.find(b"\\r\\n", pos)`` + ``int(size, 16)``) and returns every body byte of the call as
pieces that the caller joins once.

Invariants (the state machine, RFC 9112 §7.1 ``chunk = chunk-size [ chunk-ext ] CRLF chunk-data
CRLF``), one of exactly four states between calls:

* ``_remaining > 0``: inside chunk-data, that many bytes still to come (``_footer == 0``);
* ``_footer in (1, 2)``: chunk-data complete, the last ``_footer`` bytes of its CRLF still to come;
* ``_in_trailers``: the last chunk (size 0) was read; ``_pending`` holds the trailer section so
  far (bounded by ``max_line_size``), after the LF that ended the last-chunk line;
* otherwise: at the start of a chunk-size line; ``_pending`` holds its incomplete beginning
  (never a CRLF, at most ``max_line_size`` bytes).

What it accepts is the same input language as h11 0.16's reader (the differential tests in
tests/test_http_dechunk.py feed both the same bytes), so that both ``body_reader`` choices give
the same results and errors: see ``_CHUNK_LINE`` for the chunk-size line; a line is only judged
once its CRLF has arrived; a chunk footer is judged byte by byte as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import h11

from reactsse.errors import LimitExceeded, RemoteProtocolError
from reactsse.http.redact import redact_header_lines

__all__ = ["BatchDechunker", "excerpt", "parse_trailers"]

# The chunk-size line we accept (RFC 9112 §7.1): chunk-size is 1*HEXDIG, capped at 20 digits so
# that no absurd number is built; chunk extensions are ignored (RFC 9112 §7.1.1 lets a recipient
# ignore the ones it does not understand, and we understand none), so ";" may be followed by any
# bytes but LF; trailing spaces and tabs are tolerated; then CRLF. The choices are the ones h11's
# reader makes, so that body_reader="batch" and "h11" agree; tests/test_http_dechunk.py feeds
# both the same bytes, cut anywhere, and compares what each returns.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n")
# The end of a trailer section: the first empty line, a line ending in LF with or without CR
# before it (RFC 9112 §2.2 lets a recipient accept a bare LF as a line terminator).
_BLANK_LINE = re.compile(rb"\n\r?\n")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
# Validated bare-hex size lines and their values: a dict hit is cheaper than strip + int()
# (docs/http.md). Only strings that passed the bare-hex check are stored, so it cannot change
# what is accepted; bounded, and shared by all connections (a pure bytes -> int mapping).
_SIZE_CACHE: dict[bytes, int] = {}
_SIZE_CACHE_ENTRIES = 4096
# Chunk data shorter than this is sliced as bytes (one small copy; a lone piece is then returned
# by b"".join as is); longer data as memoryview slices, copied once by the caller's join.
_COPY_BELOW = 2048
# A read holding more than this after a whole small chunk is worth a try of the run of whole
# small chunks (``BatchDechunker._whole_chunks``): a burst of token events read at once.
_RUN_FROM = 1024


def excerpt(data: bytes | bytearray | memoryview, limit: int = 60) -> str:
    """Return a bounded, escaped excerpt of ``data`` for an error message (secret header
    values redacted: the excerpt may be of a response head)."""
    head = redact_header_lines(bytes(data[:limit]))
    text = repr(head)[1:]  # b'...' -> '...'
    return text + (" (truncated)" if len(data) > limit else "")


class BatchDechunker:
    """Decode a chunked body over whole receive buffers.

    ``feed`` walks ``bytes``; the per-chunk loop is written out in it on purpose (every chunk
    passes through it, and a call per chunk would cost more than the work it does): only what is
    rare (a footer split across reads or malformed, a size not seen before, the last chunk and
    trailers, an incomplete line) is delegated to helpers.

    ``feed_view`` takes a view of the transport's reused read buffer. Why it is fast: the data of
    large chunks (``_COPY_BELOW`` or more) is appended as views of it, and only their size lines
    are copied (a few bytes each) to be parsed, so the caller's join is those bytes' one copy; a
    view that ends with one whole small chunk (a live token stream, one chunk per read) gives its
    data as one copy; at any other small chunk, or anything ``feed`` handles specially (an
    incomplete line or footer, an extension, the last chunk, an error), the rest of the view is
    copied once to ``bytes`` and goes through ``feed``, for which small copies cost less than
    views (docs/http.md has the measurements).

    ``max_line_size`` bounds the incomplete chunk-size line and the incomplete trailer section
    kept between calls (``ClientConnection`` passes its ``max_header_size``, which it also gives
    h11 as ``max_incomplete_event_size``).
    """

    __slots__ = (
        "_footer",
        "_in_trailers",
        "_max_line_size",
        "_pending",
        "_remaining",
        "_runs",
        "_search_from",
        "_size_of",
        "excess",
    )

    def __init__(
        self, *, max_line_size: int, on_size_line: Callable[[bytes], None] | None = None
    ) -> None:
        self._max_line_size = max_line_size
        # How feed looks up a chunk-size line: the shared cache's get, or (to show each line as
        # received, for a trace) a function that reports the line first. Bound once per call, so
        # the untraced loop pays nothing for the choice. feed_view's fast path reads size lines
        # itself: a traced connection calls feed only.
        self._size_of: Callable[[bytes], int | None] = (
            _SIZE_CACHE.get if on_size_line is None else _reporting(on_size_line)
        )
        self._remaining = 0
        self._footer = 0
        self._pending = b""
        self._in_trailers = False
        self._search_from = 0
        #: Bytes that came after the end of the body in the read that ended it (nobody asked
        #: for them: the connection must not be reused). They are not returned.
        self.excess = 0
        # Whether feed tries _whole_chunks: not for a trace (it reads size lines without
        # reporting them), and not again on a body where it once took less than half the read.
        self._runs = on_size_line is None

    def feed_view(
        self, view: memoryview, out: list[bytes | bytearray | memoryview]
    ) -> tuple[tuple[bytes, bytes], ...] | None:
        """``feed`` for a view of a buffer that the caller reuses once the call returns (what a
        transport's read gives): the caller must copy what it keeps of ``out`` before then,
        ``b"".join(out)``. Same results and errors as ``feed``; see the class docstring."""
        size = len(view)
        pos = 0
        if not self._pending:
            while True:
                remaining = self._remaining
                if remaining:  # inside chunk data (then _footer is 0)
                    end = pos + remaining
                    if end >= size:
                        if size > pos:
                            out.append(view[pos:])
                        self._remaining = end - size
                        if not self._remaining:
                            self._footer = 2
                        return None
                    out.append(view[pos:end])
                    pos = end
                    self._remaining = 0
                    self._footer = 2
                if self._footer:
                    if (
                        self._footer == 1
                        or size - pos < 2
                        or view[pos] != 13
                        or view[pos + 1] != 10
                    ):
                        break  # a footer to complete (or malformed): feed judges it
                    pos += 2
                    self._footer = 0
                # The next size line, if it is short, bare hex and complete in this view.
                window = bytes(view[pos : pos + 24])
                line_end = window.find(b"\r\n")
                if line_end <= 0:
                    break
                digits = window[:line_end]
                if len(digits) > 20 or digits.strip(_HEX_DIGITS):
                    break
                chunk_size = int(digits, 16)
                if chunk_size < _COPY_BELOW:
                    start = pos + line_end + 2
                    end = start + chunk_size
                    if chunk_size and end + 2 == size and view[end] == 13 and view[end + 1] == 10:
                        # Exactly one whole small chunk left: a live token stream reads one at
                        # a time. Its data is copied out once, and nothing else.
                        out.append(bytes(view[start:end]))
                        return None
                    break  # small chunks (or the last one): feed takes the rest of the view
                pos += line_end + 2
                self._remaining = chunk_size
        if pos == size:
            return None
        return self.feed(bytes(view[pos:]), out)

    def feed(
        self, data: bytes, out: list[bytes | bytearray | memoryview]
    ) -> tuple[tuple[bytes, bytes], ...] | None:
        """Decode ``data``; append each body piece to ``out`` as soon as it is decoded.

        Returns None while the body goes on; at its end (the trailer section complete) the
        trailer fields, (lower-cased name, value) pairs, ``()`` for none. Raises
        RemoteProtocolError (malformed size line, footer or trailers) or LimitExceeded (over
        ``max_line_size``); pieces appended to ``out`` before the error stay there."""
        # One function, a little over the size the project aims for: its loop runs once per
        # chunk, and every helper call taken out of it would be paid per chunk (docs/http.md).
        search_from = 0
        if self._pending:
            if self._in_trailers:
                return self._feed_trailers(data)
            data, search_from = self._resume_line(data)
        size = len(data)
        pos = 0
        remaining = self._remaining
        footer = self._footer
        append = out.append
        size_of = self._size_of
        runs = self._runs
        view: memoryview | None = None
        while True:
            if remaining:
                end = pos + remaining
                if end > size:
                    end = size
                    remaining -= size - pos
                else:
                    remaining = 0
                if end - pos < _COPY_BELOW:
                    if end > pos:
                        append(data[pos:end])  # a small copy is cheaper than a view
                else:
                    if view is None:
                        view = memoryview(data)
                    append(view[pos:end])  # no copy until the caller's single join
                pos = end
                if remaining:
                    break
                footer = 2
            if footer:
                # RFC 9112 §7.1: chunk-data is followed by CRLF.
                if footer == 2 and data.startswith(b"\r\n", pos):
                    pos += 2
                else:
                    pos, footer = _footer_rest(data, pos, footer)
                    if footer:
                        break
                footer = 0
                search_from = pos
            line_end = data.find(b"\r\n", search_from)
            if line_end < 0:
                break
            digits = data[pos:line_end]
            chunk_size = size_of(digits)  # the cache: servers repeat a handful of sizes
            if chunk_size is None:
                chunk_size = _size_line(data, pos, line_end, digits)
            if chunk_size == 0:
                return self._start_trailers(data, line_end + 1)
            if runs and chunk_size < _COPY_BELOW and size - line_end - chunk_size > _RUN_FROM:
                # A small chunk, whole in this read with more than _RUN_FROM bytes after it.
                runs = False  # once a call: each try splits the rest of the read
                after = self._whole_chunks(data, pos, line_end + 2 + chunk_size, out)
                if after - pos < (size - pos) >> 1:
                    self._runs = False  # it took less than half: this body has other shapes
                if after > pos:
                    pos = search_from = after
                    continue  # at the next chunk-size line
            pos = line_end + 2
            remaining = chunk_size
        self._remaining = remaining
        self._footer = footer
        if pos < size:
            self._keep_line(data[pos:])  # only at the start of a chunk-size line (no CRLF yet)
        return None

    def _whole_chunks(
        self, data: bytes, pos: int, end: int, out: list[bytes | bytearray | memoryview]
    ) -> int:
        """Take the run of whole chunks that starts with the chunk-size line at ``data[pos]``
        (its data ends at ``end``), up to the first that is not plain; return the position after
        it (``pos``: none, and then nothing was split: the first chunk is checked first).

        Why it is fast: a burst of small chunks (a server that flushes per token, read many at
        once) costs feed's loop a few Python steps per chunk; here one C split at every CRLF
        gives the size lines and the data of all of them, and maps in C check them. The split is
        exact where it is accepted: if every size line is a bare-hex size seen before (the
        cache) and every piece after it has exactly that length, then each chunk is followed by
        its CRLF, and feed's loop would have read the same chunks. A chunk whose data holds a
        CRLF, an extension or whitespace, a size not seen yet, a malformed footer, the last chunk
        and whatever follows: the run stops before it, and feed's loop reads it as usual.
        """
        if data.find(b"\r\n", data.find(b"\r\n", pos) + 2, end + 2) != end:
            return pos  # the first chunk's data holds a CRLF, or its own is missing
        pieces = (data[pos:] if pos else data).split(b"\r\n")
        pairs = (len(pieces) - 1) // 2  # (size line, data) pairs followed by a CRLF
        lines = pieces[0 : 2 * pairs : 2]
        chunks = pieces[1 : 2 * pairs : 2]
        sizes = list(map(_SIZE_CACHE.get, lines))
        lengths = list(map(len, chunks))
        if sizes != lengths:  # the run stops at the first difference (None: not in the cache)
            pairs = next(i for i, (s, n) in enumerate(zip(sizes, lengths, strict=True)) if s != n)
        if 0 in sizes[:pairs]:
            pairs = sizes.index(0)  # the last chunk: feed reads it, and the trailers
        if not pairs:
            return pos
        out += chunks[:pairs]
        return pos + sum(lengths[:pairs]) + sum(map(len, lines[:pairs])) + 4 * pairs

    def _resume_line(self, data: bytes) -> tuple[bytes, int]:
        """Only an incomplete chunk-size line is ever kept (bounded, usually a few bytes): put it
        before ``data``; the search for its CRLF starts at its last byte (maybe its CR)."""
        pending, self._pending = self._pending, b""
        return pending + data, len(pending) - 1

    def _keep_line(self, rest: bytes) -> None:
        if len(rest) > self._max_line_size:
            raise LimitExceeded(
                f"chunk-size line longer than {self._max_line_size} bytes without CRLF: "
                f"{excerpt(rest)}",
                limit=self._max_line_size,
            )
        self._pending = rest

    def _start_trailers(self, data: bytes, newline: int) -> tuple[tuple[bytes, bytes], ...] | None:
        """The last chunk (size 0) ended at ``data[newline]``: the trailer section follows."""
        self._remaining = 0
        self._footer = 0
        self._in_trailers = True
        self._search_from = 0
        return self._feed_trailers(data[newline:])

    def _feed_trailers(self, data: bytes) -> tuple[tuple[bytes, bytes], ...] | None:
        """RFC 9112 §7.1.2: ``trailer-section = *( field-line CRLF )``, then the CRLF that ends
        the body. ``_pending`` keeps the section so far, after the LF that ended the last-chunk
        line, so that an empty section is found by the same search: the first empty line."""
        buffer = self._pending + data
        match = _BLANK_LINE.search(buffer, self._search_from)
        if match is None:
            if len(buffer) - 1 > self._max_line_size:
                raise LimitExceeded(
                    f"trailer section longer than {self._max_line_size} bytes without its "
                    f"end: {excerpt(buffer[1:])}",
                    limit=self._max_line_size,
                )
            self._pending = buffer
            self._search_from = max(0, len(buffer) - 2)  # no rescans
            return None
        self._pending = b""
        self._in_trailers = False
        self.excess = len(buffer) - match.end()
        if match.start() == 0:
            return ()  # no trailer field: the usual end of a body, "0\r\n\r\n"
        return parse_trailers(buffer[1 : match.end()])


def _reporting(on_size_line: Callable[[bytes], None]) -> Callable[[bytes], int | None]:
    """A size lookup that reports each chunk-size line (extensions included) as received."""

    def size_of(line: bytes) -> int | None:
        on_size_line(line)
        return _SIZE_CACHE.get(line)

    return size_of


def _footer_rest(data: bytes, pos: int, footer: int) -> tuple[int, int]:
    """The CRLF after chunk data when it is not whole at ``pos``: a CR or nothing left (it
    continues in the next read), or not CRLF at all (an error). ``footer`` is how many of its
    bytes are still due (2 or 1). Returns the new position and how many are still due.

    Judged byte by byte as the bytes arrive, so a lone CR at the end of a read is not (yet) an
    error. (h11 before 0.16 skipped any two bytes here: the request smuggling flaw
    CVE-2025-43859; we always check them.)"""
    size = len(data)
    if pos == size:
        return pos, footer
    if footer == 2:
        if pos + 1 == size and data[pos] == 13:
            return pos + 1, 1
        raise RemoteProtocolError(
            "malformed chunk footer: expected CRLF after the chunk data, got "
            f"{excerpt(data[pos : pos + 2])} (RFC 9112 §7.1)"
        )
    if data[pos] != 10:
        raise RemoteProtocolError(
            "malformed chunk footer: expected LF after CR, got "
            f"{excerpt(data[pos : pos + 1])} (RFC 9112 §7.1)"
        )
    return pos + 1, 0


def _size_line(data: bytes, pos: int, line_end: int, digits: bytes) -> int:
    """The chunk size of the line ``data[pos:line_end]`` (``digits``), not in the cache."""
    if 0 < len(digits) <= 20 and not digits.strip(_HEX_DIGITS):
        # Bare hex digits (what every streaming server sends): validated, so cacheable.
        chunk_size = int(digits, 16)
        if len(_SIZE_CACHE) < _SIZE_CACHE_ENTRIES:
            _SIZE_CACHE[digits] = chunk_size
        return chunk_size
    # An extension, whitespace, or malformed: see _CHUNK_LINE.
    match = _CHUNK_LINE.fullmatch(data, pos, line_end + 2)
    if match is None:
        raise RemoteProtocolError(
            f"illegal chunk header: {excerpt(data[pos : line_end + 2])} "
            "(RFC 9112 §7.1: chunk-size is 1*HEXDIG)"
        )
    return int(match.group(1), 16)


def parse_trailers(section: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """Parse a complete trailer section (its lines and the empty line that ends it) into
    (lower-cased name, value) pairs.

    Lines end in LF, a CR before it is dropped (RFC 9112 §2.2 lets a recipient accept a bare
    LF); a line that starts with a space or tab continues the previous one (obs-fold, replaced
    by one space: RFC 9112 §5.2); each line is ``field-name ":" OWS field-value OWS`` (RFC 9112
    §5). The fields are then validated by h11's public ``EndOfMessage`` (field-name a token,
    field-value grammar, Content-Length and Transfer-Encoding rules), the same check h11
    applies to the trailers its own reader parses.
    """
    lines = section.split(b"\n")
    del lines[-2:]  # the empty line and what follows its LF (nothing)
    fields: list[tuple[bytes, bytes]] = []
    folded: list[bytes] = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line[:1] in (b" ", b"\t"):
            if not folded:
                raise RemoteProtocolError(
                    f"malformed trailer section: continuation line at its start: {excerpt(line)}"
                )
            folded[-1] += b" " + line.lstrip(b" \t")
        else:
            folded.append(line)
    for line in folded:
        name, colon, value = line.partition(b":")
        if not colon:
            raise RemoteProtocolError(f"malformed trailer line: {excerpt(line)}")
        fields.append((name, value.strip(b" \t")))
    try:
        end = h11.EndOfMessage(headers=fields)
    except h11.ProtocolError as exc:
        raise RemoteProtocolError(f"malformed trailer section: {exc}") from exc
    return tuple(end.headers)
