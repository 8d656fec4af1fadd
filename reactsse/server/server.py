"""An SSE server on the event loop, with built-in OpenAI-compatible apps and a demo stream.

``SSEServer(loop)`` listens (127.0.0.1, a free port by default) with ``add_read_stream`` on the
listening socket, speaks HTTP/1.1 through h11 in the server role, and writes every response
through a ``reactsse.connector.SocketTransport`` (which flushes with ``add_write_stream``).
``BackgroundServer`` runs one on its own ``StreamSelectLoop`` in a daemon thread, for
synchronous code (tests, scripts using the ``openai`` package). ``serve()`` runs one forever.

Endpoints (``docs/server.md``): ``POST /v1/chat/completions``, ``POST /v1/responses``,
``GET /v1/models`` (OpenAI-compatible, deterministic answers from a bundled public-domain
text) and ``GET /events`` (numbered events that resume from ``Last-Event-ID``).

Invariants (the states are ``_Phase`` for a connection and ``_StreamPhase`` for a stream):

* One connection serves one request at a time (h11 pauses pipelined requests); keep-alive
  connections go on to the next request once both sides are ``DONE``. The idle timer runs
  only in ``AWAITING_REQUEST``; a ``CLOSED`` connection holds nothing and is out of the
  server's set.
* A stream owns at most three timers (the next due event, the keep-alive, the send timeout
  while ``DRAINING``) and one generator. Every way a stream ends (done, fault, client gone,
  client too slow, ``close()``) goes through ``_StreamRun.stop()``, which cancels them all and
  closes the generator.
* Listener code runs under ``_Connection.safely``: a bug closes that connection, never the
  loop.
* Bytes held for a client never exceed ``max_client_buffer`` plus one batch: past it the
  client is dropped (logged). As-fast-as-possible streams wait for the client to drain at
  ``high_water`` instead of filling the buffer.
"""

from __future__ import annotations

import concurrent.futures
import enum
import http
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO, TypeVar

import h11

from reactsse.connector import SocketTransport
from reactsse.loop import Loop, LoopInterface, Stream, StreamSelectLoop, TimerInterface
from reactsse.mock.chat import (
    MODEL_ID,
    ServerOptions,
    _Apps,
    _BodyReply,
    _Event,
    _EventStream,
    _openai_error,
    _Request,
)
from reactsse.sse import encode_comment, encode_event

__all__ = ["MODEL_ID", "BackgroundServer", "SSEServer", "ServerOptions", "serve"]

logger = logging.getLogger("reactsse.server")

_T = TypeVar("_T")

#: Events written per loop callback at most; then the stream yields to the other connections.
_BATCH_EVENTS = 256
#: Bytes gathered before they are handed to the transport as one chunk.
_BATCH_BYTES = 16 * 1024
#: Pipelined bytes we accept while a response is in progress before we stop reading.
_MAX_PIPELINED = 64 * 1024
_SERVER_HEADER = ("server", "reactsse")
_CORS_HEADER = ("access-control-allow-origin", "*")  # see _server_apps: OPTIONS preflight

_STREAM_HEADERS = [
    # WHATWG §9.2 (the MIME type); no-cache and X-Accel-Buffering: no keep proxies (nginx)
    # from holding events back (sse-starlette and aiohttp-sse send the same).
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
    # h11 frames the body with chunks for HTTP/1.1 peers and, for an HTTP/1.0 peer, drops the
    # header and delimits the body by closing the connection (RFC 9112 §6.3).
    ("transfer-encoding", "chunked"),
    _CORS_HEADER,
    _SERVER_HEADER,
]

_KEEPALIVE = encode_comment(" keep-alive") + b"\n"  # a blank line too, for line-naive clients


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


