"""``Attempt``: one connection of an ``EventSource``, from connecting to the end of its response.

An attempt connects (``reactsse.connector``), sends one request over a fresh
``reactsse.http.ClientConnection``, and feeds every socket read through it: the response head
goes to ``on_head``; the body pieces and the end go to the sinks ``on_body`` and ``on_end``,
which the source sets for what it does with the body (decode it as an event stream, or keep
its start for an error); a fault goes to ``on_error``. The attempt knows nothing of phases, SSE,
redirects or reconnects: a redirect or a reconnect is a new attempt.

The read path: the transport calls ``_on_data`` once per socket read with a view of its read
buffer; ``receive_data`` returns all of that read (head, the decoded body bytes in one piece,
the end) in one call, and each item goes to its sink. A fault found by the HTTP layer is raised
by the call after the data it returned (h11's convention), so everything received before it is
delivered first.

A read whose decoded body is large (a few KiB of gzip can inflate to the HTTP layer's 16 MiB cap
per read) is not handed to ``on_body`` in one piece: the events of 16 MiB would all exist at
once (millions of objects). Its body goes in ``BODY_SLICE`` pieces, one per loop iteration
(``future_tick``), with the transport paused meanwhile; what came after it in the same read
(the end, a fault) follows the last piece, so the order holds and nothing is lost. Reads of a
normal stream never take that path: it costs them one length check.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Sequence

from reactsse.connector import PendingConnect, Transport
from reactsse.connector import connect as connect_transport
from reactsse.errors import ConnectionClosed, HeadTimeout, ReactSSEError
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.request import Request
from reactsse.eventsource.trace import trace_connected, trace_request
from reactsse.eventsource.watchdog import Watchdog
from reactsse.http import (
    ClientConnection,
    ConnectionState,
    ProxyURL,
    ResponseEvent,
    ResponseHead,
    select_proxy,
)
from reactsse.http.redact import Scrubber
from reactsse.http.url import format_address
from reactsse.loop import LoopInterface, OneShotTimer

__all__ = ["Attempt"]

_HTTP_FAILED = ConnectionState.ERROR

ErrorCallback = Callable[[ReactSSEError], object]

# A decoded body piece larger than LARGE_BODY goes to on_body in BODY_SLICE pieces, one per loop
# iteration; a socket read is at most 64 KiB, so only inflated bodies are ever that large.
BODY_SLICE = 64 * 1024
LARGE_BODY = 2 * BODY_SLICE


class Attempt:
    """One connection for ``request``: ``start()`` it, ``close()`` it (idempotent, at any moment).

    Callbacks: ``on_connected()`` once connected (before the request is sent), ``on_head(head)``
    per response head, ``on_fail(error)`` when connecting, sending or the connection fails.
    The sinks, set by the owner as it learns what the response is: ``on_body(data)``,
    ``on_end()`` (``None``: dropped), and ``on_error(error)`` for a fault of the response
    (``on_fail`` until set). After ``close()`` nothing is called any more.
    """

    __slots__ = (
        "_backlog",
        "_body_reader",
        "_connect_timeout",
        "_head_timeout",
        "_head_timer",
        "_loop",
        "_on_connected",
        "_on_fail",
        "_on_head",
        "_pending",
        "_proxy",
        "_proxy_ssl_context",
        "_read_watchdog",
        "_ssl_context",
        "_trace",
        "closed",
        "http",
        "on_body",
        "on_end",
        "on_error",
        "request",
        "scrubber",
        "transport",
    )

    def __init__(
        self,
        loop: LoopInterface,
        request: Request,
        options: EventSourceOptions,
        ssl_context: ssl.SSLContext | None,
        read_watchdog: Watchdog | None,
        *,
        on_connected: Callable[[], object],
        on_head: Callable[[ResponseHead], object],
        on_fail: ErrorCallback,
    ) -> None:
        self._loop = loop
        self.request = request
        """The request of this attempt."""
        self._ssl_context = ssl_context
        self._connect_timeout = options.connect_timeout
        self._head_timeout = options.head_timeout
        self._head_timer = OneShotTimer(loop, self._on_head_timeout)
        self._body_reader = options.body_reader
        self._trace = options.trace
        # A server may echo the credentials it was sent: the trace never sees them.
        self.scrubber: Scrubber | None = (
            None
            if self._trace is None
            else Scrubber.for_request(request.url.target, request.headers)
        )
        self._proxy = options.proxy
        self._proxy_ssl_context = options.proxy_ssl_context
        # Shared by the attempts of one source: started when connected, stopped by close().
        self._read_watchdog = read_watchdog
        self._on_connected = on_connected
        self._on_head = on_head
        self._on_fail = on_fail
        self.on_body: Callable[[bytes], object] | None = None
        self.on_end: Callable[[], object] | None = None
        self.on_error: ErrorCallback = on_fail
        self._pending: PendingConnect | None = None
        # A large body being handed out a slice per loop iteration: the data, the offset of
        # its next slice, the items of the same read after it, and whether that read was EOF.
        self._backlog: tuple[bytes, int, Sequence[ResponseEvent], bool] | None = None
        self.transport: Transport | None = None
        """The connection, once connected and until ``close()``."""
        self.http: ClientConnection | None = None
        """The HTTP state machine of the connection, once connected and until ``close()``."""
        self.closed = False

    def start(self) -> None:
        """Start connecting (the callbacks come later, from the loop)."""
        url = self.request.url
        ssl_context = self._ssl_context
        try:
            proxy = select_proxy(self._proxy, url.scheme, url.host, url.port, os.environ)
        except ReactSSEError as error:  # a bad proxy URL in the environment
            failure = error
            self._loop.future_tick(lambda: self._connect_failed(failure))
            return
        if self._trace is not None:
            self._trace.connecting(url.host, url.port, url.is_tls)
            if proxy is not None:
                self._trace.via_proxy(proxy.display, tunnel_name(proxy, url.host, url.port))
        self._pending = connect_transport(
            self._loop,
            url.host,
            url.port,
            ssl_context=ssl_context,
            server_hostname=url.host if ssl_context is not None else None,
            timeout=self._connect_timeout,
            on_connected=self._connected,
            on_error=self._connect_failed,
            proxy=proxy,
            proxy_ssl_context=self._proxy_ssl_context,
        )

    def close(self) -> None:
        """Release the connection (or the connect in progress) and stop the read watchdog."""
        self.closed = True
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
        if self.transport is not None:
            transport, self.transport = self.transport, None
            transport.close()
        self.http = None
        self._backlog = None
        self._head_timer.cancel()
        if self._read_watchdog is not None:
            self._read_watchdog.stop()

    # -- connecting and sending ----------------------------------------------------------------

    def _connect_failed(self, error: Exception) -> None:
        self._pending = None
        if not self.closed:
            self._on_fail(as_reactsse_error(error))

    def _connected(self, transport: Transport) -> None:
        self._pending = None
        if self.closed:
            transport.close()
            return
        self._on_connected()
        self.transport = transport
        body_reader = self._body_reader
        trace = self._trace
        # Showing chunk-size lines costs the de-chunker its fast path: only for a trace that
        # shows them.
        chunk_line = None if trace is None or not trace.wants_chunk_lines else trace.chunk_line
        http = (
            ClientConnection(on_chunk_line=chunk_line)
            if body_reader is None
            else ClientConnection(body_reader=body_reader, on_chunk_line=chunk_line)
        )
        self.http = http
        request = self.request
        try:
            wire = http.send_request(request.method, request.url, request.headers, request.body)
        except ReactSSEError as error:
            self._on_fail(error)
            return
        if trace is not None:
            trace_connected(trace, transport)
            trace_request(trace, wire)
        transport.start(self._on_data, self._on_close)
        transport.write(wire)
        if self.transport is not transport:
            return
        if self._read_watchdog is not None:
            self._read_watchdog.start()
        if self._head_timeout is not None:
            # The read timeout alone does not bound the head: a byte every few seconds, or a
            # 1xx head after another, keeps it from firing for ever.
            self._head_timer.arm(self._head_timeout)

    def _on_head_timeout(self) -> None:
        timeout = self._head_timeout
        assert timeout is not None
        if not self.closed:
            message = f"no complete response head within {timeout:g} s from {self.request.url}"
            self._on_fail(HeadTimeout(message, timeout=timeout))

    # -- reading -------------------------------------------------------------------------------

    def _on_data(self, data: memoryview) -> None:
        """The read listener's work: one socket read, all of it, through HTTP to the sinks.

        ``data`` is a view of the transport's reused read buffer: ``receive_data`` copies the
        body out of it (once), and nothing here keeps it."""
        if self._read_watchdog is not None:
            self._read_watchdog.last = self._loop.now()
        if self._trace is not None:
            scrubber = self.scrubber
            self._trace.socket_read(scrubber.data(data) if scrubber else data)
        http = self.http
        assert http is not None
        try:
            items = http.receive_data(data)
        except ReactSSEError as error:
            self.on_error(error)
            return
        if self._feed(items):
            return  # a large body goes out a slice per loop iteration; _after_read follows it
        if http.state is _HTTP_FAILED and not self.closed:
            self._raise_fault(http)

    def _on_close(self, error: Exception | None) -> None:
        if error is not None:
            self.on_error(as_reactsse_error(error))
            return
        http = self.http
        assert http is not None
        try:
            items = http.receive_data(b"")  # EOF: ends a close-delimited body, or fails
        except ReactSSEError as exc:
            self.on_error(exc)
            return
        if self._feed(items, eof=True):
            return
        self._after_eof()

    def _after_read(self) -> None:
        http = self.http
        if http is not None and http.state is _HTTP_FAILED and not self.closed:
            self._raise_fault(http)

    def _after_eof(self) -> None:
        http = self.http
        if http is not None and http.state is _HTTP_FAILED and not self.closed:
            self._raise_fault(http)
            return
        if not self.closed and self.transport is not None:
            # EOF that h11 did not turn into an end (should not happen): a broken connection.
            self._on_fail(ConnectionClosed("the server closed the connection"))

    def _feed(self, items: Sequence[ResponseEvent], eof: bool = False) -> bool:
        """Hand ``items`` to their sinks; True if a large body was deferred (``_defer``)."""
        for item in items:
            if isinstance(item, bytes):
                on_body = self.on_body
                if on_body is not None:
                    if len(item) > LARGE_BODY:
                        self._defer(item, items[items.index(item) + 1 :], eof)
                        return True
                    on_body(item)
            elif isinstance(item, ResponseHead):
                self._head_timer.cancel()
                self._on_head(item)
            else:
                on_end = self.on_end
                if on_end is not None:
                    on_end()
            if self.closed:
                return False
        return False

    def _defer(self, data: bytes, rest: Sequence[ResponseEvent], eof: bool) -> None:
        """Hand ``data`` out a slice per loop iteration, then ``rest``, then what follows a
        read (or the EOF, ``eof``); reading pauses meanwhile."""
        transport = self.transport
        if transport is not None:
            transport.pause_reading()  # the bytes after this read wait for its last slice
        self._backlog = (data, 0, rest, eof)
        self._loop.future_tick(self._next_slice)

    def _next_slice(self) -> None:
        backlog = self._backlog
        if backlog is None:  # close() drops it
            return
        data, offset, rest, eof = backlog
        end = offset + BODY_SLICE
        if self._read_watchdog is not None:
            # Reading is paused while the slices go out, not stalled: no read timeout meanwhile.
            self._read_watchdog.last = self._loop.now()
        on_body = self.on_body
        if on_body is not None:
            on_body(data[offset:end])
        if self.closed:
            return
        if end < len(data):
            self._backlog = (data, end, rest, eof)
            self._loop.future_tick(self._next_slice)
            return
        self._backlog = None
        if self._feed(rest, eof):
            return
        if eof:
            self._after_eof()
            return
        self._after_read()
        transport = self.transport
        if transport is not None and not self.closed:
            transport.resume_reading()

    def _raise_fault(self, http: ClientConnection) -> None:
        # receive_data returned (and _feed delivered) what it decoded before a fault, so
        # nothing received is lost; the fault itself is raised by the next call.
        try:
            http.raise_error()
        except ReactSSEError as error:
            self.on_error(error)


def tunnel_name(proxy: ProxyURL, host: str, port: int) -> str:
    """How ``proxy`` reaches ``host:port``, for the trace: ``CONNECT host:443``, ``SOCKS5 ...``."""
    authority = format_address(host, port)
    if proxy.is_socks:
        return f"{'SOCKS4a' if proxy.scheme.startswith('socks4') else 'SOCKS5'} {authority}"
    return f"CONNECT {authority} over TLS" if proxy.is_tls else f"CONNECT {authority}"


def as_reactsse_error(error: Exception) -> ReactSSEError:
    """``error`` itself if it is a ``ReactSSEError``, else wrapped in ``ConnectionClosed``."""
    if isinstance(error, ReactSSEError):
        return error
    # The connector translates OSError/SSLError into ReactSSEError itself; this is a safety net.
    wrapped = ConnectionClosed(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped
