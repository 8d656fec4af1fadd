"""``Connection``: one accepted client, h11 in the server role over a ``SocketTransport``.

* One connection serves one request at a time (h11 pauses pipelined requests); keep-alive
  connections go on to the next request once both sides are ``DONE``. Pipelined requests are
  taken by one loop in :meth:`Connection._process`, never by recursion (a response that ends
  at once must not start the next request from inside itself: thousands of pipelined requests
  would exhaust the stack), and only while the client reads its answers (below
  ``high_water`` bytes waiting; else after the transport's drain). The idle timer runs only
  in ``AWAITING_REQUEST``; a ``CLOSED`` connection holds nothing and has told its server to
  forget it.
* Listener code runs under :meth:`Connection.safely`: a bug closes that connection, never the
  loop.
* Bytes held for a client never exceed ``max_client_buffer`` plus one batch (``BATCH_BYTES``
  and the item that filled it: an event, or a run an app encoded): past it the client is
  dropped (logged).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import h11

from reactsse.connector import SocketTransport
from reactsse.loop import OneShotTimer
from reactsse.server.access import AccessRecord
from reactsse.server.app import App, BodyReply, error_reply
from reactsse.server.messages import app_request, body_reply_events, content_length, stream_head
from reactsse.server.options import ServerOptions
from reactsse.server.stream import StreamRun

logger = logging.getLogger("reactsse.server")

#: Pipelined bytes we accept while a response is in progress before we stop reading.
MAX_PIPELINED = 64 * 1024


class Phase(enum.Enum):
    """A connection's phase (h11 keeps the HTTP state; this is what the server is doing)."""

    AWAITING_REQUEST = "awaiting request"  # reading; the idle timer runs
    RESPONDING = "responding"  # a body reply or a stream is being written; h11 holds the rest
    CLOSED = "closed"  # released: no timer, no stream, forgotten by the server


class Connection:
    """One accepted client; ``on_release(self)`` is called once when it closes."""

    def __init__(
        self,
        options: ServerOptions,
        app: App,
        transport: SocketTransport,
        on_release: Callable[[Connection], None],
    ) -> None:
        self.loop = transport.loop  # the loop its socket is read on: never a second one
        self.options = options
        self.app = app
        self.transport = transport
        self._on_release = on_release
        self.h11 = h11.Connection(h11.SERVER)
        self.stream: StreamRun | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self.phase = Phase.AWAITING_REQUEST
        self._pipelined = 0
        self._processing = False  # _process's loop is on the stack
        self._idle_timer = OneShotTimer(self.loop, self._on_idle)
        # The request being answered, for the access log: method, target, status, start time.
        self._access: tuple[str, str, int, float] | None = None
        self._sent = 0  # events of the last stream, kept once it is stopped
        peer = transport.peer
        self.peer = f"{peer[0]}:{peer[1]}" if len(peer) >= 2 else "?"

    def start(self) -> None:
        self.transport.start(self._on_data, self._on_close)
        self._arm_idle()

    @property
    def timer_count(self) -> int:
        return self._idle_timer.armed + (self.stream.timer_count if self.stream else 0)

    def _arm_idle(self) -> None:
        # A whole request must arrive within idle_timeout of the connection (or of the previous
        # response) being ready for it: closes idle keep-alive connections and slow-header
        # (slowloris) clients alike. Cancelled once the request is complete.
        timeout = self.options.idle_timeout
        if timeout and self.phase is not Phase.CLOSED:
            self._idle_timer.arm(timeout)

    def _on_idle(self) -> None:
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
        if self.phase is Phase.RESPONDING:
            # h11 holds pipelined requests (PAUSED) until this response is done; bound them.
            self._pipelined += len(data)
            if self._pipelined > MAX_PIPELINED:
                self.transport.pause_reading()
        self.h11.receive_data(data)
        self._process()

    def _on_close(self, error: Exception | None) -> None:
        # The transport is gone (EOF, reset, or end() finished): stop any work for it.
        if error is not None and self.stream is not None:
            logger.info("client %s went away: %s", self.peer, error)
        self._release()

    def _process(self) -> None:
        """Take the requests h11 holds, one after the other, while the connection awaits one."""
        if self._processing:
            return  # called from a response that ended inside the loop below: it goes on
        self._processing = True
        try:
            while self.phase is Phase.AWAITING_REQUEST:
                if self.transport.buffered_size > self.options.high_water:
                    # A pipelining client that does not read its answers: take its next
                    # request once the answers so far have been sent (memory stays bounded).
                    self.transport.pause_reading()
                    self.transport.on_drain = self._on_drained
                    return
                if not self._next_event():
                    return
        finally:
            self._processing = False

    def _on_drained(self) -> None:
        self.transport.on_drain = None
        self.transport.resume_reading()
        self.safely(self._process)

    def _next_event(self) -> bool:
        """Handle one h11 event; False when there is nothing more to do for now."""
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as error:
            # h11 hints 400, 431 (head too large) or 501 (a transfer coding other than
            # chunked, which RFC 9112 §6.1 says to answer with 501).
            status = error.error_status_hint
            what = "Not implemented" if status == 501 else "Bad request"
            self._reject(status, f"{what}: {error}")
            return False
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return False
        if isinstance(event, h11.Request):
            self._request = event
            self._body = bytearray()
            names = {name for name, _value in event.headers}
            if b"transfer-encoding" in names and b"content-length" in names:
                # RFC 9112 §6.1: such a message may be framed differently by a proxy in front
                # of us (request smuggling), so the server MUST close after responding. We
                # answer 400 and close without reading its body or anything after it.
                self._reject(400, "Bad request: both Transfer-Encoding and Content-Length.")
                return False
            if content_length(event) > self.options.max_request_body:
                self._reject(413, "Request body too large.")
                return False
            if self.h11.client_is_waiting_for_100_continue:
                self.send(h11.InformationalResponse(status_code=100, headers=[]))
        elif isinstance(event, h11.Data):
            self._body += event.data
            if len(self._body) > self.options.max_request_body:
                self._reject(413, "Request body too large.")
                return False
        elif isinstance(event, h11.EndOfMessage):
            self._idle_timer.cancel()
            self._dispatch()
        # h11.ConnectionClosed cannot come: the transport reports EOF through on_close.
        return True

    def _dispatch(self) -> None:
        assert self._request is not None
        parsed, head_only = app_request(self._request, bytes(self._body))
        method = "HEAD" if head_only else parsed.method  # as sent, for the access log
        self._body = bytearray()
        self.phase = Phase.RESPONDING
        try:
            reply = self.app(parsed)
        except Exception:  # a bug in an app must not take the server down: answer 500
            logger.exception("app failed on %s %s", parsed.method, parsed.target)
            reply = error_reply(500, "Internal server error.")
        self._access = (method, parsed.target, reply.status, self.loop.now())
        self._sent = 0
        if isinstance(reply, BodyReply):
            self._send_body(reply, head_only=head_only)
            self._response_done()
        elif head_only:
            close = getattr(reply.events, "close", None)
            if close is not None:
                close()  # the events will not be read
            self.send(stream_head(reply))
            self.end_response()
        else:
            self.stream = StreamRun(self, reply)
            self.stream.begin()

    # -- output --------------------------------------------------------------------------------

    def send(self, event: h11.Event, *more: h11.Event) -> None:
        """Send h11 events' bytes through the transport in one ``write`` (one ``send`` when the
        transport's buffer is empty)."""
        data = self.h11.send(event)
        if more:
            data = b"".join([data or b"", *(self.h11.send(e) or b"" for e in more)])
        if data:
            self.transport.write(data)

    def _send_body(self, reply: BodyReply, *, close: bool = False, head_only: bool = False) -> None:
        self.send(*body_reply_events(reply, close=close, head_only=head_only))

    def _reject(self, status: int, message: str) -> None:
        """Answer a request we cannot read with ``status`` and close (RFC 9112 §9.6)."""
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self._send_body(error_reply(status, message), close=True)
        self.transport.end()  # on_close follows the flush and releases the connection

    def write_body(self, data: bytes) -> None:
        """Write response body bytes (h11 frames them) and enforce the per-client limit."""
        self.send_body(h11.Data(data=data))

    def send_body(self, event: h11.Event, *more: h11.Event) -> None:
        """Send a stream's head and body events in one write; enforce the per-client limit."""
        self.send(event, *more)
        self.check_buffer()

    def check_buffer(self) -> None:
        limit = self.options.max_client_buffer
        if self.transport.buffered_size > limit:
            logger.warning(
                "dropping client %s: %d bytes waiting, over the %d byte limit",
                self.peer,
                self.transport.buffered_size,
                limit,
            )
            self.abort()

    def end_response(self, *before: h11.Event) -> None:
        """End a streamed response cleanly (the terminating chunk, or the close for 1.0);
        ``before`` (the head, the last body bytes) go out in the same write."""
        self.send(*before, h11.EndOfMessage())
        if before:
            self.check_buffer()
            if self.phase is Phase.CLOSED:  # dropped: over its buffer limit
                return
        self._response_done()

    def _response_done(self) -> None:
        self._log_access()
        self.stream = None
        if self.phase is Phase.CLOSED:
            return
        self.phase = Phase.AWAITING_REQUEST
        if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is not h11.DONE:
            # HTTP/1.0, "Connection: close", or a response sent before the request was read.
            self.transport.end()
            return
        self.h11.start_next_cycle()
        self._arm_idle()
        self._pipelined = 0
        self.transport.resume_reading()
        # A pipelined request may already be waiting in h11's buffer. When this response ended
        # inside _process (a body reply), its loop takes it; after a stream, this call does.
        self._process()

    def disconnect_after_flush(self) -> None:
        """The app's cut: send what is buffered, then close without ending the response."""
        self._stop_stream()
        self.transport.end()

    def shut_down(self, final: bytes) -> None:
        """The server is going away: end a stream with ``final`` (a comment), then close."""
        if self.stream is not None:
            self._stop_stream()
            self.write_body(final)
            if self.phase is Phase.CLOSED:  # dropped: over its buffer limit
                return
            self.send(h11.EndOfMessage())
            self._log_access()
        self.transport.end()  # on_close follows the flush and releases the connection

    def _log_access(self) -> None:
        access, self._access = self._access, None
        log = self.options.access_log
        if access is None or log is None:
            return
        method, target, status, started = access
        events = self.stream.sent if self.stream is not None else self._sent
        duration = self.loop.now() - started
        log(AccessRecord(self.peer, method, target, status, events, duration))

    def abort(self) -> None:
        """Close at once (buffer dropped) and release everything."""
        self.transport.close()
        self._release()

    def _stop_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            self._sent = stream.sent
            stream.stop()

    def _release(self) -> None:
        if self.phase is Phase.CLOSED:
            return
        self.phase = Phase.CLOSED
        self._idle_timer.cancel()
        self._log_access()
        self._stop_stream()
        self._on_release(self)