class SSEServer:
    """An HTTP/1.1 server of event streams on a ``LoopInterface``; it listens on creation.

    ``SSEServer(loop=None, *, host="127.0.0.1", port=0, options=None, backlog=128)``: binds and
    listens at once (like ReactPHP's ``SocketServer``); ``port=0`` picks a free port, see
    :attr:`port` and :attr:`url`. ``loop=None`` uses the global ``Loop.get()``. ``options``
    is a :class:`ServerOptions`. Raises ``OSError`` when the address cannot be bound, and
    ``ValueError`` for bad options. Call :meth:`close` (or use ``with``) to stop listening and
    drop every connection. Use it only from the loop's thread.
    """

    def __init__(
        self,
        loop: LoopInterface | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: ServerOptions | None = None,
        backlog: int = 128,
    ) -> None:
        if loop is None:
            loop = Loop.get()
        self._loop: LoopInterface = loop
        self.options = options if options is not None else ServerOptions()
        self._apps = _Apps(self.options)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=backlog)
        self._sock.setblocking(False)
        self._host = host
        self._port: int = self._sock.getsockname()[1]
        self._connections: set[_Connection] = set()
        self._closed = False
        loop.add_read_stream(self._sock, self._on_acceptable)

    # -- public ----------------------------------------------------------------------------------

    @property
    def loop(self) -> LoopInterface:
        """The loop the server runs on."""
        return self._loop

    @property
    def host(self) -> str:
        """The host the server is bound to."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the real one when created with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets), without a trailing slash."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def connection_count(self) -> int:
        """Open client connections."""
        return len(self._connections)

    @property
    def stream_count(self) -> int:
        """Event streams in progress (each holds its timers and generator)."""
        return sum(1 for c in self._connections if c.stream is not None)

    @property
    def timer_count(self) -> int:
        """Loop timers the server holds right now (0 when it has no connection)."""
        return sum(c.timer_count for c in self._connections)

    def close(self) -> None:
        """Stop listening and close every connection (streams stopped, timers cancelled).

        Idempotent; returns at once (no callback is called afterwards).
        """
        if self._closed:
            return
        self._closed = True
        self._loop.remove_read_stream(self._sock)
        self._sock.close()
        for connection in list(self._connections):
            connection.abort()

    def __enter__(self) -> SSEServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "listening"
        return f"<SSEServer {state} {self.url} connections={len(self._connections)}>"

    # -- accepting ---------------------------------------------------------------------------------

    def _on_acceptable(self, _stream: Stream) -> None:
        # Several connections per readiness, up to a bound, so that a burst of clients does not
        # cost one loop iteration each, and one busy listener cannot starve the connections.
        for _ in range(max(1, self.options.accept_batch)):
            try:
                sock, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # EMFILE, ENFILE, ENOBUFS ...: keep the server up
                logger.warning("accept() failed: %s", error)
                return
            if self.options.send_buffer_size is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.send_buffer_size)
            connection = _Connection(self, SocketTransport(self._loop, sock))
            self._connections.add(connection)
            connection.start()

    def _forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)


class _Phase(enum.Enum):
    """A connection's phase (h11 keeps the HTTP state; this is what the server is doing)."""

    AWAITING_REQUEST = "awaiting request"  # reading; the idle timer runs
    RESPONDING = "responding"  # a body reply or a stream is being written; h11 holds the rest
    CLOSED = "closed"  # released: no timer, no stream, not in the server's set


class _StreamPhase(enum.Enum):
    """A stream's phase: what it waits for next."""

    PACING = "pacing"  # writing due events, or waiting for the next one's timer
    DRAINING = "draining"  # waiting for the transport's on_drain (and the send timeout)
    STALLED = "stalled"  # the stall-after fault: silent until stopped
    STOPPED = "stopped"  # timers cancelled, generator closed; terminal


