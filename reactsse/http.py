"""The sans-IO HTTP/1.1 client layer: request bytes out, response head / body bytes / end in.

No socket, clock, loop or thread here (house rule 1): a caller (``eventsource.py``, ``aio.py``, a
test) moves the bytes. h11 is the HTTP state machine: it parses every response head, decides the
body's framing (RFC 9112 §6.3) and ends every message. For a chunked body (RFC 9112 §7.1) the
bytes go, by default, through our batch de-chunker (``reactsse._dechunk``), which decodes a whole
receive buffer in one loop instead of one h11 event per HTTP chunk; ``body_reader="h11"`` keeps
h11's own reader. Differential tests show both give the same bytes, end and errors.

State machine of ``ClientConnection`` (``ConnectionState``), its invariants:

* ``IDLE``: no request sent; ``receive_data`` is a caller error.
* ``HEAD``: request sent; response bytes accumulate in ``_head_buffer`` until a complete head
  (status line .. blank line); h11 is fed *exactly* each complete head, so its receive buffer is
  empty whenever a final (non-1xx) response head has been parsed. 1xx heads are skipped.
* ``BODY``: the final head was returned. Either h11 owns all further bytes (Content-Length,
  no body, or ``body_reader="h11"``), or the de-chunker owns them until the last chunk, whose
  size line and trailers it hands to h11, which then owns the rest, or (close-delimited body,
  ``"batch"``) they pass straight through and h11 only gets the EOF, which ends the message.
* ``DONE``: ``ResponseEnd`` was returned; later bytes (and EOF) are ignored: SSE sends one
  request per connection, the caller closes it.
* ``ERROR``: an exception was raised; every later call raises ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import urllib.parse
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import h11

from reactsse._dechunk import BatchDechunker, excerpt
from reactsse._version import __version__
from reactsse.errors import (
    ConnectionClosed,
    InvalidURL,
    LimitExceeded,
    LocalProtocolError,
    ReactSSEError,
    RemoteProtocolError,
)

__all__ = [
    "DEFAULT_BODY_READER",
    "DEFAULT_MAX_DECODED_PER_CALL",
    "DEFAULT_MAX_HEADER_SIZE",
    "URL",
    "ClientConnection",
    "ConnectionState",
    "ContentDecoder",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "content_decoder_for",
    "events_before_error",
    "parse_url",
]

DEFAULT_MAX_HEADER_SIZE = 64 * 1024
"""Default cap, in bytes, of a response head, an incomplete chunk-size line and the trailers."""

DEFAULT_BODY_READER: Literal["batch", "h11"] = "batch"
"""The chunked-body reader ``ClientConnection`` uses unless told otherwise (see docs/http.md)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

# ---------------------------------------------------------------------------------------------
# URLs


