"""Internal: the batch de-chunker, a fast reader for ``Transfer-Encoding: chunked`` bodies.

Not public API; ``reactsse.http.ClientConnection(body_reader="batch")`` uses it.

Why it exists: h11's ``ChunkedReader`` turns every HTTP chunk into one ``Data`` event, several
Python calls and two buffer copies; LLM servers send one HTTP chunk per SSE event, so that per-chunk
cost dominates a token stream. This reader walks the whole receive buffer in one loop
(``bytes.find(b"\\r\\n", pos)`` + ``int(size, 16)``) and returns every body byte of the call as
pieces that the caller joins once.

Invariants (the state machine, RFC 9112 §7.1 ``chunk = chunk-size [ chunk-ext ] CRLF chunk-data
CRLF``), one of exactly three states between calls:

* ``_remaining > 0``: inside chunk-data, that many bytes still to come (``_footer == 0``);
* ``_footer in (1, 2)``: chunk-data complete, the last ``_footer`` bytes of its CRLF still to come;
* otherwise: at the start of a chunk-size line; ``_pending`` holds its incomplete beginning
  (never a CRLF, at most ``max_line_size`` bytes, like h11's ``max_incomplete_event_size``).

It accepts and rejects exactly what h11 0.16's ``ChunkedReader`` does (the differential tests
in tests/test_http_dechunk.py check it): the chunk-size line is matched by the same grammar as
``h11._abnf.chunk_header`` (1 to 20 hex digits, an optional ``;`` extension of any bytes but LF,
trailing spaces/tabs, CRLF), a line is only judged once its CRLF has arrived, and a chunk footer
is judged byte by byte as it arrives (h11 before 0.16 skipped any two bytes there, the request
smuggling flaw CVE-2025-43859; we always check them). The last chunk (size 0) is *not*
consumed: ``feed`` returns the bytes from that line on, so that h11 reads the trailer section
and ends the message.
"""

from __future__ import annotations

import re

from reactsse.errors import LimitExceeded, RemoteProtocolError

__all__ = ["BatchDechunker", "excerpt"]

# h11._abnf.chunk_header, rebuilt here so that no private h11 name is imported: chunk-size is
# 1*HEXDIG capped at 20 digits (h11's "ridiculosity" cap), chunk-ext is ";" followed by anything
# but LF (h11 does not parse extensions), then OWS (h11 tolerates trailing whitespace), CRLF.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
# Validated bare-hex size lines and their values: a dict hit costs a quarter of strip + int().
# Only strings that passed the fast-path check are stored, so it cannot change what is accepted;
# bounded, and shared by all connections (a pure bytes -> int mapping).
_SIZE_CACHE: dict[bytes, int] = {}
_SIZE_CACHE_ENTRIES = 4096
# Chunk data shorter than this is sliced as bytes (one small copy; a lone piece is then returned
# by b"".join as is); longer data as memoryview slices, copied once by the caller's join.
_COPY_BELOW = 2048


def excerpt(data: bytes | bytearray | memoryview, limit: int = 60) -> str:
    """Return a bounded, escaped excerpt of ``data`` for an error message."""
    head = bytes(data[:limit])
    text = repr(head)[1:]  # b'...' -> '...'
    return text + (" (truncated)" if len(data) > limit else "")