class _Connection:
    """One accepted client: h11 in the server role over a ``SocketTransport``."""

    def __init__(self, server: SSEServer, transport: SocketTransport) -> None:
        self.server = server
        self.transport = transport
        self.h11 = h11.Connection(h11.SERVER)
        self.stream: _StreamRun | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self.phase = _Phase.AWAITING_REQUEST
        self._pipelined = 0
        self._idle_timer: TimerInterface | None = None
        peer = transport.peer
        self.peer = f"{peer[0]}:{peer[1]}" if len(peer) >= 2 else "?"

    def start(self) -> None:
        self.transport.start(self._on_data, self._on_close)
        self._arm_idle()

    @property
    def timer_count(self) -> int:
        return (self._idle_timer is not None) + (self.stream.timer_count if self.stream else 0)

    def _arm_idle(self) -> None:
        # A whole request must arrive within idle_timeout of the connection (or of the previous
        # response) being ready for it: closes idle keep-alive connections and slow-header
        # (slowloris) clients alike. Cancelled once the request is complete.
        timeout = self.server.options.idle_timeout
        if timeout and self.phase is not _Phase.CLOSED:
            self._idle_timer = self.server.loop.add_timer(timeout, self._on_idle)

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self.server.loop.cancel_timer(self._idle_timer)
            self._idle_timer = None

    def _on_idle(self, _timer: TimerInterface) -> None:
        self._idle_timer = None
        logger.info("closing client %s: no complete request within the idle timeout", self.peer)
        self.abort()

    # -- input ---------------------------------------------------------------------------------

    def safely(self, action: Callable[[], object]) -> None:
        """Run a loop callback's work; a bug in it closes this connection, not the loop."""
        try:
            action()
        except Exception:
            logger.exception("internal error on the connection of %s; closing it", self.peer)
            self.abort()

    def _on_data(self, data: memoryview) -> None:
        # A view of the transport's reused read buffer: copied (requests are small) for h11.
        request_bytes = bytes(data)
        self.safely(lambda: self._receive(request_bytes))

    def _receive(self, data: bytes) -> None:
        if self.phase is _Phase.RESPONDING:
            # h11 holds pipelined requests (PAUSED) until this response is done; bound them.
            self._pipelined += len(data)
            if self._pipelined > _MAX_PIPELINED:
                self.transport.pause_reading()
        self.h11.receive_data(data)
        self._process()

    def _on_close(self, error: Exception | None) -> None:
        # The transport is gone (EOF, reset, or end() finished): stop any work for it.
        if error is not None and self.stream is not None:
            logger.info("client %s went away: %s", self.peer, error)
        self._release()

    def _process(self) -> None:
        while self.phase is _Phase.AWAITING_REQUEST:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as error:
                self._reject(error.error_status_hint, f"Bad request: {error}")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request = event
                self._body = bytearray()
                if self._content_length(event) > self.server.options.max_request_body:
                    self._reject(413, "Request body too large.")
                    return
                if self.h11.client_is_waiting_for_100_continue:
                    self._send(h11.InformationalResponse(status_code=100, headers=[]))
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self.server.options.max_request_body:
                    self._reject(413, "Request body too large.")
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._cancel_idle()
                self._dispatch()
            # h11.ConnectionClosed cannot come: the transport reports EOF through on_close.

    @staticmethod
    def _content_length(request: h11.Request) -> int:
        for name, value in request.headers:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def _dispatch(self) -> None:
        assert self._request is not None
        request = self._request
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        method = request.method.decode("ascii")
        # RFC 9110 §9.3.2: HEAD is GET without the content (h11 frames it as such).
        head_only = method == "HEAD"
        parsed = _Request(
            method="GET" if head_only else method,
            target=request.target.decode("latin-1"),
            headers=headers,
            body=bytes(self._body),
        )
        self._body = bytearray()
        self.phase = _Phase.RESPONDING
        try:
            reply = self.server._apps.handle(parsed, time.time())
        except Exception:  # a bug in an app must not take the server down: answer 500
            logger.exception("app failed on %s %s", parsed.method, parsed.target)
            reply = _openai_error(500, "Internal server error.", "server_error")
        if isinstance(reply, _BodyReply):
            self._send_body(reply, head_only=head_only)
            self._response_done()
        elif head_only:
            self._send(h11.Response(status_code=200, headers=_STREAM_HEADERS, reason=b"OK"))
            self.end_response()
        else:
            self.stream = _StreamRun(self, reply)
            self.stream.begin()

    # -- output --------------------------------------------------------------------------------

    def _send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            self.transport.write(data)

    def _send_body(
        self, reply: _BodyReply, *, close: bool = False, head_only: bool = False
    ) -> None:
        body, content_type = reply.encoded()
        headers = [("content-length", str(len(body))), _CORS_HEADER, _SERVER_HEADER]
        if content_type:
            headers.insert(0, ("content-type", content_type))
        headers.extend(reply.headers)
        if close:
            headers.append(("connection", "close"))
        if reply.status == 204:
            headers = [h for h in headers if h[0] != "content-length"]
        self._send(
            h11.Response(status_code=reply.status, headers=headers, reason=_reason(reply.status))
        )
        if body and not head_only:
            self._send(h11.Data(data=body))
        self._send(h11.EndOfMessage())

    def _reject(self, status: int, message: str) -> None:
        """Answer a request we cannot read with ``status`` and close (RFC 9112 §9.6)."""
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            error_type = "server_error" if status >= 500 else "invalid_request_error"
            self._send_body(_openai_error(status, message, error_type), close=True)
        self.transport.end()  # on_close follows the flush and releases the connection

    def write_body(self, data: bytes) -> None:
        """Write response body bytes (h11 frames them) and enforce the per-client limit."""
        self._send(h11.Data(data=data))
        self.check_buffer()

    def check_buffer(self) -> None:
        limit = self.server.options.max_client_buffer
        if self.transport.buffered_size > limit:
            logger.warning(
                "dropping client %s: %d bytes waiting, over the %d byte limit",
                self.peer,
                self.transport.buffered_size,
                limit,
            )
            self.abort()

    def end_response(self) -> None:
        """End a streamed response cleanly (the terminating chunk, or the close for 1.0)."""
        self._send(h11.EndOfMessage())
        self._response_done()

    def _response_done(self) -> None:
        self.stream = None
        if self.phase is _Phase.CLOSED:
            return
        self.phase = _Phase.AWAITING_REQUEST
        if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is not h11.DONE:
            # HTTP/1.0, "Connection: close", or a response sent before the request was read.
            self.transport.end()
            return
        self.h11.start_next_cycle()
        self._arm_idle()
        self._pipelined = 0
        self.transport.resume_reading()
        self._process()  # a pipelined request may already be waiting in h11's buffer

    def disconnect_after_flush(self) -> None:
        """Fault injection: send what is buffered, then close without ending the response."""
        self._stop_stream()
        self.transport.end()

    def abort(self) -> None:
        """Close at once (buffer dropped) and release everything."""
        self.transport.close()
        self._release()

    def _stop_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.stop()

    def _release(self) -> None:
        if self.phase is _Phase.CLOSED:
            return
        self.phase = _Phase.CLOSED
        self._cancel_idle()
        self._stop_stream()
        self.server._forget(self)


