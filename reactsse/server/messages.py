"""The HTTP side of the app contract: h11's events to a :class:`Request`, replies to events.

Pure functions over h11 events and the app's types, with no socket, loop or timer. The
connection (``server/connection.py``) reads and writes through h11 and calls these to cross
between h11's bytes-valued events and the app's ``str``-valued ``Request``, and to turn a
:class:`BodyReply` into the events of a whole response; the connection and the stream
(``server/stream.py``) take the head of an :class:`EventStream` from ``stream_head``.
"""

from __future__ import annotations

import http

import h11

from reactsse.server.app import BodyReply, EventStream, Request

__all__ = [
    "CORS_HEADER",
    "SERVER_HEADER",
    "STREAM_HEADERS",
    "app_request",
    "body_reply_events",
    "content_length",
    "reason",
    "stream_head",
]

SERVER_HEADER = ("server", "reactsse")
# Every response allows any origin (Fetch standard, "CORS protocol"), so that browser pages on
# any origin can read the streams.
CORS_HEADER = ("access-control-allow-origin", "*")

STREAM_HEADERS = [
    # WHATWG §9.2 (the MIME type); no-cache and X-Accel-Buffering: no keep proxies (nginx)
    # from holding events back (sse-starlette and aiohttp-sse send the same).
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
    # h11 frames the body with chunks for HTTP/1.1 peers and, for an HTTP/1.0 peer, drops the
    # header and delimits the body by closing the connection (RFC 9112 §6.3).
    ("transfer-encoding", "chunked"),
    CORS_HEADER,
    SERVER_HEADER,
]


def reason(status: int) -> bytes:
    """The reason phrase of ``status`` (empty for unknown codes)."""
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


# The head of most streams, made once: h11 validates every header when an event is made, and
# sends the same event object as many times as it is given.
_PLAIN_HEAD = h11.Response(status_code=200, headers=STREAM_HEADERS, reason=b"OK")


def stream_head(stream: EventStream) -> h11.Response:
    """The response head of ``stream`` (also what a ``HEAD`` request gets)."""
    if stream.status == 200 and not stream.headers:
        return _PLAIN_HEAD
    headers = STREAM_HEADERS + list(stream.headers)
    return h11.Response(status_code=stream.status, headers=headers, reason=reason(stream.status))


def content_length(request: h11.Request) -> int:
    """The request's Content-Length, 0 when it has none (h11 has checked its syntax)."""
    for name, value in request.headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def app_request(request: h11.Request, body: bytes) -> tuple[Request, bool]:
    """The app's view of a complete request, and whether it was a ``HEAD``.

    Header names are lower case (h11's) and the last of repeated names wins. A ``HEAD``
    reaches the app as ``GET``: RFC 9110 §9.3.2 makes it GET without the content, and the
    connection leaves the content out.
    """
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers}
    method = request.method.decode("ascii")
    head_only = method == "HEAD"
    parsed = Request(
        method="GET" if head_only else method,
        target=request.target.decode("latin-1"),
        headers=headers,
        body=body,
    )
    return parsed, head_only


def body_reply_events(
    reply: BodyReply, *, close: bool = False, head_only: bool = False
) -> list[h11.Event]:
    """The h11 events of a whole reply: its head, its body, its end.

    The head carries ``content-length`` (not for a 204), the default Content-Type unless the
    reply names its own, CORS and ``server``, the reply's headers, and ``connection: close``
    when the connection closes after it. The body is left out for a ``HEAD`` request, and for a
    204 or 304, which have no content (RFC 9110 §15.3.5, §15.4.5).
    """
    body, content_type = reply.encoded()
    headers = [("content-length", str(len(body))), CORS_HEADER, SERVER_HEADER]
    if content_type and not any(name.lower() == "content-type" for name, _ in reply.headers):
        headers.insert(0, ("content-type", content_type))
    headers.extend(reply.headers)
    if close:
        headers.append(("connection", "close"))
    if reply.status == 204:
        headers = [h for h in headers if h[0] != "content-length"]
    events: list[h11.Event] = [
        h11.Response(status_code=reply.status, headers=headers, reason=reason(reply.status))
    ]
    if body and not head_only and reply.status not in (204, 304):
        events.append(h11.Data(data=body))
    events.append(h11.EndOfMessage())
    return events
