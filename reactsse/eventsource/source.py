"""``EventSource``: a reconnecting Server-Sent Events client on any ``LoopInterface``.

The shape is clue/reactphp-eventsource's (``src/EventSource.php``): an emitter with ``on("open")``,
``on("message")``, ``on(<event type>)``, ``on("error")``, ``ready_state`` and ``close()``; the
behaviour is WHATWG HTML §9.2 (reconnection, ``Last-Event-ID``, ``retry``, 204, status and
Content-Type checks), plus what both lack: any method, headers and body, redirects with header
hygiene, backoff with jitter, timeouts, limits, gzip and a trace.

This module is the phase machine and the orchestration of attempts; its neighbours hold the
parts: ``attempt`` (one connection: connect, send, feed the response to sinks), ``errorbody``
(the start of a failed response's body, for its error), ``delivery`` (calling the listeners),
``options``, ``request`` (building and redirecting requests), ``policy`` (when and how soon to
reconnect), ``listeners`` (the ``on`` API), ``watchdog`` (the timeouts) and ``trace``.

The read path: each time the socket is readable, one ``recv`` takes what is there and the
transport hands it to the ``Attempt``, which feeds it to the HTTP state machine
(``reactsse.http.ClientConnection``); while OPEN, the body bytes of that read go to
``_on_body`` in one piece, to the SSE decoder in one ``feed`` call, and the events it returns to
``Delivery.events`` in one call.

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

* ``_attempt`` is open (not ``closed``) only in CONNECTING, AWAITING_HEAD, OPEN and
  READING_ERROR_BODY; it connects in CONNECTING and holds a transport in the three others.
* ``_reconnects`` has a timer only in WAITING; ``_decoder`` only in OPEN; ``_error_body`` only in
  READING_ERROR_BODY; the read watchdog runs only while a transport is set; the event watchdog
  only in OPEN; ``_delivery.open`` is true exactly in OPEN.
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

from reactsse.connector import default_ssl_context
from reactsse.errors import (
    ConnectionClosed,
    EventTimeout,
    LimitExceeded,
    ReactSSEError,
    ReadTimeout,
)
from reactsse.eventsource.attempt import Attempt
from reactsse.eventsource.delivery import Delivery
from reactsse.eventsource.errorbody import ERROR_BODY_WAIT, ErrorBody
from reactsse.eventsource.listeners import Emitter
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.reconnect import Reconnects
from reactsse.eventsource.request import REDIRECT_STATUSES, RedirectChain, Request, build_request
from reactsse.eventsource.trace import redacted_head
from reactsse.eventsource.watchdog import optional_watchdog
from reactsse.http import ResponseHead, content_decoder_for, parse_url
from reactsse.loop import LoopInterface
from reactsse.loop.facade import Loop
from reactsse.sse import EventStreamDecoder

__all__ = ["EventSource", "ReadyState"]


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

    # Over the ~300 lines the project aims for: this class is the phase machine, and every
    # transition between phases is kept here so that it reads in one place. What a transition
    # decides by (backoff, redirects, the request, delivery, the error body, the watchdogs,
    # the trace) lives in modules of its own.

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
        self._last_event_id = opts.last_event_id
        self._ssl_context = opts.ssl_context
        self._trace = opts.trace
        Emitter.__init__(self)
        self._delivery = Delivery(self._listeners)
        self._read_watchdog = optional_watchdog(loop, opts.read_timeout, self._on_read_timeout)
        self._event_watchdog = optional_watchdog(loop, opts.event_timeout, self._on_event_timeout)
        self._reconnects = Reconnects(loop, opts, has_body=self._request.body is not None)

        # Per-attempt state (see the invariants in the module docstring).
        self._phase = _Phase.CONNECTING
        self._closed_by_user = False
        self._paused = False
        self._decoder: EventStreamDecoder | None = None
        self._error_body: ErrorBody | None = None
        # The connection of the current attempt (a redirect or a reconnect makes a new one).
        self._attempt: Attempt
        self._redirects: RedirectChain
        self._start_attempt()

    # -- public API ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL given to the constructor (redirects do not change it, as in WHATWG).

        It is the real URL, credentials included; what the source shows (its repr, its errors,
        its trace) is redacted.
        """
        return self._url_text

    @property
    def loop(self) -> LoopInterface:
        """The loop the source runs on (given to the constructor, or the default loop)."""
        return self._loop

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

    @property
    def paused(self) -> bool:
        """Whether ``pause()`` holds the reading of the stream."""
        return self._paused

    def pause(self) -> None:
        """Stop reading the open stream until ``resume()`` (backpressure for a slow consumer).

        The socket's read listener is removed, so the server's bytes wait in the kernel and TCP
        flow control slows the server down; nothing is lost. It holds across reconnects (a new
        stream is paused as it opens, after the events of the read that opened it). Time spent
        paused counts toward neither ``read_timeout`` nor ``event_timeout``. Idempotent.
        """
        self._paused = True
        transport = self._attempt.transport
        if transport is not None and self._phase is _Phase.OPEN:
            transport.pause_reading()

    def resume(self) -> None:
        """Read again after ``pause()``; the timeouts count from now. Idempotent."""
        if not self._paused:
            return
        self._paused = False
        now = self._loop.now()
        for watchdog in (self._read_watchdog, self._event_watchdog):
            if watchdog is not None:
                watchdog.last = now
        transport = self._attempt.transport
        if transport is not None and self._phase is _Phase.OPEN:
            transport.resume_reading()

    def __repr__(self) -> str:
        return (
            f"<EventSource {self._request.method} {self._url.redacted()} {self.ready_state.name}>"
        )

    # -- attempts ----------------------------------------------------------------------------

    def _enter(self, phase: _Phase) -> None:
        assert phase in _TRANSITIONS[self._phase], f"{self._phase} -> {phase}"
        self._phase = phase
        self._delivery.open = phase is _Phase.OPEN

    def _start_attempt(self) -> None:
        """A fresh attempt from the original request (WHATWG: reconnecting re-fetches the URL)."""
        request = self._request.with_last_event_id(self.last_event_id)
        self._redirects = RedirectChain(request, self.options.max_redirects)
        self._connect(request)

    def _connect(self, request: Request) -> None:
        self._enter(_Phase.CONNECTING)
        ssl_context: ssl.SSLContext | None = None
        if request.url.is_tls:
            if self._ssl_context is None:
                self._ssl_context = default_ssl_context()
            ssl_context = self._ssl_context
        attempt = Attempt(
            self._loop,
            request,
            self.options,
            ssl_context,
            self._read_watchdog,
            on_connected=lambda: self._enter(_Phase.AWAITING_HEAD),
            on_head=self._on_head,
            on_fail=self._fail,
        )
        self._attempt = attempt
        attempt.start()

    def _on_head(self, head: ResponseHead) -> None:
        if self._trace is not None:
            self._trace.response_head(redacted_head(head, self._attempt.scrubber))
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
        wait = ERROR_BODY_WAIT
        if self._read_watchdog is not None:
            wait = min(wait, self._read_watchdog.timeout)
        self._error_body = ErrorBody(
            self._loop, head, self._attempt, wait, self._on_error_body_done
        )

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
        self._attempt.on_body = self._on_body
        self._attempt.on_end = self._on_stream_end
        self._reconnects.opened()
        if self._event_watchdog is not None:
            self._event_watchdog.start()
        if self._paused and self._attempt.transport is not None:
            self._attempt.transport.pause_reading()
        self._delivery.emit("open", ())

    def _on_body(self, data: bytes) -> None:
        """The body sink while OPEN: one read's body bytes → the decoder → the listeners."""
        if self._trace is not None:
            # HTTP hands out decoded bytes; it says how many it received for them.
            http = self._attempt.http
            encoded = None if http is None else http.encoded_size
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
            self._delivery.events(events)
            # A limit hit after these events: the decoder returned them and kept its error
            # (nothing received is lost); fail now rather than on the next read.
            if decoder.error is not None and self._phase is _Phase.OPEN:
                self._fail(decoder.error)

    def _on_stream_end(self) -> None:
        """The response ended cleanly while open: reconnect (WHATWG HTML §9.2.3), if allowed."""
        decoder = self._decoder
        if decoder is not None:
            # An unterminated last block is discarded (WHATWG §9.2.6).
            decoder.close()
        self._fail(ConnectionClosed("the server ended the stream"), clean_end=True)

    def _follow_redirect(self, head: ResponseHead) -> None:
        location = head.get("location")
        assert location is not None
        try:
            request = self._redirects.follow(self._attempt.request, head.status, location)
        except ReactSSEError as error:
            self._fail(error)
            return
        if self._trace is not None:
            self._trace.redirect(head.status, request.url.redacted())
        self._attempt.close()
        self._connect(request)

    def _on_error_body_done(self, error: ReactSSEError, retry_after: float | None) -> None:
        self._fail(error, retry_after=retry_after)

    # -- timeouts --------------------------------------------------------------------------

    def _on_read_timeout(self) -> None:
        if self._attempt.transport is None:
            return
        if self._paused and self._phase is _Phase.OPEN and self._read_watchdog is not None:
            self._read_watchdog.start()  # we are not reading: the silence is ours
            return
        if self._error_body is not None:
            self._error_body.finish()
            return
        timeout = self.options.read_timeout
        assert timeout is not None
        url = self._attempt.request.url.redacted()
        self._fail(ReadTimeout(f"no data for {timeout:g} s from {url}", timeout=timeout))

    def _on_event_timeout(self) -> None:
        if self._phase is not _Phase.OPEN:
            return
        if self._paused and self._event_watchdog is not None:
            self._event_watchdog.start()  # no event because we are not reading
            return
        timeout = self.options.event_timeout
        assert timeout is not None
        url = self._attempt.request.url.redacted()
        self._fail(EventTimeout(f"no event for {timeout:g} s from {url}", timeout=timeout))

    # -- failing, reconnecting, finishing -----------------------------------------------------

    def _fail(
        self,
        error: ReactSSEError,
        *,
        retry_after: float | None = None,
        clean_end: bool = False,
    ) -> None:
        """End the current attempt because of ``error``: reconnect if allowed, else close."""
        self._release()
        reconnects = self._reconnects
        delay = reconnects.delay(error, clean_end=clean_end, retry_after=retry_after)
        if delay is None:
            self._finish(None if clean_end else error)
            return
        self._enter(_Phase.WAITING)
        reconnects.schedule(delay, self._on_reconnect_timer)
        if self._trace is not None:
            self._trace.error(error, False)
            self._trace.reconnect_scheduled(delay, error, self._last_event_id)
        self._delivery.emit("error", (error,), self._is_waiting)

    def _is_waiting(self) -> bool:
        return self._phase is _Phase.WAITING

    def _on_reconnect_timer(self) -> None:
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
            if error is not None:
                self._delivery.emit("error", (error,), self._not_closed_by_user)
            self._delivery.emit("close", (), self._not_closed_by_user)
        finally:
            self._run_done_callbacks()

    def _not_closed_by_user(self) -> bool:
        return not self._closed_by_user

    def _release(self) -> None:
        """Release everything the current phase holds (socket, timers, decoder) at once."""
        self._attempt.close()
        if self._error_body is not None:
            self._error_body.cancel()
            self._error_body = None
        if self._event_watchdog is not None:
            self._event_watchdog.stop()
        self._reconnects.cancel()
        decoder = self._decoder
        if decoder is not None:
            # Keep what the stream taught us: the last event ID and the server's retry.
            self._last_event_id = decoder.last_event_id
            if decoder.retry is not None:
                self._reconnects.retry = decoder.retry / 1000.0
            self._decoder = None