class _StreamRun:
    """Paces one :class:`_EventStream` onto a connection: timers, backpressure, faults."""

    def __init__(self, connection: _Connection, stream: _EventStream) -> None:
        self.connection = connection
        self.transport = connection.transport
        self.loop = connection.server.loop
        self.options = connection.server.options
        self.stream = stream
        self._events: Iterator[_Event] = stream.events()
        thresholds = (
            stream.fault.error_after,
            stream.fault.disconnect_after,
            stream.fault.stall_after,
        )
        self._next_fault_at = min((n for n in thresholds if n is not None), default=sys.maxsize)
        self._next: _Event | None = None
        self._timer: TimerInterface | None = None
        self._keepalive: TimerInterface | None = None
        self._quiet = True  # nothing written since the last keep-alive tick
        self.phase = _StreamPhase.PACING
        self._send_timer: TimerInterface | None = None
        self._started = 0.0
        self.sent = 0

    @property
    def stopped(self) -> bool:
        return self.phase is _StreamPhase.STOPPED

    @property
    def timer_count(self) -> int:
        timers = (self._timer, self._keepalive, self._send_timer)
        return sum(timer is not None for timer in timers)

    def begin(self) -> None:
        self.connection._send(h11.Response(status_code=200, headers=_STREAM_HEADERS, reason=b"OK"))
        self._started = time.monotonic()
        interval = self.options.keepalive_interval
        if interval:
            self._keepalive = self.loop.add_periodic_timer(interval, self._on_keepalive)
        self.transport.on_drain = self._on_drain
        self._pump()

    def stop(self) -> None:
        """Cancel every timer and close the generator (its ``finally`` runs now)."""
        if self.phase is _StreamPhase.STOPPED:
            return
        self.phase = _StreamPhase.STOPPED
        if self._timer is not None:
            self.loop.cancel_timer(self._timer)
            self._timer = None
        if self._keepalive is not None:
            self.loop.cancel_timer(self._keepalive)
            self._keepalive = None
        if self._send_timer is not None:
            self.loop.cancel_timer(self._send_timer)
            self._send_timer = None
        if self.transport.on_drain == self._on_drain:
            self.transport.on_drain = None
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def _on_timer(self, _timer: TimerInterface) -> None:
        self._timer = None
        self.connection.safely(self._pump)

    def _on_drain(self) -> None:
        if self.phase is _StreamPhase.DRAINING:
            self.phase = _StreamPhase.PACING
            if self._send_timer is not None:
                self.loop.cancel_timer(self._send_timer)
                self._send_timer = None
            self.connection.safely(self._pump)

    def _on_send_timeout(self, _timer: TimerInterface) -> None:
        self._send_timer = None
        logger.warning(
            "dropping client %s: nothing drained for %s s (send timeout), %d bytes waiting",
            self.connection.peer,
            self.options.send_timeout,
            self.transport.buffered_size,
        )
        self.connection.abort()

    def _on_keepalive(self, _timer: TimerInterface) -> None:
        # A comment only after a whole interval of silence: streams that talk need none.
        if not self._quiet:
            self._quiet = True
            return
        self.connection.safely(lambda: self.connection.write_body(_KEEPALIVE))

    def _pump(self) -> None:
        """Write every event that is due (up to a batch), then wait: timer, drain or done."""
        if self.sent >= self._next_fault_at:  # a fault after 0 events
            self._inject_fault([])
            return
        if self._must_wait_for_drain():
            return
        batch: list[bytes] = []
        size = 0
        # One clock read per batch: events that fall due while it is written go in the next.
        now = time.monotonic() - self._started
        events = self._events
        for _ in range(_BATCH_EVENTS):
            event = self._next
            if event is None:
                try:
                    event = next(events, None)
                except Exception:
                    # A bug in an app must not take the loop down. Mid-stream there is no status
                    # to send, so the client sees a cut body.
                    logger.exception("stream failed for client %s", self.connection.peer)
                    self._flush(batch)
                    self.connection.abort()
                    return
                if event is None:
                    self._flush(batch)
                    self._finish()
                    return
            data, type_, id_, retry, at = event
            if at > now:
                self._next = event
                self._flush(batch)
                if not self.stopped:
                    self._timer = self.loop.add_timer(at - now, self._on_timer)
                return
            self._next = None
            chunk = encode_event(data, event=type_, id=id_, retry=retry)
            batch.append(chunk)
            size += len(chunk)
            self.sent += 1
            if self.sent >= self._next_fault_at:
                self._inject_fault(batch)
                return
            if size >= _BATCH_BYTES:
                self._flush(batch)
                size = 0
                if self.stopped or self._must_wait_for_drain():
                    return
        self._flush(batch)
        if not self.stopped:
            # More is due: let the loop serve the other connections first.
            self._timer = self.loop.add_timer(0.0, self._on_timer)

    def _must_wait_for_drain(self) -> bool:
        """For as-fast-as-possible streams: at high water, wait for on_drain (True)."""
        if self.stream.timed or self.transport.buffered_size < self.options.high_water:
            return False
        # As fast as the client reads, no faster: the buffer is not empty, so on_drain will
        # come; meanwhile nothing more is buffered. The send timeout bounds the wait.
        self.phase = _StreamPhase.DRAINING
        if self.options.send_timeout:
            self._send_timer = self.loop.add_timer(self.options.send_timeout, self._on_send_timeout)
        return True

    def _inject_fault(self, batch: list[bytes]) -> None:
        """The event count reached a fault threshold: error, disconnect or stall."""
        fault = self.stream.fault
        if fault.error_after is not None and self.sent >= fault.error_after:
            error = self.stream.error_event("Injected fault: error mid-stream.")
            batch.append(
                encode_event(error.data, event=error.event, id=error.id, retry=error.retry)
            )
            self._flush(batch)
            self._finish()
        elif fault.disconnect_after is not None and self.sent >= fault.disconnect_after:
            self._flush(batch)
            if not self.stopped:
                self.connection.disconnect_after_flush()
        else:
            # stall-after: go silent (keep-alive comments go on) until the client leaves or the
            # server closes; no timer is armed, stop() still cleans up.
            self._flush(batch)
            if not self.stopped:
                self.phase = _StreamPhase.STALLED

    def _flush(self, batch: list[bytes]) -> None:
        if batch and not self.stopped:
            self._quiet = False
            self.connection.write_body(b"".join(batch))
            batch.clear()

    def _finish(self) -> None:
        if self.stopped:
            return
        self.stop()
        self.connection.end_response()