@dataclass(frozen=True)
class URL:
    """An absolute http or https URL, split for a request; build it with ``parse_url``.

    ``host`` is lower-case, IDNA-encoded, IPv6 without brackets; ``port`` is always set (80 or
    443 by default); ``target`` is the request-target (RFC 9112 §3.2.1 origin-form: path and
    query, at least ``"/"``, percent-encoded to ASCII; the fragment is dropped).
    """

    scheme: Literal["http", "https"]
    host: str
    port: int
    target: str

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): two URLs with the same origin may share a connection."""
        return (self.scheme, self.host, self.port)

    @property
    def is_tls(self) -> bool:
        """True for https."""
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (RFC 9110 §7.2): IPv6 in brackets, default port omitted."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != _DEFAULT_PORTS[self.scheme]:
            return f"{host}:{self.port}"
        return host

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"

    def join(self, location: str) -> URL:
        """Resolve a redirect's ``Location`` (absolute or relative, RFC 3986 §5) against this URL.

        Returns the new URL; raises InvalidURL if the result is not a valid http(s) URL.
        """
        return parse_url(urllib.parse.urljoin(str(self), location.strip()))


# RFC 3986 §3.2.2 reg-name after IDNA encoding: letters, digits, "-", ".", "_", "~".
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~]+")
# Printable ASCII but space stays as it is in the target; everything else is percent-encoded
# (h11 accepts only VCHARs in a request-target, RFC 9112 §3.2). "%" is kept: existing escapes.
_TARGET_SAFE = "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}"


def parse_url(url: str) -> URL:
    """Parse an absolute http or https URL.

    Takes a URL string; returns a ``URL``. Userinfo (``user:pass@``) is rejected rather than
    silently turned into a header: put credentials in an ``Authorization`` header, so that they
    never show up in logs or error messages that print the URL.

    Raises InvalidURL: not a string, scheme other than http/https, userinfo, no host, invalid host
    or IPv6 literal, port not an integer in 1..65535.
    """
    if not isinstance(url, str):
        raise InvalidURL(f"URL must be a str, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError as exc:
        raise InvalidURL(f"invalid URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{parts.scheme!r}" if parts.scheme else "no scheme"
        raise InvalidURL(f"invalid URL {url!r}: {shown}; only http:// and https:// are supported")
    if "@" in parts.netloc:
        raise InvalidURL(
            f"invalid URL {url!r}: credentials in the URL are not supported; "
            "send an Authorization header instead"
        )
    hostname = parts.hostname
    if not hostname:
        raise InvalidURL(f"invalid URL {url!r}: no host")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise InvalidURL(f"invalid URL {url!r}: bad IPv6 address {hostname!r}") from exc
        host = hostname
    else:
        try:
            host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
        except UnicodeError as exc:
            raise InvalidURL(f"invalid URL {url!r}: bad host name {hostname!r}") from exc
        if not _REG_NAME.fullmatch(host):
            raise InvalidURL(f"invalid URL {url!r}: bad host name {hostname!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"invalid URL {url!r}: bad port ({exc})") from exc
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    elif port == 0:
        raise InvalidURL(f"invalid URL {url!r}: port 0")
    target = urllib.parse.quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe=_TARGET_SAFE)
    return URL("https" if scheme == "https" else "http", host, port, target)


# ---------------------------------------------------------------------------------------------
# Response events


@dataclass(frozen=True)
class ResponseHead:
    """The final (non-1xx) response head.

    ``headers`` are (name, value) pairs in received order, names lower-cased, both decoded as
    latin-1 (RFC 9110 §5.5: field values are octets; latin-1 round-trips them).
    ``http_version`` is ``"1.1"`` or ``"1.0"``.
    """

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    http_version: str

    def get(self, name: str) -> str | None:
        """Return the value of header ``name`` (any case), repeats joined by ``", "``
        (RFC 9110 §5.3), or None if absent."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None

    @property
    def content_type(self) -> str | None:
        """The media type essence of Content-Type, lower-cased, parameters dropped
        (``"text/event-stream"``), or None without a Content-Type header."""
        for key, value in self.headers:
            if key == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return None


@dataclass(frozen=True)
class ResponseEnd:
    """The end of the response message; ``trailers`` as in ``ResponseHead.headers`` (chunked
    bodies only, RFC 9112 §7.1.2)."""

    trailers: tuple[tuple[str, str], ...] = ()


ResponseEvent: TypeAlias = ResponseHead | bytes | ResponseEnd
"""What ``ClientConnection.receive_data`` returns a list of."""


def events_before_error(exc: BaseException) -> list[ResponseEvent]:
    """Return what ``ClientConnection.receive_data`` produced, in the call that raised ``exc``,
    before the error (a ResponseHead and/or the body bytes decoded before the bad byte).

    ``receive_data`` stores them on the exception as ``exc.events``; this typed accessor returns
    ``[]`` for any other exception.
    """
    events = getattr(exc, "events", None)
    return list(events) if isinstance(events, list) else []


def _decode_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    # h11 lower-cases names of parsed headers; values are raw octets (latin-1 round-trips).
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)


# ---------------------------------------------------------------------------------------------
# The connection


class ConnectionState(enum.Enum):
    """Where a ``ClientConnection`` is; see the module docstring for the invariants."""

    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    DONE = "done"
    ERROR = "error"


# h11 reads a head up to the first blank line: "\n\r?\n" (h11/_receivebuffer.py
# blank_line_regex, lenient about bare LF as RFC 9112 §2.2 allows).
_BLANK_LINE = re.compile(rb"\n\r?\n")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ERROR_TEXT_LIMIT = 200


