"""``StreamRun``: one measured stream, from the TCP connect to the end of its response.

It drives the layers directly rather than through ``EventSource``: the connector's transport
hands each read to ``ClientConnection.receive_data`` and the body to
``EventStreamDecoder.feed``, and the run records, once per read (never once per event unless
``--openai`` asks to read the tokens), what a load test needs that a reconnecting client hides:
the time of the first byte, the bytes and events of each read, and the exact kind of a failure.
All times are ``loop.now()`` values, so a run on ``VirtualTimeLoop`` is measured in virtual time.

Keep-alive, as wrk and aiohttp's pool do: a ``StreamRun`` is one connection as much as one
stream. When a response ends and the connection may carry another request (RFC 9112 §9.3,
``ClientConnection.keep_alive``), the run keeps its transport (``idle``) and the engine starts
the next stream on it with ``reuse``. A server may close a kept connection at any moment, so a
reused connection that closes (or resets) before any byte of the new response is not an
error: the request goes again on a new connection (RFC 9112 §9.3.1 lets a client retry a request
that got no response; each of ours is a new stream that nothing has seen yet).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from reactsse.connector import PendingConnect, Transport, connect, default_ssl_context
from reactsse.connector.resolve import Address
from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    HTTPStatusError,
    ReactSSEError,
    RemoteProtocolError,
    Timeout,
    TLSError,
    TransportError,
)
from reactsse.http import URL, ClientConnection, ConnectionState, ResponseEnd, ResponseHead
from reactsse.loop import LoopInterface
from reactsse.sse import EventStreamDecoder, MessageEvent

__all__ = ["StreamRun", "StreamSink", "Target", "error_kind"]


@dataclass(frozen=True)
class Target:
    """What every stream of a run requests."""

    url: URL
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    openai: bool = False
    connect_timeout: float | None = 10.0
    ssl_context: ssl.SSLContext | None = None
    keep_alive: bool = True
    # The host's addresses, resolved once for the run (None: each connect resolves).
    addresses: tuple[Address, ...] | None = None


@dataclass(frozen=True, slots=True)
class StreamSink:
    """Where the streams of a run report (the engine); every call gets the ``StreamRun`` first.

    ``record(run, now, events, size, tokens)`` for each read of the body; ``first_byte(run,
    now)`` at the first read; ``done(run, error)`` exactly once per stream, with ``None`` when
    the response ended normally (then ``run.idle`` says whether the connection was kept for
    ``reuse``); ``retry(run)`` when a reused connection closed before answering and the request
    goes again on a new one.
    """

    record: Callable[[StreamRun, float, int, int, int], object]
    first_byte: Callable[[StreamRun, float], object]
    done: Callable[[StreamRun, ReactSSEError | None], object]
    retry: Callable[[StreamRun], object]


def error_kind(error: BaseException) -> str:
    """The kind a failure is counted under in the report (see docs/bench-tool.md)."""
    cause = error.__cause__
    if isinstance(error, ConnectError):
        return "refused" if isinstance(cause, ConnectionRefusedError) else "connect"
    if isinstance(error, TLSError):
        return "tls"
    if isinstance(error, Timeout):
        return "timeout"
    if isinstance(error, ConnectionClosed) and cause is None:
        return "closed"  # a clean EOF before the response was complete
    if isinstance(error, TransportError):
        return "reset"
    if isinstance(error, HTTPStatusError):
        return f"http_{error.status}" if error.status != 200 else "content_type"
    if isinstance(error, RemoteProtocolError):
        return "protocol"
    return "other"


class StreamRun:
    """One stream: connect, send the request, read and measure the response, report the end.

    It reports to ``sink`` (``StreamSink``). ``close()`` cuts the stream and its connection (no
    callback afterwards).
    """

    def __init__(
        self, loop: LoopInterface, target: Target, scheduled: float, sink: StreamSink
    ) -> None:
        self.loop = loop
        self.target = target
        self._sink = sink
        self._http = ClientConnection()
        self._pending: PendingConnect | None = None
        self._transport: Transport | None = None
        self._reset(scheduled)

    def _reset(self, scheduled: float) -> None:
        """The per-stream state, for a new stream (on a new or a kept connection)."""
        self.scheduled = scheduled  # the time it was due: latencies count from here
        self.first_byte: float | None = None
        self.first_event: float | None = None
        self.first_token: float | None = None
        self.last_event = 0.0
        self.last_read = scheduled
        self.events = 0
        self.tokens = 0
        self.reused = False  # this stream's request went out on a kept connection
        self._decoder = EventStreamDecoder()
        self._open = False
        self._finished = False

    @property
    def idle(self) -> bool:
        """True after a stream that ended well, while its connection is kept for ``reuse``."""
        transport = self._transport
        return self._finished and transport is not None and not transport.is_closed

    def start(self) -> None:
        """Start the stream on a new connection."""
        url = self.target.url
        context = None
        if url.is_tls:
            context = self.target.ssl_context or default_ssl_context()
        self._pending = connect(
            self.loop,
            url.host,
            url.port,
            ssl_context=context,
            timeout=self.target.connect_timeout,
            addresses=self.target.addresses,
            on_connected=self._on_connected,
            on_error=self._on_connect_error,
        )

    def reuse(self, scheduled: float) -> None:
        """Start the next stream, due at ``scheduled``, on this ``idle`` run's connection."""
        transport = self._transport
        assert transport is not None and self.idle
        self._reset(scheduled)
        self.reused = True
        self._http.start_next_cycle()
        self._send(transport)

    def close(self) -> None:
        """Cut the stream now: no callback afterwards."""
        self._finished = True
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def fail(self, error: ReactSSEError) -> None:
        """End the stream with ``error`` (the engine's read timeout uses it)."""
        if not self._finished:
            self.close()
            self._sink.done(self, error)

    # -- the connection --------------------------------------------------------------------

    def _on_connect_error(self, error: Exception) -> None:
        self._pending = None
        self.fail(error if isinstance(error, ReactSSEError) else ReactSSEError(str(error)))

    def _on_connected(self, transport: Transport) -> None:
        self._pending = None
        self._transport = transport
        transport.start(self._on_data, self._on_close)
        self._send(transport)

    def _send(self, transport: Transport) -> None:
        target = self.target
        try:
            wire = self._http.send_request(target.method, target.url, target.headers, target.body)
        except ReactSSEError as error:
            self.fail(error)
            return
        transport.write(wire)

    def _retry(self) -> None:
        """The kept connection closed before any byte of the response: send on a new one."""
        self.reused = False
        self._http = ClientConnection()
        self._sink.retry(self)
        self.start()

    def _on_close(self, error: Exception | None) -> None:
        self._transport = None
        if self._finished:
            return  # a kept connection closed while idle: it is simply not reused
        if self.reused and self.first_byte is None:
            self._retry()  # the race every keep-alive client has (see the module docstring)
            return
        if error is not None:
            self.fail(error if isinstance(error, ReactSSEError) else ReactSSEError(str(error)))
            return
        http = self._http
        try:
            self._process(http.receive_data(b""), self.loop.now())
            if http.state is ConnectionState.ERROR:
                http.raise_error()
        except ReactSSEError as exc:
            self.fail(exc)
            return
        if not self._finished:  # EOF that ended no response: the connection broke
            self.fail(ConnectionClosed("the server closed the connection mid-response"))

    def _on_data(self, data: memoryview) -> None:
        if self._finished:  # bytes on a kept connection that no request asked for
            self.close()
            return
        now = self.loop.now()
        self.last_read = now
        if self.first_byte is None:
            self.first_byte = now
            self._sink.first_byte(self, now)
        http = self._http
        try:
            self._process(http.receive_data(data), now)
            # A fault comes after the data decoded before it; the next call would raise it.
            if http.state is ConnectionState.ERROR:
                http.raise_error()
        except ReactSSEError as exc:
            self.fail(exc)

    # -- the response ----------------------------------------------------------------------

    def _process(self, items: list[ResponseHead | bytes | ResponseEnd], now: float) -> None:
        for item in items:
            if type(item) is bytes:
                if self._open:
                    self._body(item, now)
            elif isinstance(item, ResponseHead):
                self._head(item)
            elif isinstance(item, ResponseEnd) and not self._finished:
                self._end()

    def _head(self, head: ResponseHead) -> None:
        if head.status != 200 or head.content_type != "text/event-stream":
            raise HTTPStatusError(
                f"{self.target.url}: HTTP {head.status} {head.reason} "
                f"({head.content_type or 'no Content-Type'})",
                url=str(self.target.url),
                status=head.status,
                reason=head.reason,
                headers=head.headers,
            )
        self._open = True

    def _body(self, data: bytes, now: float) -> None:
        events = self._decoder.feed(data)
        count = len(events)
        tokens = 0
        if count:
            if self.first_event is None:
                self.first_event = now
            if self.target.openai:
                tokens = self._tokens(events, now)
            self.events += count
        self._sink.record(self, now, count, len(data), tokens)
        if count:
            self.last_event = now

    def _tokens(self, events: list[MessageEvent], now: float) -> int:
        """Count the events that carry a token (a non-empty delta); return how many."""
        before = self.tokens
        for event in events:
            if event.data == "[DONE]":
                continue
            try:
                chunk = json.loads(event.data)
                delta = chunk["choices"][0]["delta"]
            except (ValueError, LookupError, TypeError):
                continue
            if delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content"):
                self.tokens += 1
                if self.first_token is None:
                    self.first_token = now
        return self.tokens - before

    def _end(self) -> None:
        self._finished = True
        transport = self._transport
        if transport is not None and not (
            self._open
            and self.target.keep_alive
            and self._http.keep_alive
            and not transport.buffered_size  # the server answered before reading it all
        ):
            self._transport = None
            transport.close()
        if not self._open:
            self._sink.done(self, RemoteProtocolError("the response ended before its head"))
            return
        self._sink.done(self, None)
