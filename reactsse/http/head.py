"""The two heads of an exchange: the request's header fields, and reading the response head.

``ClientConnection`` owns the byte stream; this module holds what it does with a head, as plain
functions: the default request headers (``request_headers``), the request's h11 event built
once per distinct request (``request_event``), whether a head says ``Connection: close``
(``says_close``), reading heads out of h11 with 1xx responses skipped and counted
(``final_head``), our error for one of h11's (``translated``), and how the body that follows a
final head is delimited (``body_framing``, RFC 9112 §6.3).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Literal

import h11

from reactsse._version import __version__
from reactsse.errors import LimitExceeded, ReactSSEError, RemoteProtocolError
from reactsse.http.chunked import excerpt
from reactsse.http.events import ResponseHead, decode_headers
from reactsse.http.url import URL

__all__ = [
    "Framing",
    "body_framing",
    "bounded",
    "final_head",
    "head_too_large",
    "request_event",
    "request_headers",
    "response_head",
    "says_close",
    "translated",
]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose request carries a body: ``Content-Length: 0`` is sent when it has none."""

ERROR_TEXT_LIMIT = 200
"""How much of a peer's text an error message quotes."""

Framing = Literal["none", "chunked", "length", "close"]


def body_framing(method: bytes, status: int, headers: Iterable[tuple[bytes, bytes]]) -> Framing:
    """How the body of a final response to ``method`` is delimited (RFC 9112 §6.3, in order).

    ``"none"``: a response to HEAD, a 204 or a 304 (rule 1), a 2xx to CONNECT (rule 2: the
    connection becomes a tunnel); ``"chunked"``: Transfer-Encoding is present (rules 3-4; h11 has
    already rejected any value but ``chunked``, and it overrides a Content-Length); ``"length"``:
    Content-Length (rule 6); ``"close"``: neither, the body runs until the server closes the
    connection (rule 8). ``headers`` are lower-cased names, as h11 gives them.
    """
    if status in (204, 304) or method == b"HEAD" or status < 200:
        return "none"
    if method == b"CONNECT" and status < 300:
        return "none"
    names = {name for name, _ in headers}
    if b"transfer-encoding" in names:
        return "chunked"
    return "length" if b"content-length" in names else "close"


def response_head(event: h11.Response) -> ResponseHead:
    return ResponseHead(
        status=event.status_code,
        reason=event.reason.decode("latin-1"),
        headers=decode_headers(event.headers),
        http_version=event.http_version.decode("ascii"),
    )


def final_head(
    connection: h11.Connection, head: bytearray, limit: int, skipped: int, max_skipped: int
) -> tuple[h11.Response | None, int]:
    """Read heads out of what h11 was fed: skip 1xx heads, return the final response (or None
    while it is incomplete) and the count of 1xx heads skipped so far. ``head`` holds the bytes
    fed since the head being read began (those of skipped 1xx heads are dropped from it);
    ``limit`` is ``max_header_size``; ``skipped`` the 1xx heads skipped before this call, at
    most ``max_skipped`` (``max_informational``)."""
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            raise translated(exc, head, limit) from exc
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return None, skipped
        size = len(head) - len(connection.trailing_data[0])  # h11 keeps what follows the head
        if size > limit:
            raise head_too_large(head, limit)  # h11 only limits incomplete heads
        if isinstance(event, h11.InformationalResponse):
            if event.status_code == 101:
                raise RemoteProtocolError(
                    "the server switched protocols (101 Switching Protocols); "
                    "reactsse speaks HTTP/1.1 only"
                )
            if skipped >= max_skipped:
                reason = bounded(event.reason.decode("latin-1"))
                raise LimitExceeded(
                    f"more than max_informational={max_skipped} 1xx responses before the final "
                    f"response (the last: {event.status_code} {reason})",
                    limit=max_skipped,
                )
            skipped += 1
            del head[:size]
            continue  # RFC 9110 §15.2: a client skips 1xx responses it does not expect
        if not isinstance(event, h11.Response):  # pragma: no cover - h11 guarantees it
            raise RemoteProtocolError(f"unexpected HTTP event {event!r}")
        return event, skipped


def translated(exc: h11.RemoteProtocolError, head: bytearray | None, limit: int) -> ReactSSEError:
    """Our error for h11's, raised while reading ``head`` (None: the body)."""
    if exc.error_status_hint == 431:  # h11's "Receive buffer too long"
        if head is not None:
            return head_too_large(head, limit)
        return LimitExceeded(
            f"response chunk-size line or trailer section longer than max_header_size={limit} "
            "bytes",
            limit=limit,
        )
    where = f" in {excerpt(head)}" if head is not None else ""
    return RemoteProtocolError(f"malformed HTTP response: {bounded(str(exc))}{where}")


def head_too_large(head: bytearray, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"response head larger than max_header_size={limit} bytes: {excerpt(head)}",
        limit=limit,
    )


def bounded(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT] + "..."


def request_headers(
    method: str, url: URL, headers: Iterable[tuple[str, str]], body: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The request's header fields, defaults first, as ``send_request`` documents them.

    Raises UnicodeEncodeError for a name or value that is not latin-1."""
    user = [(name, value.strip(" \t")) for name, value in headers]
    overridden = {name.lower() for name, _ in user}
    wants_length = body is not None or method.upper() in BODY_METHODS
    if wants_length and not overridden & {"content-length", "transfer-encoding"}:
        user.append(("Content-Length", str(len(body or b""))))
    defaults = [
        ("Host", url.host_header),
        ("Accept", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("User-Agent", f"reactsse/{__version__}"),
    ]
    wire_headers = [(n, v) for n, v in defaults if n.lower() not in overridden] + user
    return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in wire_headers]


@functools.lru_cache(maxsize=16)
def request_event(
    method: str, url: URL, headers: tuple[tuple[str, str], ...], body: bytes | None
) -> tuple[h11.Request, bool]:
    """The h11 request event (and whether it says ``Connection: close``), built once per
    distinct request: a load generator sends the same request thousands of times, and h11
    validates every header field each time a ``Request`` is constructed. The event is
    immutable, so one may be sent on any number of connections. Raises what building it raises
    (UnicodeEncodeError, h11.LocalProtocolError), which is never cached."""
    encoded = request_headers(method, url, headers, body)
    request = h11.Request(
        method=method.encode("ascii"), target=url.target.encode("ascii"), headers=encoded
    )
    return request, says_close(encoded)


def says_close(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """True if a ``Connection`` field lists the ``close`` option (RFC 9112 §9.6)."""
    return any(
        name.lower() == b"connection"
        and b"close" in (token.strip() for token in value.lower().split(b","))
        for name, value in headers
    )