class ClientConnection:
    """One HTTP/1.1 request and its response, as bytes in and events out (sans-IO).

    ``body_reader``: ``"batch"`` (the default, see docs/http.md "Benchmarks") decodes chunked
    bodies with the batch de-chunker and passes close-delimited bodies straight through;
    ``"h11"`` reads every body with h11's own readers; both give the same results.
    ``max_header_size``: cap in bytes of a response head (each 1xx head too), of an incomplete
    chunk-size line and of the trailer section; exceeding it raises LimitExceeded.
    """

    def __init__(
        self,
        *,
        body_reader: Literal["batch", "h11"] = DEFAULT_BODY_READER,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    ) -> None:
        if body_reader not in ("batch", "h11"):
            raise ValueError(f"body_reader must be 'batch' or 'h11', not {body_reader!r}")
        if max_header_size < 1:
            raise ValueError("max_header_size must be positive")
        self._body_reader = body_reader
        self._max_header_size = max_header_size
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._state = ConnectionState.IDLE
        self._method = b""
        self._url: URL | None = None
        self._head_buffer = bytearray()
        self._head_search = 0
        self._dechunker: BatchDechunker | None = None
        # A close-delimited body read with body_reader="batch": every byte up to EOF is body
        # (RFC 9112 §6.3 rule 8), so bytes pass straight through; at EOF h11, which has seen
        # none of them, ends the message (its Http10Reader turns EOF into EndOfMessage).
        self._close_delimited = False
        # The head parsed by the current receive_data call, kept so that an error later in the
        # same call can still deliver it (exc.events).
        self._pending_head: ResponseHead | None = None

    @property
    def state(self) -> ConnectionState:
        """The current ``ConnectionState``."""
        return self._state

    @property
    def body_reader(self) -> Literal["batch", "h11"]:
        """Which chunked-body reader this connection uses."""
        return self._body_reader

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
            raise LocalProtocolError("send_request() may be called once per ClientConnection")
        user = [(name, value.strip(" \t")) for name, value in headers]
        overridden = {name.lower() for name, _ in user}
        wants_length = body is not None or method.upper() in _BODY_METHODS
        if wants_length and not overridden & {"content-length", "transfer-encoding"}:
            user.append(("Content-Length", str(len(body or b""))))
        defaults = [
            ("Host", url.host_header),
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("User-Agent", _user_agent()),
        ]
        wire_headers = [(n, v) for n, v in defaults if n.lower() not in overridden] + user
        try:
            method_bytes = method.encode("ascii")
            encoded = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in wire_headers]
            request = h11.Request(
                method=method_bytes, target=url.target.encode("ascii"), headers=encoded
            )
            out = bytearray(self._h11.send(request) or b"")
            if body:
                out += self._h11.send(h11.Data(data=body)) or b""
            out += self._h11.send(h11.EndOfMessage()) or b""
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"cannot encode request: {exc}") from exc
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"invalid request: {_bounded(str(exc))}") from exc
        self._method = method_bytes
        self._url = url
        self._state = ConnectionState.HEAD
        return bytes(out)

    # -- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[ResponseEvent]:
        """Feed bytes received from the server; ``b""`` means the server closed (EOF).

        ``data`` is read during the call only, so it may be a view of a buffer the caller
        reuses (what a transport's ``on_data`` gets): every body byte is copied out of it once,
        into the body ``bytes`` returned, and nothing else is kept.

        Returns, in this order, at most one ``ResponseHead`` (1xx heads are skipped), at most one
        ``bytes`` holding all body bytes this call decoded (joined, never empty), and at most one
        ``ResponseEnd``. After the end, further bytes and EOF are ignored (returns ``[]``).

        Raises RemoteProtocolError (malformed response: garbage instead of HTTP, bad status line
        or header, bad chunk size or footer, bad Content-Length), LimitExceeded (head, chunk line
        or trailers over ``max_header_size``), ConnectionClosed (EOF before the response was
        complete; a close-delimited body ends cleanly at EOF), LocalProtocolError (called before
        ``send_request`` or after an error). Whatever the call decoded before the error is on the
        exception as ``exc.events`` (see ``events_before_error``): nothing received is lost.
        """
        body: list[bytes | bytearray | memoryview] = []
        dechunker = self._dechunker
        if dechunker is not None and data:
            # Hot path: inside a chunked body (one call per received buffer of a token stream).
            # A view or bytearray goes to feed_view, which takes large chunks' data as views of
            # it: the join below is then their only copy.
            try:
                if type(data) is bytes:
                    tail = dechunker.feed(data, body)
                else:
                    tail = dechunker.feed_view(
                        data if type(data) is memoryview else memoryview(data), body
                    )
            except ReactSSEError as exc:
                self._fail()
                exc.events = self._events(None, body, None)
                raise
            if tail is None:
                joined = b"".join(body)
                return [joined] if joined else []
            self._dechunker = None  # the last chunk: h11 takes over (see _receive)
            data = tail
        elif self._close_delimited and data:
            # Hot path of a close-delimited body: bytes as they are, a view copied once.
            return [data if type(data) is bytes else bytes(data)]
        if type(data) is not bytes:
            data = bytes(data)  # a head, a Content-Length body (h11 reads them), or the end
        head: ResponseHead | None = None
        end: ResponseEnd | None = None
        try:
            head, end = self._receive(data, body)
        except ReactSSEError as exc:
            self._fail()
            exc.events = self._events(self._pending_head, body, None)
            raise
        except BaseException:
            self._fail()
            raise
        return self._events(head, body, end)

    def _fail(self) -> None:
        self._state = ConnectionState.ERROR
        self._dechunker = None  # so that the hot paths of receive_data are not taken any more
        self._close_delimited = False

    @staticmethod
    def _events(
        head: ResponseHead | None,
        body: list[bytes | bytearray | memoryview],
        end: ResponseEnd | None,
    ) -> list[ResponseEvent]:
        events: list[ResponseEvent] = []
        if head is not None:
            events.append(head)
        if body:
            joined = b"".join(body)
            if joined:
                events.append(joined)
        if end is not None:
            events.append(end)
        return events

    def _receive(
        self, data: bytes, body: list[bytes | bytearray | memoryview]
    ) -> tuple[ResponseHead | None, ResponseEnd | None]:
        self._pending_head = None
        state = self._state
        if state is ConnectionState.DONE:
            return None, None
        if state is ConnectionState.IDLE:
            raise LocalProtocolError("receive_data() called before send_request()")
        if state is ConnectionState.ERROR:
            raise LocalProtocolError("receive_data() called after the connection failed")
        eof = not data
        head: ResponseHead | None = None
        if state is ConnectionState.HEAD:
            if eof:
                raise self._closed_early(
                    "no response head received"
                    if not self._head_buffer
                    else f"incomplete response head {excerpt(self._head_buffer)}"
                )
            rest = self._receive_head(data)
            if rest is None:
                return None, None
            head = self._pending_head
            data = rest
            if self._close_delimited:
                if data:
                    body.append(data)
                return head, None
        if self._dechunker is not None:
            if eof:
                raise self._closed_early("incomplete chunked body")
            if not data:
                return head, None
            tail = self._dechunker.feed(data, body)
            if tail is None:
                return head, None
            # The last chunk: h11 reads its size line and the trailers and ends the message.
            self._dechunker = None
            data = tail
        return head, self._receive_with_h11(data, eof, body)

    def _receive_head(self, data: bytes) -> bytes | None:
        """Parse heads out of ``_head_buffer`` + ``data``; return the bytes after the final head,
        or None while it is incomplete. Feeds h11 exactly each head, so its buffer stays empty."""
        buffer = self._head_buffer
        buffer += data
        while True:
            if buffer[:1] == b"\n":
                end = 1  # an empty first line: h11 rejects it ("no response line received")
            elif buffer[:2] == b"\r\n":
                end = 2
            else:
                match = _BLANK_LINE.search(buffer, self._head_search)
                if match is None:
                    self._head_search = max(0, len(buffer) - 2)
                    if len(buffer) > self._max_header_size:
                        raise self._head_too_large(buffer)
                    if buffer and buffer[0] < 0x21:
                        # h11's early check (h11/_receivebuffer.py): a status line starts with
                        # a visible character; TLS bytes sent to a plain port start with 0x16.
                        raise RemoteProtocolError(
                            "the server did not send an HTTP/1.x response (TLS or another "
                            f"protocol?): {excerpt(buffer)}"
                        )
                    return None
                end = match.end()
            if end > self._max_header_size:
                raise self._head_too_large(buffer)
            head_bytes = bytes(buffer[:end])
            del buffer[:end]
            self._head_search = 0
            self._h11.receive_data(head_bytes)
            event = self._next_h11_event(eof=False, offending=head_bytes)
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    raise RemoteProtocolError(
                        "the server switched protocols (101 Switching Protocols); "
                        "reactsse speaks HTTP/1.1 only"
                    )
                continue  # RFC 9110 §15.2: a client skips 1xx responses it does not expect
            if not isinstance(event, h11.Response):  # pragma: no cover - h11 guarantees it
                raise RemoteProtocolError(f"unexpected HTTP event {event!r}")
            self._pending_head = ResponseHead(
                status=event.status_code,
                reason=event.reason.decode("latin-1"),
                headers=_decode_headers(event.headers),
                http_version=event.http_version.decode("ascii"),
            )
            self._state = ConnectionState.BODY
            if self._body_reader == "batch":
                framing = self._framing(event)
                if framing == "chunked":
                    self._dechunker = BatchDechunker(max_line_size=self._max_header_size)
                elif framing == "close":
                    self._close_delimited = True
            rest = bytes(buffer)
            buffer.clear()
            return rest

    def _framing(self, response: h11.Response) -> Literal["chunked", "close", "length"]:
        """h11's framing decision for a response body (h11/_connection.py ``_body_framing``,
        RFC 9112 §6.3), from public data: a Content-Length of 0 for 204, 304, HEAD and 2xx to
        CONNECT; else chunked iff Transfer-Encoding is present (h11 has already rejected any
        value but ``chunked``); else Content-Length if present; else close-delimited.
        tests/test_http_dechunk.py checks it against the reader h11 itself picks."""
        status = response.status_code
        if status in (204, 304) or self._method == b"HEAD":
            return "length"
        if self._method == b"CONNECT" and 200 <= status < 300:
            return "length"
        names = {name for name, _ in response.headers}
        if b"transfer-encoding" in names:
            return "chunked"
        return "length" if b"content-length" in names else "close"

    def _receive_with_h11(
        self, data: bytes, eof: bool, body: list[bytes | bytearray | memoryview]
    ) -> ResponseEnd | None:
        if data:
            self._h11.receive_data(data)
        elif eof:
            self._h11.receive_data(b"")
        while True:
            event = self._next_h11_event(eof=eof, offending=None)
            if isinstance(event, h11.Data):
                body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._state = ConnectionState.DONE
                self._close_delimited = False
                return ResponseEnd(_decode_headers(event.headers))
            else:  # NEED_DATA, PAUSED
                return None

    def _next_h11_event(self, *, eof: bool, offending: bytes | None) -> object:
        """h11's next event, its exceptions translated once (house rule 7)."""
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            if eof:
                raise self._closed_early(str(exc)) from exc
            if exc.error_status_hint == 431:  # h11's "Receive buffer too long"
                raise LimitExceeded(
                    "response chunk-size line or trailer section longer than "
                    f"max_header_size={self._max_header_size} bytes",
                    limit=self._max_header_size,
                ) from exc
            where = f" in {excerpt(offending)}" if offending is not None else ""
            raise RemoteProtocolError(
                f"malformed HTTP response: {_bounded(str(exc))}{where}"
            ) from exc

    def _closed_early(self, detail: str) -> ConnectionClosed:
        url = self._url
        return ConnectionClosed(
            f"connection closed before the response was complete ({_bounded(detail)})",
            host=url.host if url else None,
            port=url.port if url else None,
        )

    def _head_too_large(self, buffer: bytearray) -> LimitExceeded:
        return LimitExceeded(
            f"response head larger than max_header_size={self._max_header_size} bytes: "
            f"{excerpt(buffer)}",
            limit=self._max_header_size,
        )