class BatchDechunker:
    """Decode a chunked body over whole receive buffers.

    ``max_line_size`` bounds the incomplete chunk-size line kept between calls (h11's
    ``max_incomplete_event_size`` plays that role in its reader; the same value is passed).
    """

    __slots__ = ("_footer", "_max_line_size", "_pending", "_remaining")

    def __init__(self, *, max_line_size: int) -> None:
        self._max_line_size = max_line_size
        self._remaining = 0
        self._footer = 0
        self._pending = b""

    def feed_view(
        self, view: memoryview, out: list[bytes | bytearray | memoryview]
    ) -> bytes | None:
        """``feed`` for a view of a buffer that the caller reuses once the call returns.

        What a transport's read gives (``reactsse.connector``). The caller must copy what it
        keeps of ``out`` before then: ``b"".join(out)``, which is the one copy a body byte
        needs. Why it is fast: the data of large chunks (``_COPY_BELOW`` or more) is appended as
        views of ``view``, and only their size lines are copied (a few bytes each) to be parsed;
        a view that ends with one whole small chunk (a live token stream, one chunk per read)
        gives its data as one copy; at any other small chunk, or anything ``feed`` handles
        specially (an incomplete line or footer, an extension, the last chunk, an error), the
        rest of the view is copied once to ``bytes`` and goes through ``feed``, for which small
        copies cost less than views (measured in docs/http.md). Same results and errors as
        ``feed``.
        """
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

    def feed(self, data: bytes, out: list[bytes | bytearray | memoryview]) -> bytes | None:
        """Decode ``data``; append each body piece to ``out`` as soon as it is decoded.

        Returns None while the body goes on, or, once the last chunk's size line has started
        (a complete line whose size is zero), the bytes from that line on, to be handed to h11
        (it parses the trailer section and ends the message).

        Raises RemoteProtocolError for a malformed chunk-size line or chunk footer, LimitExceeded
        when an incomplete chunk-size line exceeds ``max_line_size``. Pieces appended to ``out``
        before the error stay there, so that the caller can deliver them.
        """
        if self._pending:
            # Only an incomplete chunk-size line is ever kept (bounded, usually a few bytes).
            search_from = len(self._pending) - 1  # its CR may be the last byte kept
            data = self._pending + data
            self._pending = b""
        else:
            search_from = 0
        size = len(data)
        pos = 0
        remaining = self._remaining
        footer = self._footer
        append = out.append
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
                # RFC 9112 §7.1: chunk-data is followed by CRLF. h11 compares byte by byte as
                # they arrive, so a lone CR at the end of the buffer is not (yet) an error.
                if footer == 2:
                    if data.startswith(b"\r\n", pos):
                        pos += 2
                    elif pos == size:
                        break
                    elif pos + 1 == size and data[pos] == 13:
                        pos += 1
                        footer = 1
                        break
                    else:
                        raise RemoteProtocolError(
                            "malformed chunk footer: expected CRLF after the chunk data, got "
                            f"{excerpt(data[pos : pos + 2])} (RFC 9112 §7.1)"
                        )
                else:
                    if pos == size:
                        break
                    if data[pos] != 10:
                        raise RemoteProtocolError(
                            "malformed chunk footer: expected LF after CR, got "
                            f"{excerpt(data[pos : pos + 1])} (RFC 9112 §7.1)"
                        )
                    pos += 1
                footer = 0
                search_from = pos
            line_end = data.find(b"\r\n", search_from)
            if line_end < 0:
                break
            digits = data[pos:line_end]
            chunk_size = _SIZE_CACHE.get(digits)
            if chunk_size is not None:
                pass  # a size line seen before (servers repeat a handful of sizes)
            elif 0 < len(digits) <= 20 and not digits.strip(_HEX_DIGITS):
                # Fast path: bare hex digits (what every streaming server sends).
                chunk_size = int(digits, 16)
                if len(_SIZE_CACHE) < _SIZE_CACHE_ENTRIES:
                    _SIZE_CACHE[digits] = chunk_size
            else:
                match = _CHUNK_LINE.fullmatch(data, pos, line_end + 2)
                if match is None:
                    raise RemoteProtocolError(
                        f"illegal chunk header: {excerpt(data[pos : line_end + 2])} "
                        "(RFC 9112 §7.1: chunk-size is 1*HEXDIG)"
                    )
                chunk_size = int(match.group(1), 16)
            if chunk_size == 0:
                # The last chunk: h11 takes over from this line on (trailers, end of message).
                self._remaining = 0
                self._footer = 0
                return data[pos:]
            pos = line_end + 2
            remaining = chunk_size
        self._remaining = remaining
        self._footer = footer
        if pos < size:
            # Only reachable at the start of a chunk-size line (no CRLF yet).
            rest = data[pos:]
            if len(rest) > self._max_line_size:
                raise LimitExceeded(
                    f"chunk-size line longer than {self._max_line_size} bytes without CRLF: "
                    f"{excerpt(rest)}",
                    limit=self._max_line_size,
                )
            self._pending = rest
        return None
