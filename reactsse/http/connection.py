"""The sans-IO HTTP/1.1 client connection: request bytes out, response head / body bytes / end in.

No socket, clock, loop or thread here: a caller (``reactsse.eventsource``, a test, a blocking
socket loop) moves the bytes. h11 is the HTTP state machine for the request and the response head.

Who owns which bytes (one reader per byte, never two taking turns on one stream):

* The response head (and any 1xx heads before it) is h11's: ``receive_data`` feeds h11 the bytes
  until h11's public ``next_event`` returns the final ``Response``.
* The body's framing is then decided from that response's public data (``body_framing``, RFC
  9112 §6.3), and one reader owns every byte after the head:

  - ``body_reader="h11"``, or a body delimited by Content-Length, or no body (HEAD, 204, 304):
    h11 goes on reading the same stream to the end of the message;
  - ``body_reader="batch"`` (the default) and a chunked body: the batch de-chunker
    (``reactsse.http.chunked``) gets every byte after the head (h11's public ``trailing_data``
    hands back what h11 had received past the head) and reads the chunks, the last chunk and
    the trailer section; h11 is fed nothing more;
  - ``body_reader="batch"`` and a close-delimited body (RFC 9112 §6.3 rule 8): every byte after
    the head is body, passed straight through; EOF ends the message.

* Content-Encoding (``reactsse.http.content``): whatever reader framed the body, the body bytes
  returned are already decoded (gzip, deflate), at EOF and at the end of the message too.

State machine of ``ClientConnection`` (``ConnectionState``), its invariants:

* ``IDLE``: no request sent; ``receive_data`` is a caller error.
* ``HEAD``: request sent; every byte received so far was given to h11; ``_head`` holds the
  bytes of the head being read (for the size cap and error excerpts). 1xx heads are skipped.
* ``BODY``: the final head was returned; exactly one body reader owns the bytes (see above).
  ``_dechunker`` / ``_close_delimited`` are set only for a batch-read body without content
  coding: they select ``receive_data``'s hot paths.
* ``DONE``: ``ResponseEnd`` was returned; later bytes (and EOF) are ignored. ``keep_alive``
  says whether the connection may carry another request (RFC 9112 §9.3: HTTP/1.1, no
  ``Connection: close`` either way, a body delimited without the close, nothing received past
  the end); if so, ``start_next_cycle`` returns to ``IDLE`` for the next request (h11's
  ``start_next_cycle``), else the caller closes the connection.
* ``ERROR``: a call met a fault. That call returned everything decoded before the fault (as h11
  does); the fault is raised by the next ``receive_data`` (any data) or ``raise_error`` call,
  and every call after that raises ``LocalProtocolError``. The faults: RemoteProtocolError
  (garbage instead of HTTP, a bad status line or header, a bad chunk size, footer or trailer
  section, a bad Content-Length, corrupt gzip/deflate, an unsupported Content-Encoding),
  LimitExceeded (a head, chunk-size line or trailer section over ``max_header_size``; a body
  inflating past the decoder's cap in one read), ConnectionClosed (EOF before the response
  was complete; a close-delimited body ends cleanly at EOF).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Literal

import h11

from reactsse.errors import (
    ConnectionClosed,
    LocalProtocolError,
    ReactSSEError,
    RemoteProtocolError,
)
from reactsse.http.chunked import BatchDechunker, excerpt
from reactsse.http.content import ContentDecoder, content_decoder_for
from reactsse.http.events import ResponseEnd, ResponseEvent, ResponseHead, decode_headers
from reactsse.http.head import (
    body_framing,
    bounded,
    final_head,
    request_event,
    response_head,
    says_close,
    translated,
)
from reactsse.http.url import URL

__all__ = [
    "DEFAULT_BODY_READER",
    "DEFAULT_MAX_HEADER_SIZE",
    "ClientConnection",
    "ConnectionState",
    "body_framing",
]

DEFAULT_MAX_HEADER_SIZE = 64 * 1024
"""Default cap, in bytes, of a response head, an incomplete chunk-size line and the trailers."""

# 1xx heads skipped before the final one, at most: a client that skips them without a count
# can be held for ever by a server that sends "102 Processing" without end. A real server sends
# a few (a 100 Continue, some 103 Early Hints, a 102 per long wait).
DEFAULT_MAX_INFORMATIONAL = 32

DEFAULT_BODY_READER: Literal["batch", "h11"] = "batch"
"""The chunked-body reader ``ClientConnection`` uses unless told otherwise (see docs/http.md)."""


class ConnectionState(enum.Enum):
    """Where a ``ClientConnection`` is; see the module docstring for the invariants."""

    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    DONE = "done"
    ERROR = "error"


class ClientConnection:
    """One HTTP/1.1 request and its response, as bytes in and events out (sans-IO).

    ``body_reader``: ``"batch"`` (the default, see docs/http.md "Benchmarks") decodes chunked
    bodies with the batch de-chunker and passes close-delimited bodies straight through;
    ``"h11"`` reads every body with h11's own readers; both give the same results.
    ``max_header_size``: cap in bytes of a response head (each 1xx head too), of an incomplete
    chunk-size line and of the trailer section; exceeding it is a LimitExceeded fault.
    ``max_informational``: how many 1xx heads are skipped before the final head; one more is a
    LimitExceeded fault.
    Body bytes are returned content-decoded (gzip, x-gzip, deflate; see ``ContentDecoder``).
    ``on_chunk_line`` (for a trace) is called with each chunk-size line of a chunked body, as
    received and without its CRLF, by the batch reader (h11's reader does not show them); such
    a connection skips the hot paths of ``receive_data``.

    Faults follow h11's convention: the ``receive_data`` call that meets one returns everything
    it decoded before it; the next call raises it (see ``ERROR`` in the module docstring).
    """

    # Over the ~300 lines the project aims for: one state machine over one byte stream, whose
    # every transition (head, body reader, end, fault) is kept here so that the owner of each
    # byte is decided in one place. The readers it hands bytes to (h11, the de-chunker, the
    # content decoder) and the head rules (``head.py``) are modules of their own.

    def __init__(
        self,
        *,
        body_reader: Literal["batch", "h11"] = DEFAULT_BODY_READER,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_informational: int = DEFAULT_MAX_INFORMATIONAL,
        on_chunk_line: Callable[[bytes], None] | None = None,
    ) -> None:
        if body_reader not in ("batch", "h11"):
            raise ValueError(f"body_reader must be 'batch' or 'h11', not {body_reader!r}")
        if max_header_size < 1:
            raise ValueError("max_header_size must be positive")
        if max_informational < 0:
            raise ValueError("max_informational must be >= 0")
        self._body_reader = body_reader
        self._max_informational = max_informational
        self._max_header_size = max_header_size
        self._on_chunk_line = on_chunk_line
        self._new_cycle()

    @property
    def state(self) -> ConnectionState:
        """The current ``ConnectionState``."""
        return self._state

    @property
    def body_reader(self) -> Literal["batch", "h11"]:
        """Which chunked-body reader this connection uses."""
        return self._body_reader

    @property
    def encoded_size(self) -> int | None:
        """How many body bytes as received (after de-chunking, before content decoding) the
        body bytes of the last ``receive_data`` call were decoded from; None when the response
        has no Content-Encoding to decode."""
        return self._encoded_size

    @property
    def keep_alive(self) -> bool:
        """True in ``DONE`` when the connection may carry the next request (RFC 9112 §9.3):
        the response was HTTP/1.1, neither side sent ``Connection: close``, the body was
        delimited by its framing (not by the close), and no byte came after its end. (The
        batch de-chunker drops bytes after the trailer section in the read that ends the
        body; bytes in any later read are seen here.)"""
        return self._state is ConnectionState.DONE and self._persistent

    def start_next_cycle(self) -> None:
        """Back to ``IDLE`` after a response that left the connection ``keep_alive``, for the
        next ``send_request`` on the same connection (h11's ``start_next_cycle``). Raises
        LocalProtocolError in any other state, or when the connection must be closed."""
        if not self.keep_alive:
            raise LocalProtocolError(
                "start_next_cycle() needs a finished keep-alive response "
                f"(state {self._state.value})"
            )
        self._new_cycle()

    def _new_cycle(self) -> None:
        """Set the state of one request and its response, all of it, as a new connection has
        it: ``__init__`` and ``start_next_cycle`` both start here, so that no cycle sees what
        the one before it left."""
        # A fresh h11 state machine: the batch readers took the body away from h11, so h11's
        # own cycle is not at its end; what it would carry over (the peer's version, keep-alive)
        # is checked by start_next_cycle.
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._max_header_size)
        self._state = ConnectionState.IDLE
        self._method = b""
        self._url: URL | None = None
        self._head = bytearray()
        self._informational = 0  # 1xx heads skipped
        # The body reader after the head (see the module docstring): the de-chunker, or
        # "close" for a close-delimited body read by us, or neither: h11.
        self._chunked: BatchDechunker | None = None
        self._close = False
        self._content: ContentDecoder | None = None
        self._encoded_size: int | None = None
        # The hot paths of receive_data: set only while there is no content to decode.
        self._dechunker: BatchDechunker | None = None
        self._close_delimited = False
        self._fault: ReactSSEError | None = None
        # Keep-alive (RFC 9112 §9.3): cleared by "Connection: close" in the request or the
        # response, an HTTP/1.0 response, a close-delimited body, or bytes after the end.
        self._persistent = True

    # -- sending --------------------------------------------------------------------------

    def send_request(
        self,
        method: str,
        url: URL,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> bytes:
        """Return the wire bytes of the request (head and body); call once per connection.

        Default headers: ``Host``, ``Accept: text/event-stream``, ``Cache-Control: no-cache``,
        ``User-Agent: reactsse/<version>``; ``Content-Length`` for a body, and
        ``Content-Length: 0`` for a bodiless POST, PUT or PATCH. A header in ``headers`` replaces
        the default of the same name (case-insensitive); several user headers of one name are
        all sent. No ``Accept-Encoding`` is sent unless given. Values are stripped of spaces and
        tabs around them and encoded latin-1.

        Raises LocalProtocolError: a second request, a header name or value that HTTP forbids
        (CR, LF, NUL, non-latin-1, not a token), a body that does not match a user-given
        Content-Length.
        """
        if self._state is not ConnectionState.IDLE:
            raise LocalProtocolError(
                "send_request() may be called once per ClientConnection (per cycle: see "
                "start_next_cycle)"
            )
        try:
            request, closes = request_event(method, url, tuple(headers), body)
            out = bytearray(self._h11.send(request) or b"")
            if body:
                out += self._h11.send(h11.Data(data=body)) or b""
            out += self._h11.send(h11.EndOfMessage()) or b""
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"cannot encode request: {exc}") from exc
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"invalid request: {bounded(str(exc))}") from exc
        self._method = request.method
        self._url = url
        self._state = ConnectionState.HEAD
        self._persistent = not closes
        return bytes(out)

    # -- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[ResponseEvent]:
        """Feed bytes received from the server; ``b""`` means the server closed (EOF).

        ``data`` is read during the call only, so it may be a view of a buffer the caller
        reuses (what a transport's ``on_data`` gets): every body byte is copied out of it once,
        into the body ``bytes`` returned, and nothing else is kept.

        Returns, in this order, at most one ``ResponseHead`` (1xx heads are skipped), at most one
        ``bytes`` holding all body bytes this call decoded (joined, content-decoded, never
        empty), and at most one ``ResponseEnd``. After the end, further bytes and EOF are
        ignored (returns ``[]``). A call that meets a fault returns what it decoded before the
        fault and leaves the state at ``ERROR``; the next call raises the fault (see the class
        docstring). Raises LocalProtocolError before ``send_request``.
        """
        body: list[bytes | bytearray | memoryview] = []
        dechunker = self._dechunker
        if dechunker is not None and data:
            # Hot path: inside a chunked body (one call per received buffer of a token stream).
            # A view or bytearray goes to feed_view, which takes large chunks' data as views of
            # it: the join below is then their only copy.
            try:
                if type(data) is bytes:
                    trailers = dechunker.feed(data, body)
                else:
                    trailers = dechunker.feed_view(
                        data if type(data) is memoryview else memoryview(data), body
                    )
            except ReactSSEError as exc:
                self._fail(exc)
                return self._events(None, body, None)
            if trailers is None:
                joined = b"".join(body)
                return [joined] if joined else []
            return self._events(None, body, self._end(trailers))
        elif self._close_delimited and data:
            # Hot path of a close-delimited body: bytes as they are, a view copied once.
            return [data if type(data) is bytes else bytes(data)]
        state = self._state
        if state is not ConnectionState.HEAD and state is not ConnectionState.BODY:
            if state is ConnectionState.DONE:
                if data:  # RFC 9112 §9.3: bytes no request asked for; do not reuse
                    self._persistent = False
                return []
            self.raise_error()
        if type(data) is not bytes:
            data = bytes(data)  # a head, a body read by h11 or to be decoded, or the end
        found: list[ResponseHead] = []
        end: ResponseEnd | None = None
        try:
            end = self._receive(data, body, found)
        except ReactSSEError as exc:
            self._fail(exc)
        except BaseException:
            self._fail(None)
            raise
        return self._events(found[0] if found else None, body, end)

    def raise_error(self) -> None:
        """In ``ERROR``, raise the fault (once; then LocalProtocolError): what a caller does
        after a ``receive_data`` call that left ``ERROR``, not to wait for more bytes. Returns
        None in the other states, but IDLE (LocalProtocolError)."""
        if self._state is ConnectionState.IDLE:
            raise LocalProtocolError("receive_data() called before send_request()")
        if self._state is not ConnectionState.ERROR:
            return
        fault, self._fault = self._fault, None
        if fault is not None:
            raise fault
        raise LocalProtocolError("receive_data() called after the connection failed")

    def _fail(self, fault: ReactSSEError | None) -> None:
        self._stop(ConnectionState.ERROR)
        self._fault = fault

    def _stop(self, state: ConnectionState) -> None:
        self._state = state
        self._dechunker = None  # so that the hot paths of receive_data are not taken any more
        self._close_delimited = False
        self._chunked = None
        self._close = False

    def _events(
        self,
        head: ResponseHead | None,
        body: list[bytes | bytearray | memoryview],
        end: ResponseEnd | None,
    ) -> list[ResponseEvent]:
        joined = b"".join(body) if body else b""
        content = self._content
        if content is not None and (joined or end is not None):
            joined, end = self._decode(content, joined, end)
        events: list[ResponseEvent] = [] if head is None else [head]
        if joined:
            events.append(joined)
        if end is not None:
            events.append(end)
        return events

    def _decode(
        self, content: ContentDecoder, data: bytes, end: ResponseEnd | None
    ) -> tuple[bytes, ResponseEnd | None]:
        """Content-decode ``data`` (and finish at ``end``); a decoding fault is earlier in the
        stream than any fault met after ``data``, so it is the one kept."""
        self._encoded_size = len(data)
        decoded, fault = content.decode_before_error(data, final=end is not None)
        if fault is None:
            return decoded, end
        self._content = None
        self._fail(fault)
        return decoded, None

    def _receive(
        self, data: bytes, body: list[bytes | bytearray | memoryview], found: list[ResponseHead]
    ) -> ResponseEnd | None:
        if self._state is ConnectionState.BODY:
            return self._receive_body(data, body)
        if not data:
            raise self._closed_early(
                "no response head received"
                if not self._head
                else f"incomplete response head {excerpt(self._head)}"
            )
        if not self._head and data[0] < 0x21 and data[0] not in (10, 13):
            # A status line starts with "HTTP/" (RFC 9112 §4); TLS bytes sent to a plain port
            # start with 0x16: say so rather than "illegal status line".
            raise RemoteProtocolError(
                "the server did not send an HTTP/1.x response (TLS or another protocol?): "
                f"{excerpt(data)}"
            )
        self._head += data
        self._h11.receive_data(data)
        event, self._informational = final_head(
            self._h11,
            self._head,
            self._max_header_size,
            self._informational,
            self._max_informational,
        )
        return None if event is None else self._start_body(event, body, found)

    def _start_body(
        self,
        event: h11.Response,
        body: list[bytes | bytearray | memoryview],
        found: list[ResponseHead],
    ) -> ResponseEnd | None:
        head = response_head(event)
        found.append(head)
        if event.http_version != b"1.1" or says_close(event.headers):
            self._persistent = False
        self._state = ConnectionState.BODY
        self._head = bytearray()
        self._content = content_decoder_for(head)  # an unsupported coding: a fault after the head
        framing = body_framing(self._method, event.status_code, event.headers)
        if framing == "close":
            self._persistent = False
        if self._body_reader == "h11" or framing in ("none", "length"):
            return self._receive_body(b"", body, more=True)  # h11 reads on
        # From here on, the bytes are ours: take back what h11 received past the head.
        rest = self._h11.trailing_data[0]
        if framing == "chunked":
            self._chunked = BatchDechunker(
                max_line_size=self._max_header_size, on_size_line=self._on_chunk_line
            )
        else:
            self._close = True
        if self._content is None and self._on_chunk_line is None:
            self._dechunker = self._chunked
            self._close_delimited = self._close
        return self._receive_body(rest, body, more=True) if rest else None

    def _receive_body(
        self, data: bytes, body: list[bytes | bytearray | memoryview], more: bool = False
    ) -> ResponseEnd | None:
        """Body bytes for the reader that owns them; ``b""`` is EOF unless ``more``."""
        eof = not data and not more
        chunked = self._chunked
        if chunked is not None:
            if eof:
                raise self._closed_early("incomplete chunked body")
            trailers = chunked.feed(data, body)
            return None if trailers is None else self._end(trailers)
        if self._close:
            if eof:
                return self._end(())
            body.append(data)
            return None
        if data or eof:
            self._h11.receive_data(data)
        while True:
            event = self._next_h11_event(eof=eof)
            if isinstance(event, h11.Data):
                body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return self._end(event.headers)
            else:  # NEED_DATA, PAUSED
                return None

    def _end(self, trailers: Iterable[tuple[bytes, bytes]]) -> ResponseEnd:
        # RFC 9112 §9.3: bytes after the end of the response that no request asked for mean
        # the connection is not reused, whoever read the body.
        if self._chunked is not None:
            if self._chunked.excess:
                self._persistent = False
        elif not self._close and self._h11.trailing_data[0]:
            self._persistent = False
        self._stop(ConnectionState.DONE)
        return ResponseEnd(decode_headers(trailers))

    def _next_h11_event(self, *, eof: bool) -> object:
        """h11's next body event, its exceptions translated here, once."""
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            if eof:
                raise self._closed_early(str(exc)) from exc
            raise translated(exc, None, self._max_header_size) from exc

    def _closed_early(self, detail: str) -> ConnectionClosed:
        url = self._url
        return ConnectionClosed(
            f"connection closed before the response was complete ({bounded(detail)})",
            host=url.host if url else None,
            port=url.port if url else None,
        )