def _bounded(text: str) -> str:
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[:_ERROR_TEXT_LIMIT] + "..."


def _user_agent() -> str:
    return f"reactsse/{__version__}"


# ---------------------------------------------------------------------------------------------
# Content-Encoding

DEFAULT_MAX_DECODED_PER_CALL = 16 * 1024 * 1024
"""Default cap, in bytes, of what one ``ContentDecoder.decode``/``flush`` call may produce."""


class _ZlibStage:
    """One gzip or deflate layer (RFC 9110 §8.4.1)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._gzip = coding in ("gzip", "x-gzip")
        # gzip: wbits 16+15 (gzip header); deflate: zlib format (RFC 1950) as RFC 9110 §8.4.1.2
        # says, falling back to raw deflate (RFC 1951), which some servers send (like httpx).
        self._object = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)
        self._replay: bytes | None = b"" if not self._gzip else None
        self._seen_input = False

    def decode(self, data: bytes, limit: int) -> bytes:
        if not data:
            return b""
        self._seen_input = True
        if self._replay is not None:
            self._replay += data
            try:
                out = self._inflate(data, limit)
            except LimitExceeded:
                raise
            except RemoteProtocolError:
                # Not a zlib header: retry everything seen so far as raw deflate, once.
                replay, self._replay = self._replay, None
                self._object = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(replay, limit)
            if len(self._replay) >= 2:
                self._replay = None  # the zlib header was accepted
            return out
        return self._inflate(data, limit)

    def _inflate(self, data: bytes, limit: int) -> bytes:
        pieces: list[bytes] = []
        budget = limit
        while True:
            try:
                out = self._object.decompress(data, budget + 1)
            except zlib.error as exc:
                raise RemoteProtocolError(
                    f"cannot decode the {self._coding} response body: {exc}"
                ) from exc
            pieces.append(out)
            budget -= len(out)
            if budget < 0 or self._object.unconsumed_tail:
                raise LimitExceeded(
                    f"{self._coding} body inflates to more than {limit} bytes from one read "
                    "(decompression bomb?)",
                    limit=limit,
                )
            unused = self._object.unused_data
            if not (self._gzip and self._object.eof and unused):
                break
            # RFC 1952 §2.2: a gzip file may hold several members, one after another.
            self._object = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = unused
        return b"".join(pieces)

    def flush(self) -> bytes:
        out = self._object.flush()
        if self._seen_input and not self._object.eof:
            raise RemoteProtocolError(f"the {self._coding} response body is truncated")
        return out


class ContentDecoder:
    """Incremental decoder of a response body's Content-Encoding (gzip, x-gzip, deflate).

    ``codings``: the codings in the order the server applied them (the Content-Encoding list,
    RFC 9110 §8.4); ``identity`` entries are skipped. ``max_output_per_call`` bounds what one
    ``decode`` or ``flush`` call may produce: a body that inflates past it from one read raises
    LimitExceeded (a decompression bomb cannot blow memory; no unbounded data is held).
    Raises RemoteProtocolError naming an unsupported coding.
    """

    def __init__(
        self,
        codings: Sequence[str] | str,
        *,
        max_output_per_call: int = DEFAULT_MAX_DECODED_PER_CALL,
    ) -> None:
        if isinstance(codings, str):
            codings = codings.split(",")
        names = [c.strip().lower() for c in codings if c.strip().lower() not in ("", "identity")]
        for name in names:
            if name not in ("gzip", "x-gzip", "deflate"):
                raise RemoteProtocolError(
                    f"unsupported Content-Encoding {name!r} (supported: gzip, deflate)"
                )
        # Decoding undoes the codings in reverse order of application.
        self._stages = [_ZlibStage(name) for name in reversed(names)]
        self._limit = max_output_per_call

    def decode(self, data: bytes) -> bytes:
        """Decode the next piece of the body; returns the decoded bytes (maybe empty).

        Raises RemoteProtocolError (corrupt data), LimitExceeded (over ``max_output_per_call``).
        """
        for stage in self._stages:
            data = stage.decode(data, self._limit)
        return data

    def flush(self) -> bytes:
        """Finish at the end of the body; returns the last decoded bytes.

        Raises RemoteProtocolError if the compressed stream is truncated.
        """
        out = b""
        for stage in self._stages:
            out = stage.decode(out, self._limit) + stage.flush()
        return out


def content_decoder_for(head: ResponseHead) -> ContentDecoder | None:
    """Return a ContentDecoder for the response's Content-Encoding, or None for none/identity.

    Raises RemoteProtocolError naming an unsupported coding (e.g. ``br``).
    """
    value = head.get("content-encoding")
    if value is None:
        return None
    decoder = ContentDecoder(value)
    return decoder if decoder._stages else None