# --- running a server in a thread -----------------------------------------------------------------


class BackgroundServer:
    """An :class:`SSEServer` on its own ``StreamSelectLoop`` in a daemon thread.

    ``BackgroundServer(host="127.0.0.1", port=0, options=None)``; use it as a context manager
    (or :meth:`start`/:meth:`stop`). The server is bound by :meth:`start` in the calling
    thread, so ``url`` and ``port`` are known as soon as it returns and bind errors
    (``OSError``) are raised there. :meth:`call` runs a function on the loop thread; that is the
    only safe way to touch :attr:`server` while it runs. Stopping wakes the loop through a
    socket pair registered on it, closes the server, and joins the thread.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, options: ServerOptions | None = None
    ) -> None:
        self._host = host
        self._port = port
        self._options = options
        self._server: SSEServer | None = None
        self._loop: StreamSelectLoop | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._calls: list[tuple[Callable[[SSEServer], object], concurrent.futures.Future[object]]]
        self._calls = []
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        """An exception that escaped the loop (and ended the thread), if any."""

    @property
    def server(self) -> SSEServer:
        """The running server (touch it only through :meth:`call`). RuntimeError if not started."""
        if self._server is None:
            raise RuntimeError("BackgroundServer is not started")
        return self._server

    @property
    def url(self) -> str:
        """The server's ``http://host:port``."""
        return self.server.url

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    def start(self) -> BackgroundServer:
        """Bind, then run the loop in a daemon thread. Returns self. RuntimeError if started."""
        if self._thread is not None:
            raise RuntimeError("BackgroundServer already started")
        loop = StreamSelectLoop()
        try:
            server = SSEServer(loop, host=self._host, port=self._port, options=self._options)
        except BaseException:
            loop.close()
            raise
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        loop.add_read_stream(self._wake_r, self._on_wake)
        self._loop, self._server = loop, server
        self._thread = threading.Thread(
            target=self._run, name=f"reactsse-server-{server.port}", daemon=True
        )
        self._thread.start()
        return self

    def call(self, function: Callable[[SSEServer], _T], timeout: float = 10.0) -> _T:
        """Run ``function(server)`` on the loop thread and return its result (or raise its error).

        Raises ``RuntimeError`` if the server is not running, ``TimeoutError`` after
        ``timeout`` seconds.
        """
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        with self._lock:
            if self._wake_w is None or self._thread is None or not self._thread.is_alive():
                raise RuntimeError("BackgroundServer is not running")
            self._calls.append((function, future))
            self._wake_w.send(b"c")
        return future.result(timeout)  # type: ignore[return-value]

    def stop(self, timeout: float = 10.0) -> None:
        """Close the server, end the loop thread and release the loop. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            if self._wake_w is not None and thread.is_alive():
                self._wake_w.send(b"s")
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"BackgroundServer thread did not stop within {timeout} s")
        with self._lock:
            for sock in (self._wake_r, self._wake_w):
                if sock is not None:
                    sock.close()
            self._wake_r = self._wake_w = None
        if self._loop is not None:
            self._loop.close()
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._loop is not None
        try:
            self._loop.run()
        except BaseException as error:  # recorded for the owner; the thread must end cleanly
            logger.exception("the background loop failed")
            self.error = error
        finally:
            if self._server is not None:
                self._server.close()

    def _on_wake(self, _stream: Stream) -> None:
        assert self._wake_r is not None and self._loop is not None
        try:
            signals = self._wake_r.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        with self._lock:
            calls, self._calls = self._calls, []
        for function, future in calls:
            try:
                future.set_result(function(self.server))
            except BaseException as error:
                future.set_exception(error)
        if b"s" in signals or not signals:
            self.server.close()
            self._loop.remove_read_stream(self._wake_r)
            self._loop.stop()


# --- the CLI's entry point ------------------------------------------------------------------------


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    rate: float | None = None,
    chunk_tokens: int = 1,
    reply_tokens: int | None = None,
    keepalive_interval: float | None = 15.0,
    api_key: str | None = None,
    fault: str | None = None,
    loop: LoopInterface | None = None,
    file: TextIO | None = None,
) -> None:
    """Run an :class:`SSEServer` until the loop stops (Ctrl-C ends it), printing its URL first.

    The keyword arguments are the :class:`ServerOptions` fields of the same names. ``loop``
    defaults to ``Loop.get()``; ``file`` (default ``sys.stdout``) receives the URL line.
    Raises ``OSError`` if the address cannot be bound, ``ValueError`` for bad options.
    """
    options = ServerOptions(
        rate=rate,
        chunk_tokens=chunk_tokens,
        reply_tokens=reply_tokens,
        keepalive_interval=keepalive_interval,
        api_key=api_key,
        fault=fault,
    )
    if loop is None:
        loop = Loop.get()
    assert loop is not None
    server = SSEServer(loop, host=host, port=port, options=options)
    out = file if file is not None else sys.stdout
    print(f"reactsse server listening on {server.url}", file=out, flush=True)
    print(f"  OpenAI base_url: {server.url}/v1    demo stream: {server.url}/events", file=out)
    out.flush()
    try:
        loop.run()
    finally:
        server.close()
