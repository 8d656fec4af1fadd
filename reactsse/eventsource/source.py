"""``EventSource``: a reconnecting Server-Sent Events client on any ``LoopInterface``.

The shape is clue/reactphp-eventsource's (``src/EventSource.php``): an emitter with ``on("open")``,
``on("message")``, ``on(<event type>)``, ``on("error")``, ``ready_state`` and ``close()``; the
behaviour is WHATWG HTML §9.2 (reconnection, ``Last-Event-ID``, ``retry``, 204, status and
Content-Type checks), plus what both lack: any method, headers and body, redirects with header
hygiene, backoff with jitter, timeouts, limits, gzip and a trace.

This module is the phase machine and the orchestration of an attempt; its neighbours hold the
parts: ``options`` (the options), ``request`` (building and redirecting requests), ``policy``
(when and how soon to reconnect), ``listeners``, ``watchdog`` (the timeouts) and ``trace``.

The response socket is registered with ``add_read_stream`` (by the transport); each time it is
readable one ``recv`` takes what is there, without blocking, and hands it to ``_on_data``, which
feeds it to the HTTP state machine (``reactsse.http.ClientConnection``), feeds all body bytes of
that read to the SSE decoder in one ``feed`` call, and emits the events it returns. At the end
the transport removes the stream from the loop.

The state machine is one Enum, ``_Phase`` (``ready_state`` is derived from it); the allowed moves
are the table ``_TRANSITIONS``::

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
  READING_ERROR_BODY; the read watchdog runs only while a transport is set; the event watchdog
  only in OPEN.
* Every phase change that leaves a phase releases what that phase held (``_release``), *before* any
  listener is called, so a listener may call ``close()`` (or anything) at any moment.
* CLOSED is terminal and holds nothing: no socket, no timer, so the loop's ``run()`` returns. After
  ``close()`` no listener is ever called again; after a CLOSED the source reached by itself, only
  the final ``error`` (if any) and ``close`` listeners run.
* ``ready_state`` is OPEN exactly in OPEN, CLOSED exactly in CLOSED, CONNECTING otherwise.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Callable, Sequence

from reactsse.connector import PendingConnect, Transport, default_ssl_context
from reactsse.connector import connect as _connect_transport
from reactsse.errors import (
    ConnectionClosed,
    ContentTypeError,
    EventTimeout,
    HTTPStatusError,
    LimitExceeded,
    ReactSSEError,
    ReadTimeout,
)
from reactsse.eventsource.listeners import Emitter
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.policy import (
    JITTER,
    is_retryable,
    parse_retry_after,
    reconnect_delay,
    retries_exhausted,
)
from reactsse.eventsource.request import REDIRECT_STATUSES, RedirectChain, build_request
from reactsse.eventsource.trace import redacted_head, trace_connected, trace_request
from reactsse.eventsource.watchdog import Watchdog
from reactsse.http import (
    ClientConnection,
    ConnectionState,
    ResponseEnd,
    ResponseHead,
    content_decoder_for,
    parse_url,
)
from reactsse.loop import LoopInterface, TimerInterface
from reactsse.loop.facade import Loop
from reactsse.sse import EventStreamDecoder, MessageEvent

__all__ = ["ERROR_BODY_LIMIT", "EventSource", "ReadyState"]

_HTTP_FAILED = ConnectionState.ERROR
# How much of a failed response's body the error carries (its first 64 KiB).
ERROR_BODY_LIMIT = 64 * 1024
# How long we wait at most for that body before raising with what we have.
_ERROR_BODY_WAIT = 5.0


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


# Every allowed phase change, in one place (h11's ``_state.py`` writes its machine the same way).
_TRANSITIONS: dict[_Phase, frozenset[_Phase]] = {
    # A redirect connects again; so does the first attempt, entered from the initial phase.
    _Phase.CONNECTING: frozenset(
        {_Phase.CONNECTING, _Phase.AWAITING_HEAD, _Phase.WAITING, _Phase.CLOSED}
    ),
    _Phase.AWAITING_HEAD: frozenset(
        {
            _Phase.CONNECTING,
            _Phase.OPEN,
            _Phase.READING_ERROR_BODY,
            _Phase.WAITING,
            _Phase.CLOSED,
        }
    ),
    _Phase.OPEN: frozenset({_Phase.WAITING, _Phase.CLOSED}),
    _Phase.READING_ERROR_BODY: frozenset({_Phase.WAITING, _Phase.CLOSED}),
    _Phase.WAITING: frozenset({_Phase.CONNECTING, _Phase.CLOSED}),
    _Phase.CLOSED: frozenset(),
}

_READY_STATE = {
    _Phase.CONNECTING: ReadyState.CONNECTING,
    _Phase.AWAITING_HEAD: ReadyState.CONNECTING,
    _Phase.OPEN: ReadyState.OPEN,
    _Phase.READING_ERROR_BODY: ReadyState.CONNECTING,
    _Phase.WAITING: ReadyState.CONNECTING,
    _Phase.CLOSED: ReadyState.CLOSED,
}


class EventSource(Emitter):
    # Bigger than ~300 lines because the response path (_on_data to _on_stream_end: bytes into
    # ClientConnection, the content decoder and the SSE decoder, and their errors) stays in one
    # piece: each read runs it with no call that is not needed, and the error-body reading of
    # READING_ERROR_BODY shares its content decoder. The rest lives in the sibling modules.
    """A Server-Sent Events client on a ReactPHP-style loop, reconnecting like WHATWG's EventSource.

    ``EventSource(url, *, loop=None, options=None, **overrides)`` starts connecting at once
    (callbacks come from the loop, later). ``loop`` is the ``LoopInterface`` to run on (``None``:
    ``reactsse.loop.Loop.get()``). The options are ``EventSourceOptions`` (see it for each one):
    pass ``options=EventSourceOptions(...)``, or the same names as keywords
    (``EventSource(url, loop=loop, read_timeout=5)``), or both (the keywords win).

    Raises ``InvalidURL`` for a URL that cannot be requested, ``LocalProtocolError`` for a header
    with CR/LF/NUL, ``ValueError`` for both ``body`` and ``json`` or for a negative duration or
    count, ``TypeError`` for an unknown option or a ``json`` value that cannot be serialised.
    Everything else arrives through ``on("error")``.
    """

    def __init__(
        self,
        url: str,
        *,
        loop: LoopInterface | None = None,
        options: EventSourceOptions | None = None,
        **overrides: object,
    ) -> None:
        self._url = parse_url(url)
        self._url_text = url
        opts = EventSourceOptions.merge(options, overrides)
        self.options = opts
        """The options this source was created with."""
        if loop is None:
            loop = Loop.get()
        self._loop: LoopInterface = loop
        # The original request: every reconnect starts over from it (WHATWG HTML §9.2.3).
        self._request = build_request(self._url, opts.method, opts.headers, opts.body, opts.json)
        self._retry = opts.retry
        self._last_event_id = opts.last_event_id
        self._ssl_context = opts.ssl_context
        self._trace = opts.trace
        Emitter.__init__(self)
        self._read_watchdog = self._watchdog(opts.read_timeout, self._on_read_timeout)
        self._event_watchdog = self._watchdog(opts.event_timeout, self._on_event_timeout)

        # Per-attempt state (see the invariants in the module docstring).
        self._phase = _Phase.CONNECTING
        self._failures = 0
        self._closed_by_user = False
        self._pending: PendingConnect | None = None
        self._transport: Transport | None = None
        self._http: ClientConnection | None = None
        self._decoder: EventStreamDecoder | None = None
        self._reconnect_timer: TimerInterface | None = None
        self._error_timer: TimerInterface | None = None
        self._error_head: ResponseHead | None = None
        self._error_body = bytearray()
        # The request of the current attempt (redirects change it; a reconnect starts over).
        self._attempt = self._request
        self._redirects = RedirectChain(self._attempt, opts.max_redirects)
        self._start_attempt()

    def _watchdog(self, timeout: float | None, on_timeout: Callable[[], None]) -> Watchdog | None:
        return None if timeout is None else Watchdog(self._loop, timeout, on_timeout)

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
        self._enter(_Phase.CLOSED)
        if self._trace is not None:
            self._trace.closed()
        self._run_done_callbacks()

    def __repr__(self) -> str:
        return f"<EventSource {self._request.method} {self._url} {self.ready_state.name}>"

    # -- attempts ----------------------------------------------------------------------------

    def _enter(self, phase: _Phase) -> None:
        assert phase in _TRANSITIONS[self._phase], f"{self._phase} -> {phase}"
        self._phase = phase

    def _start_attempt(self) -> None:
        """A fresh attempt from the original request (WHATWG: reconnecting re-fetches the URL)."""
        self._attempt = self._request.with_last_event_id(self.last_event_id)
        self._redirects = RedirectChain(self._attempt, self.options.max_redirects)
        self._connect()

    def _connect(self) -> None:
        url = self._attempt.url
        self._enter(_Phase.CONNECTING)
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
            timeout=self.options.connect_timeout,
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
        self._enter(_Phase.AWAITING_HEAD)
        self._transport = transport
        body_reader = self.options.body_reader
        http = (
            ClientConnection() if body_reader is None else ClientConnection(body_reader=body_reader)
        )
        self._http = http
        request = self._attempt
        try:
            wire = http.send_request(request.method, request.url, request.headers, request.body)
        except ReactSSEError as error:
            self._fail(error)
            return
        if self._trace is not None:
            trace_connected(self._trace, transport)
            trace_request(self._trace, wire)
        transport.start(self._on_data, self._on_transport_close)
        transport.write(wire)
        if self._read_watchdog is not None and self._transport is transport:
            self._read_watchdog.start()

    # -- reading -------------------------------------------------------------------------------

    def _on_data(self, data: memoryview) -> None:
        """The read listener's work: one socket read, all of it, through HTTP, SSE, listeners.

        ``data`` is a view of the transport's reused read buffer: ``receive_data`` copies the
        body out of it (once), and nothing here keeps it."""
        if self._read_watchdog is not None:
            self._read_watchdog.last = self._loop.now()
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
            if self._phase is _Phase.OPEN:
                self._fail(error)
            return
        if events:
            if self._event_watchdog is not None:
                self._event_watchdog.last = self._loop.now()
            self._emit_events(events)
            # A limit hit after these events: the decoder returned them and kept its error
            # (nothing received is lost); fail now rather than on the next read.
            if decoder.error is not None and self._phase is _Phase.OPEN:
                self._fail(decoder.error)

    def _emit_events(self, events: list[MessageEvent]) -> None:
        """Call the listeners of each event; stop at once if one of them closed the source.

        Called only in OPEN. The hot path: one dict lookup per event, and the phase is checked
        after each call (a listener may call ``close()``), not before. While only batch
        listeners would receive the events, each takes the whole read in one call.
        """
        listeners = self._listeners
        opened = _Phase.OPEN
        batch = listeners.batch_only
        if batch is not None:
            for batch_listener in batch:
                batch_listener(events)
                if self._phase is not opened:
                    return
            return
        by_type = listeners.messages
        for event in events:
            typed = by_type.get(event.type)
            if typed is not None:
                for listener in typed:
                    listener(event)
                    if self._phase is not opened:
                        return
            for listener in listeners.every:
                listener(event)
                if self._phase is not opened:
                    return

    def _on_head(self, head: ResponseHead) -> None:
        if self._trace is not None:
            self._trace.response_head(redacted_head(head))
        status = head.status
        if status in REDIRECT_STATUSES and head.get("location") is not None:
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
        self._enter(_Phase.READING_ERROR_BODY)
        self._error_head = head
        self._error_body = bytearray()
        wait = _ERROR_BODY_WAIT
        if self._read_watchdog is not None:
            wait = min(wait, self._read_watchdog.timeout)
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
            max_event_size=self.options.max_event_size,
            trace=trace,
            last_event_id=self._last_event_id,
        )
        self._enter(_Phase.OPEN)
        self._failures = 0
        if self._event_watchdog is not None:
            self._event_watchdog.start()
        for listener in self._listeners.get("open"):
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
        try:
            request = self._redirects.follow(self._attempt, head.status, location)
        except ReactSSEError as error:
            self._fail(error)
            return
        if self._trace is not None:
            self._trace.redirect(head.status, str(request.url))
        self._release_connection()
        self._attempt = request
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
        error = status_error(head, str(self._attempt.url), body)
        retry_after = parse_retry_after(head.get("retry-after")) if is_retryable(error) else None
        self._fail(error, retry_after=retry_after)

    # -- timeouts --------------------------------------------------------------------------

    def _on_read_timeout(self) -> None:
        if self._transport is None:
            return
        if self._phase is _Phase.READING_ERROR_BODY:
            self._finish_error_body()
            return
        timeout = self.options.read_timeout
        assert timeout is not None
        url = self._attempt.url
        self._fail(ReadTimeout(f"no data for {timeout:g} s from {url}", timeout=timeout))

    def _on_event_timeout(self) -> None:
        if self._phase is not _Phase.OPEN:
            return
        timeout = self.options.event_timeout
        assert timeout is not None
        url = self._attempt.url
        self._fail(EventTimeout(f"no event for {timeout:g} s from {url}", timeout=timeout))

    # -- failing, reconnecting, finishing -----------------------------------------------------

    def _may_reconnect(self) -> bool:
        if not self.options.reconnect:
            return False
        return self._request.body is None or self.options.reconnect_with_body

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
        if not self._may_reconnect() or not (clean_end or is_retryable(error)):
            self._finish(None if clean_end else error)
            return
        if retries_exhausted(self._failures, self.options.max_retries):
            self._finish(error)
            return
        if retry_after is not None:
            delay = retry_after
        else:
            cap = self.options.max_reconnect_delay
            delay = reconnect_delay(self._retry, self._failures, cap, JITTER)
        self._enter(_Phase.WAITING)
        self._reconnect_timer = self._loop.add_timer(delay, self._on_reconnect_timer)
        if self._trace is not None:
            self._trace.error(error, False)
            self._trace.reconnect_scheduled(delay, error, self._last_event_id)
        for listener in self._listeners.get("error"):
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
        self._enter(_Phase.CLOSED)
        if self._trace is not None:
            if error is not None:
                self._trace.error(error, True)
            self._trace.closed()
        try:
            self._emit_final(error)
        finally:
            self._run_done_callbacks()

    def _emit_final(self, error: ReactSSEError | None) -> None:
        if error is not None:
            for listener in self._listeners.get("error"):
                if self._closed_by_user:
                    return
                listener(error)
        for close_listener in self._listeners.get("close"):
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
        if self._read_watchdog is not None:
            self._read_watchdog.stop()
        if self._error_timer is not None:
            self._loop.cancel_timer(self._error_timer)
            self._error_timer = None
        self._error_head = None
        self._error_body = bytearray()

    def _release(self) -> None:
        """Release everything the current phase holds (socket, timers, decoder) at once."""
        self._release_connection()
        if self._event_watchdog is not None:
            self._event_watchdog.stop()
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


def status_error(head: ResponseHead, url: str, body: str) -> HTTPStatusError:
    """The error for a response that is not an event stream (``body``: its start, decoded)."""
    if head.status == 200:
        return ContentTypeError(
            f"expected Content-Type text/event-stream, got {head.content_type or 'none'!r}"
            f" from {url}",
            url=url,
            status=head.status,
            reason=head.reason,
            headers=head.headers,
            body=body,
        )
    return HTTPStatusError(
        f"HTTP {head.status} {head.reason} from {url}" + (f": {body[:200]}" if body else ""),
        url=url,
        status=head.status,
        reason=head.reason,
        headers=head.headers,
        body=body,
    )


def _as_reactsse_error(error: Exception) -> ReactSSEError:
    if isinstance(error, ReactSSEError):
        return error
    # The connector translates OSError/SSLError into ReactSSEError itself; this is a safety net.
    wrapped = ConnectionClosed(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped
