"""``EventSource``: a reconnecting Server-Sent Events client on any ``LoopInterface``; ``connect``.

The shape is clue/reactphp-eventsource's (``src/EventSource.php``): an emitter with ``on("open")``,
``on("message")``, ``on(<event type>)``, ``on("error")``, ``ready_state`` and ``close()``; the
behaviour is WHATWG HTML §9.2 (reconnection, ``Last-Event-ID``, ``retry``, 204, status and
Content-Type checks), plus what both lack: any method, headers and body, redirects with header
hygiene, backoff with jitter, timeouts, limits, gzip and a trace.

The article's design, done right: the response socket is registered with ``add_read_stream``
(by the transport); each time it is readable one ``recv`` takes what is there, without blocking,
and hands it to ``_on_data``, which feeds it to the HTTP state machine
(``reactsse.http.ClientConnection``), feeds all body bytes of that read to the SSE decoder in one
``feed`` call, and emits the events it returns. At the end the transport removes the stream from
the loop.

State machine (STYLE rule 2: one Enum, ``_Phase``; ``ready_state`` is derived from it)::

    CONNECTING ──connected──▶ AWAITING_HEAD ──200 text/event-stream──▶ OPEN
        ▲  │                    │   │   └─3xx + Location──▶ CONNECTING (same attempt, new URL)
        │  │                    │   └─other status/type──▶ READING_ERROR_BODY ──body read──▶ (fail)
        │  └──────(fail)────────┴─────────────────────────────────────────────────────(fail)
        │                                                                              │
        └──timer── WAITING ◀── retryable failure / end of an open stream, if allowed ──┤
                                                                                       ▼
    any phase ──close()──▶ CLOSED ◀──────── 204 / fatal error / reconnect not allowed ─┘

Invariants:

* At most one of ``_pending`` (a connect in progress) and ``_transport`` is set, and only in
  CONNECTING (``_pending``) or AWAITING_HEAD / OPEN / READING_ERROR_BODY (``_transport``).
* ``_reconnect_timer`` is set only in WAITING; ``_decoder`` only in OPEN; ``_error_head`` only in
  READING_ERROR_BODY; the read watchdog only while a transport is set; the event watchdog only
  in OPEN.
* Every phase change that leaves a phase releases what that phase held (``_release``), *before* any
  listener is called, so a listener may call ``close()`` (or anything) at any moment.
* CLOSED is terminal and holds nothing: no socket, no timer, so the loop's ``run()`` returns. After
  ``close()`` no listener is ever called again; after a CLOSED the source reached by itself, only
  the final ``error`` (if any) and ``close`` listeners run.
* ``ready_state`` is OPEN exactly in OPEN, CLOSED exactly in CLOSED, CONNECTING otherwise.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import enum
import json as _json
import random
import re
import ssl
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from time import monotonic
from types import TracebackType
from typing import IO, Literal, cast, overload

from reactsse.connector import PendingConnect, TLSTransport, Transport, default_ssl_context
from reactsse.connector import connect as _connect_transport
from reactsse.errors import (
    ConnectionClosed,
    ContentTypeError,
    EventTimeout,
    EventTooLarge,
    HTTPStatusError,
    LimitExceeded,
    LocalProtocolError,
    ReactSSEError,
    ReadTimeout,
    Timeout,
    TLSError,
    TooManyRedirects,
    TransportError,
)
from reactsse.http import (
    ClientConnection,
    ConnectionState,
    ResponseEnd,
    ResponseHead,
    content_decoder_for,
    parse_url,
)
from reactsse.loop import LoopInterface, StreamSelectLoop, TimerInterface
from reactsse.loop.facade import Loop
from reactsse.sse import Comment, Dispatch, EventStreamDecoder, Field, MessageEvent

__all__ = [
    "EventIterator",
    "EventSource",
    "ReadyState",
    "TextTrace",
    "Trace",
    "connect",
]

_HTTP_FAILED = ConnectionState.ERROR
# How much of a failed response's body the error carries (the issue: "the first 64 KiB").
ERROR_BODY_LIMIT = 64 * 1024
# How long we wait at most for that body before raising with what we have.
_ERROR_BODY_WAIT = 5.0
# A Retry-After longer than this is clamped (a day): honoured, but never "forever".
_RETRY_AFTER_CAP = 86400.0
# The redirect statuses followed (RFC 9110 §15.4; 300 and 305 are not followed, like browsers).
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Message event types that never reach typed listeners: they name the source's own events.
_RESERVED_TYPES = frozenset({"open", "error", "close", "*"})
# Request headers whose values the trace never shows.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
# Headers dropped when a redirect leaves the origin (Fetch §4.4 "HTTP-redirect fetch", step 13).
_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# Headers that describe a body, dropped when a redirect turns the request into a bodiless GET.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language"}
)


class ReadyState(enum.Enum):
    """``EventSource.ready_state``: WHATWG HTML §9.2.2 ``readyState`` (0, 1, 2)."""

    CONNECTING = 0
    OPEN = 1
    CLOSED = 2


class _Phase(enum.Enum):
    """The one state machine of this module; see the module docstring for its invariants."""

    CONNECTING = "connecting"
    AWAITING_HEAD = "awaiting head"
    OPEN = "open"
    READING_ERROR_BODY = "reading error body"
    WAITING = "waiting to reconnect"
    CLOSED = "closed"


_READY_STATE = {
    _Phase.CONNECTING: ReadyState.CONNECTING,
    _Phase.AWAITING_HEAD: ReadyState.CONNECTING,
    _Phase.OPEN: ReadyState.OPEN,
    _Phase.READING_ERROR_BODY: ReadyState.CONNECTING,
    _Phase.WAITING: ReadyState.CONNECTING,
    _Phase.CLOSED: ReadyState.CLOSED,
}

OpenListener = Callable[[], object]
CloseListener = Callable[[], object]
ErrorListener = Callable[[ReactSSEError], object]
MessageListener = Callable[[MessageEvent], object]


# -- tracing ---------------------------------------------------------------------------------


class Trace:
    """Receives what an ``EventSource`` does, as it happens (the CLI's ``--trace`` teaching mode).

    Subclass it and override what you need; every method here does nothing. Secrets never reach
    a trace: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and API-key
    header values arrive as ``<redacted>``. When no trace is given, the source pays nothing but
    an ``is None`` test per read.
    """

    def connecting(self, host: str, port: int, tls: bool) -> None:
        """A connection attempt starts (resolution, TCP, then TLS when ``tls``)."""

    def connected(self, peer: str, tls_version: str | None) -> None:
        """The connection is up: ``peer`` as ``host:port``, ``tls_version`` (e.g. TLSv1.3)."""

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        """The request went out: its request line, headers as sent (redacted), body size."""

    def socket_read(self, data: bytes | memoryview) -> None:
        """One read from the socket: ``data`` is what it returned (a view: do not keep it)."""

    def response_head(self, head: ResponseHead) -> None:
        """The response head arrived (headers redacted)."""

    def body(self, size: int, decoded_size: int) -> None:
        """A piece of response body: ``size`` bytes on the wire, ``decoded_size`` after gzip."""

    def sse(self, record: Comment | Field | Dispatch) -> None:
        """A line the SSE decoder interpreted: a comment, a field, or a dispatch (the event)."""

    def redirect(self, status: int, location: str) -> None:
        """A redirect is followed to ``location`` (absolute)."""

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        """The source will reconnect in ``delay`` seconds, because of ``reason``."""

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        """An error happened; ``fatal`` when the source closes because of it."""

    def closed(self) -> None:
        """The source reached CLOSED (by ``close()`` or by itself)."""


# A secret header inside the raw bytes of a socket read (a response head's Set-Cookie).
_SECRET_LINE = re.compile(
    rb"(?im)^((?:set-)?cookie|(?:proxy-)?authorization|[a-z-]*api-key)[ \t]*:[^\r\n]*"
)


def _excerpt(data: bytes | memoryview, limit: int = 48) -> str:
    """The first ``limit`` bytes of a read, escaped, with secret header values redacted."""
    head = _SECRET_LINE.sub(rb"\1: <redacted>", bytes(data[:limit]))
    return repr(head) + ("..." if len(data) > limit else "")


class TextTrace(Trace):
    """A ready ``Trace`` that prints one line per happening to ``file`` (default ``sys.stderr``).

    Lines start with ``*`` (the client), ``>`` (sent), ``<`` (received) or ``|`` (SSE decoder).
    """

    def __init__(self, file: IO[str] | None = None) -> None:
        self._file = file

    def _write(self, line: str) -> None:
        file = self._file if self._file is not None else sys.stderr
        file.write(line + "\n")
        file.flush()

    def connecting(self, host: str, port: int, tls: bool) -> None:
        self._write(f"* connecting to {host}:{port} ({'TLS' if tls else 'TCP'})")

    def connected(self, peer: str, tls_version: str | None) -> None:
        self._write(f"* connected to {peer}" + (f" ({tls_version})" if tls_version else ""))

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        self._write(f"> {request_line}")
        for name, value in headers:
            self._write(f"> {name}: {value}")
        if body_size:
            self._write(f"> ({body_size} bytes of body)")

    def socket_read(self, data: bytes | memoryview) -> None:
        self._write(f"< read {len(data)} bytes: {_excerpt(data)}")

    def response_head(self, head: ResponseHead) -> None:
        self._write(f"< HTTP/{head.http_version} {head.status} {head.reason}")
        for name, value in head.headers:
            self._write(f"< {name}: {value}")

    def body(self, size: int, decoded_size: int) -> None:
        if size == decoded_size:
            self._write(f"< body piece: {size} bytes")
        else:
            self._write(f"< body piece: {size} bytes, {decoded_size} decoded")

    def sse(self, record: Comment | Field | Dispatch) -> None:
        if isinstance(record, Comment):
            self._write(f"| comment: {record.text!r}")
        elif isinstance(record, Field):
            self._write(f"| field {record.name!r}: {record.value!r}")
        elif record.event is None:
            self._write("| blank line: nothing to dispatch")
        else:
            event = record.event
            self._write(
                f"| dispatch {event.type!r} data={event.data!r}"
                f" last_event_id={event.last_event_id!r}"
            )

    def redirect(self, status: int, location: str) -> None:
        self._write(f"* redirect {status} to {location}")

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        resume = f", Last-Event-ID: {last_event_id!r}" if last_event_id else ""
        self._write(f"* reconnecting in {delay:.3f} s ({type(reason).__name__}: {reason}){resume}")

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        self._write(f"* {'fatal ' if fatal else ''}error: {type(error).__name__}: {error}")

    def closed(self) -> None:
        self._write("* closed")


def _redact(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, "<redacted>" if _is_secret(name) else value) for name, value in headers]


# Query parameters whose values the trace never shows (``?key=``, ``?access_token=``, ...).
_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:key|token|secret|password|auth)[^=&#]*=)[^&#\s]*", re.I)


def _redact_target(request_line: str) -> str:
    return _SECRET_QUERY.sub(r"\1<redacted>", request_line)


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in _SECRET_HEADERS
        or "token" in lowered
        or "secret" in lowered
        or "api-key" in lowered
    )


def _redacted_head(head: ResponseHead) -> ResponseHead:
    if not any(_is_secret(name) for name, _ in head.headers):
        return head
    return ResponseHead(
        status=head.status,
        reason=head.reason,
        headers=tuple(_redact(head.headers)),
        http_version=head.http_version,
    )


# -- pure helpers (unit-tested directly) -----------------------------------------------------


# The jitter's random numbers, shared by every EventSource: seeding a random.Random from
# os.urandom costs ~11 us, which every new source paid before its first event.
_JITTER = random.Random()


def _reconnect_delay(retry: float, failures: int, cap: float, rng: random.Random) -> float:
    """The wait before the next attempt, in seconds (docs/eventsource.md "Reconnection").

    ``retry`` is the reconnection time (the server's ``retry:``, else the option), ``failures``
    the attempts that failed in a row since the last successful open. After an open stream ends
    or breaks (``failures == 0``) the wait is exactly ``retry``, as WHATWG HTML §9.2.3 says.
    After ``n`` failures it is drawn uniformly ("full jitter") between ``retry`` (the floor: the
    server asked for at least that) and ``max(retry, min(cap, retry * 2**n))``.
    """
    if failures <= 0:
        return retry
    ceiling = max(retry, min(cap, retry * 2.0 ** min(failures, 60)))
    return rng.uniform(retry, ceiling)


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), _RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(0.0, seconds), _RETRY_AFTER_CAP)


def _is_retryable(error: ReactSSEError) -> bool:
    """Whether a failed attempt may be retried (docs/eventsource.md "Errors")."""
    if isinstance(error, HTTPStatusError):
        if isinstance(error, ContentTypeError):
            return False
        return error.status in (408, 429) or 500 <= error.status <= 599
    if isinstance(error, TLSError):
        # A certificate that is not trusted, or names another host, does not fix itself.
        return False
    return isinstance(error, (TransportError, Timeout))


def _normalise_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for name, value in items:
        # RFC 9110 §5.5: CR, LF and NUL are never allowed; refuse at construction, not later.
        if any(c in name or c in value for c in "\r\n\0") or not name:
            raise LocalProtocolError(f"invalid header {name!r}: empty name, or CR/LF/NUL")
    return items


def _check_options(
    *,
    retry: float,
    max_reconnect_delay: float,
    max_retries: int | None,
    connect_timeout: float | None,
    read_timeout: float | None,
    event_timeout: float | None,
    max_redirects: int,
) -> None:
    """Raise ``ValueError`` for a negative (or NaN) duration or count."""
    durations = {"retry": retry, "max_reconnect_delay": max_reconnect_delay}
    timeouts = {
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "event_timeout": event_timeout,
    }
    for name, value in durations.items():
        if not value >= 0:  # also refuses NaN
            raise ValueError(f"{name} must be >= 0, not {value!r}")
    for name, timeout in timeouts.items():
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{name} must be > 0 or None, not {timeout!r}")
    if max_redirects < 0 or (max_retries is not None and max_retries < 0):
        raise ValueError("max_redirects and max_retries must be >= 0")


def _has_header(headers: Sequence[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


# -- the EventSource -----------------------------------------------------------------------------


class EventSource:
    """A Server-Sent Events client on a ReactPHP-style loop, reconnecting like WHATWG's EventSource.

    ``EventSource(url, ...)`` starts connecting at once (callbacks come from the loop, later). The
    options (all keyword-only) are listed in docs/eventsource.md; in short:

    * ``loop``: the ``LoopInterface`` to run on; ``None`` means ``reactsse.loop.Loop.get()``.
    * ``method``, ``headers`` (a mapping or name/value pairs), ``body`` (bytes or str, sent UTF-8)
      or ``json`` (any JSON-serialisable value; sets ``Content-Type: application/json``).
    * ``reconnect`` (default True); ``reconnect_with_body`` (default False: a request with a body
      is not re-sent, the source closes instead); ``retry`` (seconds, the reconnection time until
      the server sends ``retry:``); ``max_reconnect_delay`` (the backoff cap); ``max_retries``
      (consecutive failed attempts retried; None = no limit); ``last_event_id`` (resume from it).
    * ``connect_timeout`` (resolution + TCP + TLS), ``read_timeout`` (no byte for that long),
      ``event_timeout`` (no event for that long; comments do not count): seconds or None.
    * ``max_redirects`` (default 10), ``max_event_size`` (default 8 MiB), ``ssl_context``,
      ``body_reader`` (``"batch"``/``"h11"``, passed to ``ClientConnection``), ``trace``.

    Raises ``InvalidURL`` for a URL that cannot be requested, ``LocalProtocolError`` for a header
    with CR/LF/NUL, ``ValueError`` for both ``body`` and ``json`` or for a negative duration or
    count, ``TypeError`` for a ``json`` value that cannot be serialised. Everything else arrives
    through ``on("error")``.
    """

    def __init__(
        self,
        url: str,
        *,
        loop: LoopInterface | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | str | None = None,
        json: object = None,
        reconnect: bool = True,
        reconnect_with_body: bool = False,
        retry: float = 3.0,
        max_reconnect_delay: float = 30.0,
        max_retries: int | None = None,
        last_event_id: str = "",
        connect_timeout: float | None = 30.0,
        read_timeout: float | None = None,
        event_timeout: float | None = None,
        max_redirects: int = 10,
        max_event_size: int = 8 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        body_reader: Literal["batch", "h11"] | None = None,
        trace: Trace | None = None,
    ) -> None:
        self._url = parse_url(url)
        self._url_text = url
        _check_options(
            retry=retry,
            max_reconnect_delay=max_reconnect_delay,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            event_timeout=event_timeout,
            max_redirects=max_redirects,
        )
        if loop is None:
            loop = Loop.get()
        self._loop: LoopInterface = loop
        self._method = method.upper()
        self._headers = _normalise_headers(headers)
        if json is not None:
            if body is not None:
                raise ValueError("pass body or json, not both")
            body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False)
            if not _has_header(self._headers, "content-type"):
                self._headers.append(("Content-Type", "application/json"))
        self._body: bytes | None = body.encode("utf-8") if isinstance(body, str) else body
        self._reconnect = reconnect
        self._reconnect_with_body = reconnect_with_body
        self._retry = retry
        self._max_reconnect_delay = max_reconnect_delay
        self._max_retries = max_retries
        self._last_event_id = last_event_id
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._event_timeout = event_timeout
        self._max_redirects = max_redirects
        self._max_event_size = max_event_size
        self._ssl_context = ssl_context
        self._body_reader = body_reader
        self._trace = trace
        self._rng = _JITTER

        self._open_listeners: list[OpenListener] = []
        self._close_listeners: list[CloseListener] = []
        self._error_listeners: list[ErrorListener] = []
        self._any_listeners: list[MessageListener] = []
        self._message_listeners: dict[str, list[MessageListener]] = {}
        # connect()'s iterator: its "*" listener and a form of it taking a whole read's events
        # (one call per read instead of one per event), used while it is the only listener.
        self._batch_form: tuple[MessageListener, Callable[[list[MessageEvent]], object]] | None = (
            None
        )

        # Per-attempt state (see the invariants in the module docstring).
        self._phase = _Phase.CONNECTING
        self._failures = 0
        self._closed_by_user = False
        self._pending: PendingConnect | None = None
        self._transport: Transport | None = None
        self._http: ClientConnection | None = None
        self._decoder: EventStreamDecoder | None = None
        self._reconnect_timer: TimerInterface | None = None
        self._read_timer: TimerInterface | None = None
        self._event_timer: TimerInterface | None = None
        self._error_timer: TimerInterface | None = None
        self._last_read = 0.0
        self._last_event = 0.0
        self._error_head: ResponseHead | None = None
        self._error_body = bytearray()
        # The request of the current attempt (redirects change it; a reconnect starts over).
        self._request_url = self._url
        self._request_method = self._method
        self._request_body = self._body
        self._request_headers = self._headers
        self._redirect_count = 0
        self._visited: set[tuple[str, str]] = set()
        self._start_attempt()

    # -- public API ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL given to the constructor (redirects do not change it, as in WHATWG)."""
        return self._url_text

    @property
    def ready_state(self) -> ReadyState:
        """CONNECTING, OPEN or CLOSED (WHATWG ``readyState``)."""
        return _READY_STATE[self._phase]

    @property
    def last_event_id(self) -> str:
        """The last event ID string: sent as ``Last-Event-ID`` on the next reconnect."""
        if self._decoder is not None:
            return self._decoder.last_event_id
        return self._last_event_id

    @overload
    def on(self, event: Literal["open", "close"], listener: Callable[[], object]) -> None: ...

    @overload
    def on(self, event: Literal["error"], listener: ErrorListener) -> None: ...

    @overload
    def on(self, event: str, listener: MessageListener) -> None: ...

    def on(
        self,
        event: str,
        listener: Callable[[], object] | ErrorListener | MessageListener,
    ) -> None:
        """Call ``listener`` for ``event``; adding the same listener twice calls it twice.

        * ``"open"``: ``listener()`` when a stream opens (each reconnect too).
        * ``"message"`` or any event type: ``listener(event)`` with a ``MessageEvent`` whose
          ``type`` is that name. ``"*"``: every ``MessageEvent``, whatever its type. The types
          ``open``, ``error`` and ``close`` reach only ``"*"`` listeners (the names are taken).
        * ``"error"``: ``listener(error)`` with a ``ReactSSEError``. When ``ready_state`` is
          CONNECTING the source reconnects after it; when CLOSED the error was fatal.
        * ``"close"``: ``listener()`` once, when the source closes by itself (204, fatal error,
          a stream that may not reconnect ended); never after ``close()``.
        """
        # Copy on write: an emission in progress iterates over the list it started with.
        if event == "open":
            self._open_listeners = [*self._open_listeners, cast(OpenListener, listener)]
        elif event == "close":
            self._close_listeners = [*self._close_listeners, cast(CloseListener, listener)]
        elif event == "error":
            self._error_listeners = [*self._error_listeners, cast(ErrorListener, listener)]
        elif event == "*":
            self._any_listeners = [*self._any_listeners, cast(MessageListener, listener)]
        else:
            current = self._message_listeners.get(event, [])
            self._message_listeners[event] = [*current, cast(MessageListener, listener)]

    def remove_listener(
        self, event: str, listener: Callable[[], object] | ErrorListener | MessageListener
    ) -> None:
        """Remove one registration of ``listener`` for ``event``; an unknown pair is ignored."""
        lists: dict[str, list[object]] = {
            "open": cast("list[object]", self._open_listeners),
            "close": cast("list[object]", self._close_listeners),
            "error": cast("list[object]", self._error_listeners),
            "*": cast("list[object]", self._any_listeners),
        }
        current = lists.get(event)
        if current is None:
            current = cast("list[object]", self._message_listeners.get(event, []))
        if listener not in current:
            return
        remaining = list(current)
        remaining.remove(listener)
        if event == "open":
            self._open_listeners = cast("list[OpenListener]", remaining)
        elif event == "close":
            self._close_listeners = cast("list[CloseListener]", remaining)
        elif event == "error":
            self._error_listeners = cast("list[ErrorListener]", remaining)
        elif event == "*":
            self._any_listeners = cast("list[MessageListener]", remaining)
        elif remaining:
            self._message_listeners[event] = cast("list[MessageListener]", remaining)
        else:
            del self._message_listeners[event]

    def close(self) -> None:
        """Close for good, at any moment: releases socket and timers at once; no event afterwards.

        Idempotent. Safe from inside any listener. The loop's ``run()`` returns once nothing else
        is registered.
        """
        # Set first: close() from the final "error" listener must still stop the "close" event.
        self._closed_by_user = True
        if self._phase is _Phase.CLOSED:
            return
        self._release()
        self._phase = _Phase.CLOSED
        if self._trace is not None:
            self._trace.closed()

    def __repr__(self) -> str:
        return f"<EventSource {self._method} {self._url} {self.ready_state.name}>"

    # -- attempts ----------------------------------------------------------------------------

    def _start_attempt(self) -> None:
        """A fresh attempt from the original request (WHATWG: reconnecting re-fetches the URL)."""
        self._request_url = self._url
        self._request_method = self._method
        self._request_body = self._body
        self._request_headers = list(self._headers)
        last_event_id = self.last_event_id
        if last_event_id:
            # WHATWG HTML §9.2.3: the Last-Event-ID header carries the last event ID string; it
            # replaces a user's header of that name, which would be stale after an event.
            self._request_headers = [
                (name, value)
                for name, value in self._request_headers
                if name.lower() != "last-event-id"
            ]
            self._request_headers.append(("Last-Event-ID", last_event_id))
        self._redirect_count = 0
        self._visited = {(self._request_method, str(self._request_url))}
        self._connect()

    def _connect(self) -> None:
        url = self._request_url
        self._phase = _Phase.CONNECTING
        ssl_context: ssl.SSLContext | None = None
        if url.is_tls:
            if self._ssl_context is None:
                self._ssl_context = default_ssl_context()
            ssl_context = self._ssl_context
        if self._trace is not None:
            self._trace.connecting(url.host, url.port, url.is_tls)
        self._pending = _connect_transport(
            self._loop,
            url.host,
            url.port,
            ssl_context=ssl_context,
            server_hostname=url.host if ssl_context is not None else None,
            timeout=self._connect_timeout,
            on_connected=self._on_connected,
            on_error=self._on_connect_error,
        )

    def _on_connect_error(self, error: Exception) -> None:
        self._pending = None
        if self._phase is not _Phase.CONNECTING:
            return
        self._fail(_as_reactsse_error(error))

    def _on_connected(self, transport: Transport) -> None:
        self._pending = None
        if self._phase is not _Phase.CONNECTING:
            transport.close()
            return
        self._phase = _Phase.AWAITING_HEAD
        self._transport = transport
        http = (
            ClientConnection()
            if self._body_reader is None
            else ClientConnection(body_reader=self._body_reader)
        )
        self._http = http
        try:
            wire = http.send_request(
                self._request_method,
                self._request_url,
                self._request_headers,
                self._request_body,
            )
        except ReactSSEError as error:
            self._fail(error)
            return
        if self._trace is not None:
            self._trace_connected(transport)
            self._trace_request(wire)
        transport.start(self._on_data, self._on_transport_close)
        transport.write(wire)
        if self._read_timeout is not None and self._transport is transport:
            self._last_read = monotonic()
            self._read_timer = self._loop.add_timer(self._read_timeout, self._on_read_watchdog)

    def _trace_connected(self, transport: Transport) -> None:
        assert self._trace is not None
        peer = transport.peer
        host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
        version = None
        if isinstance(transport, TLSTransport):
            version = transport.ssl_object.version()
        self._trace.connected(f"{host}:{peer[1]}", version)

    def _trace_request(self, wire: bytes) -> None:
        assert self._trace is not None
        head, _, body = wire.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        self._trace.request_sent(_redact_target(lines[0]), _redact(headers), len(body))

    # -- reading -------------------------------------------------------------------------------

    def _on_data(self, data: memoryview) -> None:
        """The read listener's work: one socket read, all of it, through HTTP, SSE, listeners.

        ``data`` is a view of the transport's reused read buffer: ``receive_data`` copies the
        body out of it (once), and nothing here keeps it."""
        if self._read_timeout is not None:
            self._last_read = monotonic()
        if self._trace is not None:
            self._trace.socket_read(data)
        http = self._http
        assert http is not None
        transport = self._transport
        try:
            items = http.receive_data(data)
        except ReactSSEError as error:
            self._on_protocol_error(error)
            return
        self._process(items)
        if http.state is _HTTP_FAILED and self._transport is transport:
            self._on_http_fault(http)

    def _on_transport_close(self, error: Exception | None) -> None:
        transport = self._transport
        if error is not None:
            if self._phase is _Phase.READING_ERROR_BODY:
                self._finish_error_body()
            else:
                self._fail(_as_reactsse_error(error))
            return
        http = self._http
        assert http is not None
        try:
            items = http.receive_data(b"")  # EOF: ends a close-delimited body, or fails
        except ReactSSEError as exc:
            self._on_protocol_error(exc)
            return
        self._process(items)
        if http.state is _HTTP_FAILED and self._transport is transport:
            self._on_http_fault(http)
            return
        if self._transport is transport and transport is not None:
            # EOF that h11 did not turn into an end (should not happen): a broken connection.
            self._fail(ConnectionClosed("the server closed the connection"))

    def _on_http_fault(self, http: ClientConnection) -> None:
        # receive_data returned (and _process delivered) what it decoded before a fault, so
        # nothing received is lost; the fault itself is raised by the next call.
        try:
            http.raise_error()
        except ReactSSEError as error:
            self._on_protocol_error(error)

    def _on_protocol_error(self, error: ReactSSEError) -> None:
        if self._phase is _Phase.READING_ERROR_BODY:
            self._finish_error_body()
        else:
            self._fail(error)

    def _process(self, items: Sequence[ResponseHead | bytes | ResponseEnd]) -> None:
        transport = self._transport
        for item in items:
            if isinstance(item, bytes):
                if self._phase is _Phase.OPEN:
                    self._on_body(item)
                elif self._phase is _Phase.READING_ERROR_BODY:
                    self._on_error_body(item)
            elif isinstance(item, ResponseHead):
                self._on_head(item)
            elif self._phase is _Phase.OPEN:
                self._on_stream_end()
            elif self._phase is _Phase.READING_ERROR_BODY:
                self._finish_error_body()
            if self._transport is not transport:
                return

    def _on_body(self, data: bytes) -> None:
        if self._trace is not None:
            # HTTP hands out decoded bytes; it says how many it received for them.
            encoded = None if self._http is None else self._http.encoded_size
            self._trace.body(len(data) if encoded is None else encoded, len(data))
        decoder = self._decoder
        assert decoder is not None
        try:
            events = decoder.feed(data)
        except LimitExceeded as error:
            # EventTooLarge carries the events completed before the offending point: deliver
            # them first, nothing received is lost.
            if isinstance(error, EventTooLarge) and error.events:
                self._emit_events(cast("list[MessageEvent]", error.events))
            if self._phase is _Phase.OPEN:
                self._fail(error)
            return
        if events:
            if self._event_timeout is not None:
                self._last_event = monotonic()
            self._emit_events(events)

    def _emit_events(self, events: list[MessageEvent]) -> None:
        """Call the listeners of each event; stop at once if one of them closed the source.

        Called only in OPEN. The hot path: one dict lookup per event, and the phase is checked
        after each call (a listener may call ``close()``), not before.
        """
        by_type = self._message_listeners
        batch = self._batch_form
        if batch is not None and not by_type:
            any_listeners = self._any_listeners
            if len(any_listeners) == 1 and any_listeners[0] is batch[0]:
                # The same calls as the loop below would make, in one (the listener never
                # closes the source, so no phase check is skipped).
                batch[1](events)
                return
        opened = _Phase.OPEN
        for event in events:
            listeners = by_type.get(event.type)
            if listeners is not None:
                for listener in listeners:
                    listener(event)
                    if self._phase is not opened:
                        return
            for listener in self._any_listeners:
                listener(event)
                if self._phase is not opened:
                    return

    def _on_head(self, head: ResponseHead) -> None:
        if self._trace is not None:
            self._trace.response_head(_redacted_head(head))
        status = head.status
        if status in _REDIRECTS and head.get("location") is not None:
            self._follow_redirect(head)
            return
        if status == 204:
            # WHATWG HTML §9.2.3: 204 No Content means "stop reconnecting", cleanly.
            self._finish(None)
            return
        if status == 200 and head.content_type == "text/event-stream":
            self._open(head)
            return
        # Not an event stream: read (some of) the body for the error, then fail.
        self._phase = _Phase.READING_ERROR_BODY
        self._error_head = head
        self._error_body = bytearray()
        wait = _ERROR_BODY_WAIT
        if self._read_timeout is not None:
            wait = min(wait, self._read_timeout)
        self._error_timer = self._loop.add_timer(wait, self._on_error_body_timeout)

    def _open(self, head: ResponseHead) -> None:
        try:
            # HTTP decodes the body; an unsupported coding must fail before "open" is emitted.
            content_decoder_for(head)
        except ReactSSEError as error:
            self._fail(error)
            return
        trace = None if self._trace is None else self._trace.sse
        self._decoder = EventStreamDecoder(
            max_event_size=self._max_event_size,
            trace=trace,
            last_event_id=self._last_event_id,
        )
        self._phase = _Phase.OPEN
        self._failures = 0
        if self._event_timeout is not None:
            self._last_event = monotonic()
            self._event_timer = self._loop.add_timer(self._event_timeout, self._on_event_watchdog)
        for listener in self._open_listeners:
            if self._phase is not _Phase.OPEN:
                return
            listener()

    def _on_stream_end(self) -> None:
        """The response ended cleanly while open: reconnect (WHATWG HTML §9.2.3), if allowed."""
        decoder = self._decoder
        if decoder is not None:
            # An unterminated last block is discarded (WHATWG §9.2.6).
            decoder.close()
        self._fail(ConnectionClosed("the server ended the stream"), clean_end=True)

    # -- redirects -------------------------------------------------------------------------

    def _follow_redirect(self, head: ResponseHead) -> None:
        location = head.get("location")
        assert location is not None
        self._redirect_count += 1
        if self._redirect_count > self._max_redirects:
            self._fail(
                TooManyRedirects(f"more than {self._max_redirects} redirects, last to {location!r}")
            )
            return
        try:
            target = self._request_url.join(location)
        except ReactSSEError as error:
            self._fail(error)
            return
        method = self._request_method
        body = self._request_body
        headers = self._request_headers
        # Fetch §4.4 step 12: 303 (except HEAD), and 301/302 for POST, become a GET without body.
        if (head.status == 303 and method != "HEAD") or (
            head.status in (301, 302) and method == "POST"
        ):
            method = "GET"
            body = None
            headers = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
        # Fetch §4.4 step 13: credentials do not follow a redirect to another origin.
        if target.origin != self._request_url.origin:
            headers = [(n, v) for n, v in headers if n.lower() not in _ORIGIN_BOUND_HEADERS]
        key = (method, str(target))
        if key in self._visited:
            self._fail(TooManyRedirects(f"redirect loop: {method} {target} was already requested"))
            return
        self._visited.add(key)
        if self._trace is not None:
            self._trace.redirect(head.status, str(target))
        self._release_connection()
        self._request_url = target
        self._request_method = method
        self._request_body = body
        self._request_headers = headers
        self._connect()

    # -- error responses -------------------------------------------------------------------

    def _on_error_body(self, data: bytes) -> None:
        self._error_body += data[: ERROR_BODY_LIMIT - len(self._error_body)]
        if len(self._error_body) >= ERROR_BODY_LIMIT:
            self._finish_error_body()

    def _on_error_body_timeout(self, _timer: TimerInterface) -> None:
        self._error_timer = None
        if self._phase is _Phase.READING_ERROR_BODY:
            self._finish_error_body()

    def _finish_error_body(self) -> None:
        head = self._error_head
        assert head is not None
        body = bytes(self._error_body[:ERROR_BODY_LIMIT]).decode("utf-8", errors="replace")
        url = str(self._request_url)
        error: HTTPStatusError
        if head.status == 200:
            error = ContentTypeError(
                f"expected Content-Type text/event-stream, got {head.content_type or 'none'!r}"
                f" from {url}",
                url=url,
                status=head.status,
                reason=head.reason,
                headers=head.headers,
                body=body,
            )
        else:
            error = HTTPStatusError(
                f"HTTP {head.status} {head.reason} from {url}"
                + (f": {body[:200]}" if body else ""),
                url=url,
                status=head.status,
                reason=head.reason,
                headers=head.headers,
                body=body,
            )
        retry_after = _parse_retry_after(head.get("retry-after")) if _is_retryable(error) else None
        self._fail(error, retry_after=retry_after)

    # -- timeouts --------------------------------------------------------------------------

    def _on_read_watchdog(self, _timer: TimerInterface) -> None:
        # One timer per connection, re-armed lazily: a read costs a monotonic() call, not a
        # cancel + add (STYLE rule 5: timers are cheap to add, but not free).
        self._read_timer = None
        timeout = self._read_timeout
        if timeout is None or self._transport is None:
            return
        idle = monotonic() - self._last_read
        if idle + 0.0005 < timeout:
            self._read_timer = self._loop.add_timer(timeout - idle, self._on_read_watchdog)
            return
        if self._phase is _Phase.READING_ERROR_BODY:
            self._finish_error_body()
            return
        self._fail(
            ReadTimeout(f"no data for {timeout:g} s from {self._request_url}", timeout=timeout)
        )

    def _on_event_watchdog(self, _timer: TimerInterface) -> None:
        self._event_timer = None
        timeout = self._event_timeout
        if timeout is None or self._phase is not _Phase.OPEN:
            return
        idle = monotonic() - self._last_event
        if idle + 0.0005 < timeout:
            self._event_timer = self._loop.add_timer(timeout - idle, self._on_event_watchdog)
            return
        self._fail(
            EventTimeout(f"no event for {timeout:g} s from {self._request_url}", timeout=timeout)
        )

    # -- failing, reconnecting, finishing -----------------------------------------------------

    def _may_reconnect(self) -> bool:
        if not self._reconnect:
            return False
        return self._body is None or self._reconnect_with_body

    def _fail(
        self,
        error: ReactSSEError,
        *,
        retry_after: float | None = None,
        clean_end: bool = False,
    ) -> None:
        """End the current attempt because of ``error``: reconnect if allowed, else close."""
        was_open = self._phase is _Phase.OPEN
        self._release()
        if not was_open:
            self._failures += 1
        if not self._may_reconnect() or not (clean_end or _is_retryable(error)):
            self._finish(None if clean_end else error)
            return
        if self._max_retries is not None and self._failures > self._max_retries:
            self._finish(error)
            return
        if retry_after is not None:
            delay = retry_after
        else:
            delay = _reconnect_delay(
                self._retry, self._failures, self._max_reconnect_delay, self._rng
            )
        self._phase = _Phase.WAITING
        self._reconnect_timer = self._loop.add_timer(delay, self._on_reconnect_timer)
        if self._trace is not None:
            self._trace.error(error, False)
            self._trace.reconnect_scheduled(delay, error, self._last_event_id)
        for listener in self._error_listeners:
            if self._phase is not _Phase.WAITING:
                return
            listener(error)

    def _on_reconnect_timer(self, _timer: TimerInterface) -> None:
        self._reconnect_timer = None
        if self._phase is _Phase.WAITING:
            self._start_attempt()

    def _finish(self, error: ReactSSEError | None) -> None:
        """CLOSED by the source itself: the final error (if any), then ``close``."""
        self._release()
        self._phase = _Phase.CLOSED
        if self._trace is not None:
            if error is not None:
                self._trace.error(error, True)
            self._trace.closed()
        if error is not None:
            for listener in self._error_listeners:
                if self._closed_by_user:
                    return
                listener(error)
        for close_listener in self._close_listeners:
            if self._closed_by_user:
                return
            close_listener()

    def _release_connection(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close()
        self._http = None
        if self._read_timer is not None:
            self._loop.cancel_timer(self._read_timer)
            self._read_timer = None
        if self._error_timer is not None:
            self._loop.cancel_timer(self._error_timer)
            self._error_timer = None
        self._error_head = None
        self._error_body = bytearray()

    def _release(self) -> None:
        """Release everything the current phase holds (socket, timers, decoder) at once."""
        self._release_connection()
        if self._event_timer is not None:
            self._loop.cancel_timer(self._event_timer)
            self._event_timer = None
        if self._reconnect_timer is not None:
            self._loop.cancel_timer(self._reconnect_timer)
            self._reconnect_timer = None
        decoder = self._decoder
        if decoder is not None:
            # Keep what the stream taught us: the last event ID and the server's retry.
            self._last_event_id = decoder.last_event_id
            if decoder.retry is not None:
                self._retry = decoder.retry / 1000.0
            self._decoder = None


def _as_reactsse_error(error: Exception) -> ReactSSEError:
    if isinstance(error, ReactSSEError):
        return error
    # The connector translates OSError/SSLError itself (STYLE rule 7); this is a safety net.
    wrapped = ConnectionClosed(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


# -- the blocking iterator ---------------------------------------------------------------------


class _Inbox:
    """What the listeners of a ``connect()`` iterator collect; no reference to the iterator."""

    def __init__(self, loop: LoopInterface) -> None:
        self.loop = loop
        self.events: collections.deque[MessageEvent] = collections.deque()
        self.error: ReactSSEError | None = None
        self.source: EventSource | None = None

    def push(self, event: MessageEvent) -> None:
        events = self.events
        if not events:
            # One stop per batch is enough: stop() ends run() after this iteration, and the
            # rest of this read's events are queued in the same iteration (ReactPHP semantics).
            self.loop.stop()
        events.append(event)

    def push_all(self, new: list[MessageEvent]) -> None:
        """``push`` for each of ``new``, in one call (one per socket read)."""
        events = self.events
        if not events:
            self.loop.stop()
        events.extend(new)

    def fail(self, error: ReactSSEError) -> None:
        # Only a fatal error (the source is CLOSED) is raised; the others are reconnected from.
        if self.source is not None and self.source.ready_state is ReadyState.CLOSED:
            self.error = error
            self.loop.stop()

    def finish(self) -> None:
        self.loop.stop()


class EventIterator(Iterator[MessageEvent]):
    """The blocking iterator ``connect()`` returns: ``MessageEvent`` objects, as they arrive.

    Each ``next()`` runs a private ``StreamSelectLoop`` until the next event. Events of every type
    are yielded (check ``event.type``). Iteration ends (``StopIteration``) when the source closes
    cleanly: HTTP 204, or the end of a stream that may not reconnect. A fatal error is raised from
    ``next()`` after the events received before it. Errors the source recovers from by
    reconnecting are not raised (set a ``trace`` to see them). Use it in a ``with`` block, or call
    ``close()``: that closes the connection at once.
    """

    def __init__(self, source: EventSource, loop: LoopInterface, inbox: _Inbox) -> None:
        self._source = source
        self._loop = loop
        self._inbox = inbox
        self._events = inbox.events

    @property
    def source(self) -> EventSource:
        """The ``EventSource`` underneath (for ``ready_state``, ``last_event_id``, ``url``)."""
        return self._source

    @property
    def last_event_id(self) -> str:
        """The last event ID string seen so far."""
        return self._source.last_event_id

    def __iter__(self) -> EventIterator:
        return self

    def __next__(self) -> MessageEvent:
        events = self._events
        if events:
            return events.popleft()  # the hot path: the rest of a read's events
        inbox = self._inbox
        while not events:
            if self._source.ready_state is ReadyState.CLOSED:
                self._close_loop()
                error, inbox.error = inbox.error, None
                if error is not None:
                    raise error
                raise StopIteration
            self._loop.run()
        return events.popleft()

    def close(self) -> None:
        """Close the connection and the private loop at once; idempotent. Iteration then ends."""
        self._inbox.events.clear()
        self._source.close()
        self._close_loop()

    def _close_loop(self) -> None:
        close = getattr(self._loop, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> EventIterator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net for `for event in connect(url): break` without `with`: the iterator is
        # dropped at once (no reference cycle points back to it), and the socket with it.
        with contextlib.suppress(Exception):
            self.close()


def connect(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: bytes | str | None = None,
    json: object = None,
    reconnect: bool = True,
    reconnect_with_body: bool = False,
    retry: float = 3.0,
    max_reconnect_delay: float = 30.0,
    max_retries: int | None = None,
    last_event_id: str = "",
    connect_timeout: float | None = 30.0,
    read_timeout: float | None = None,
    event_timeout: float | None = None,
    max_redirects: int = 10,
    max_event_size: int = 8 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
    body_reader: Literal["batch", "h11"] | None = None,
    trace: Trace | None = None,
) -> EventIterator:
    """Open an event stream for a script: ``with reactsse.connect(url) as events: for e in events``.

    Takes the same options as ``EventSource`` (except ``loop``: it runs a private
    ``StreamSelectLoop``) and returns an ``EventIterator`` yielding ``MessageEvent`` objects. By
    default it reconnects like ``EventSource`` (``reconnect=False`` for a one-shot stream). Raises
    ``InvalidURL``/``LocalProtocolError``/``ValueError`` at once for a bad request; fatal errors
    (``HTTPStatusError``, ``ContentTypeError``, ``TLSError``, ``RemoteProtocolError``,
    ``TooManyRedirects``, and with ``reconnect=False`` or ``max_retries`` also transport errors and
    timeouts) are raised by the iterator.
    """
    loop = StreamSelectLoop()
    inbox = _Inbox(loop)
    try:
        source = EventSource(
            url,
            loop=loop,
            method=method,
            headers=headers,
            body=body,
            json=json,
            reconnect=reconnect,
            reconnect_with_body=reconnect_with_body,
            retry=retry,
            max_reconnect_delay=max_reconnect_delay,
            max_retries=max_retries,
            last_event_id=last_event_id,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            event_timeout=event_timeout,
            max_redirects=max_redirects,
            max_event_size=max_event_size,
            ssl_context=ssl_context,
            body_reader=body_reader,
            trace=trace,
        )
    except BaseException:
        loop.close()  # a bad argument: release the selector we just created
        raise
    inbox.source = source
    push = inbox.push
    source.on("*", push)
    source._batch_form = (push, inbox.push_all)
    source.on("error", inbox.fail)
    source.on("close", inbox.finish)
    return EventIterator(source, loop, inbox)
