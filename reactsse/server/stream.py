"""``StreamRun``: paces one :class:`~reactsse.server.app.EventStream` onto a connection.

A stream owns at most three loop timers (the next due event, the keep-alive, the send timeout
while ``DRAINING``) and one iterator (or :class:`~reactsse.server.app.EventFeed`, which wakes the
stream when the app pushes). Every way a stream ends (done, the app's cut or stall,
client gone, client too slow, the server's ``close()``) goes through :meth:`StreamRun.stop`,
which cancels them all and closes the iterator.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from typing import Protocol

import h11

from reactsse.connector import SocketTransport
from reactsse.loop import LoopInterface, TimerInterface
from reactsse.server.app import EncodedEvents, Event, EventFeed, EventStream
from reactsse.server.messages import stream_head
from reactsse.server.options import ServerOptions
from reactsse.sse import encode_comment, encode_event

logger = logging.getLogger("reactsse.server")

#: Events written per loop callback at most; then the stream yields to the other connections.
BATCH_EVENTS = 256
#: Bytes gathered before they are handed to the transport as one chunk and one ``send``: as
#: much as the default ``high_water``, so that a whole answer of a fast stream (head, events
#: and end) is often one write. A client's buffer may pass its mark by one batch at most.
BATCH_BYTES = 64 * 1024

KEEPALIVE = encode_comment(" keep-alive") + b"\n"  # a blank line too, for line-naive clients


class StreamHost(Protocol):
    """What a stream needs of the connection it runs on (``server.connection.Connection``):
    the stream calls down into it, and the connection knows the stream only as ``StreamRun``."""

    transport: SocketTransport
    loop: LoopInterface
    options: ServerOptions
    peer: str  # "host:port", for log lines

    def safely(self, action: Callable[[], object]) -> None:
        """Run ``action``; a bug in it closes the connection, not the loop."""

    def write_body(self, data: bytes) -> None:
        """Write body bytes (h11 frames them); drop a client over its buffer limit."""

    def send_body(self, event: h11.Event, *more: h11.Event) -> None:
        """Send h11 events in one write; drop a client over its buffer limit."""

    def end_response(self, *before: h11.Event) -> None:
        """Send ``before``, then end the response cleanly."""

    def disconnect_after_flush(self) -> None:
        """The app's cut: flush, then close without ending the response."""

    def abort(self) -> None:
        """Close at once, dropping what is buffered."""


class StreamPhase(enum.Enum):
    """A stream's phase: what it waits for next."""

    PACING = "pacing"  # writing due events, or waiting for the next one's timer
    DRAINING = "draining"  # waiting for the transport's on_drain (and the send timeout)
    STALLED = "stalled"  # the app's stall_after: silent until stopped
    WAITING = "waiting"  # an EventFeed is empty: waiting for the app to push or end it
    STOPPED = "stopped"  # timers cancelled, iterator closed; terminal


class StreamRun:
    """Paces one :class:`EventStream` onto a connection: timers, backpressure, cut and stall."""

    def __init__(self, connection: StreamHost, stream: EventStream) -> None:
        self.connection = connection
        self.transport = connection.transport
        self.loop = connection.loop
        self.options = connection.options
        self.stream = stream
        self._events = iter(stream.events)
        self._feed = stream.events if isinstance(stream.events, EventFeed) else None
        thresholds = (stream.disconnect_after, stream.stall_after)
        self._next_fault_at = min((n for n in thresholds if n is not None), default=sys.maxsize)
        self._next: Event | EncodedEvents | None = None
        self._timer: TimerInterface | None = None
        self._keepalive: TimerInterface | None = None
        self._quiet = True  # nothing written since the last keep-alive tick
        self.phase = StreamPhase.PACING
        self._send_timer: TimerInterface | None = None
        self._head: h11.Response | None = None  # until it is written
        self._started = 0.0
        self.sent = 0

    @property
    def stopped(self) -> bool:
        return self.phase is StreamPhase.STOPPED

    @property
    def timer_count(self) -> int:
        timers = (self._timer, self._keepalive, self._send_timer)
        return sum(timer is not None for timer in timers)

    def begin(self) -> None:
        # The head goes out with the first batch (one write where the events are due at once),
        # or alone at the end of this call if none is written.
        self._head = stream_head(self.stream)
        self._started = self.loop.now()
        interval = self.options.keepalive_interval
        if interval:
            self._keepalive = self.loop.add_periodic_timer(interval, self._on_keepalive)
        self.transport.on_drain = self._on_drain
        if self._feed is not None:
            self._feed.set_waker(self._on_feed)
        self._pump()
        self._flush([])

    def stop(self) -> None:
        """Cancel every timer and close the iterator (a generator's ``finally`` runs now)."""
        if self.phase is StreamPhase.STOPPED:
            return
        self.phase = StreamPhase.STOPPED
        for timer in (self._timer, self._keepalive, self._send_timer):
            if timer is not None:
                self.loop.cancel_timer(timer)
        self._timer = self._keepalive = self._send_timer = None
        if self.transport.on_drain == self._on_drain:
            self.transport.on_drain = None
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def _on_timer(self, _timer: TimerInterface) -> None:
        self._timer = None
        self.connection.safely(self._pump)

    def _on_feed(self) -> None:
        # The app pushed (or ended) while the stream waited: write on the next loop turn, so
        # that everything pushed in this turn (one upstream read) goes out in one write.
        if self.phase is StreamPhase.WAITING:
            self.phase = StreamPhase.PACING
            self._timer = self.loop.add_timer(0.0, self._on_timer)

    def _on_drain(self) -> None:
        if self.phase is StreamPhase.DRAINING:
            self.phase = StreamPhase.PACING
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
        self.connection.safely(lambda: self.connection.write_body(KEEPALIVE))

    def _pump(self) -> None:
        """Write every event that is due (up to a batch), then wait: timer, drain or done."""
        # One function, a little over the size the project aims for: its loop runs once per
        # event, and each helper taken out of it would be a Python call per event.
        if self.sent >= self._next_fault_at:  # a cut or stall after 0 events
            self._cut_or_stall([])
            return
        if self._must_wait_for_drain():
            return
        batch: list[bytes] = []
        size = 0
        # One clock read per batch: events that fall due while it is written go in the next.
        now = self.loop.now() - self._started
        events = self._events
        for _ in range(BATCH_EVENTS):
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
                    feed = self._feed
                    if feed is not None and not feed.exhausted:
                        self._flush(batch)
                        if not self.stopped:
                            self.phase = StreamPhase.WAITING
                        return
                    self._finish(batch)
                    return
            at = event[-1]  # both kinds of item end with their due time
            if at > now:
                self._next = event
                self._flush(batch)
                if not self.stopped:
                    self._timer = self.loop.add_timer(at - now, self._on_timer)
                return
            self._next = None
            if isinstance(event, EncodedEvents):
                chunk, count = event.data, event.event_count
            else:
                data, type_, id_, retry, _ = event
                chunk, count = encode_event(data, event=type_, id=id_, retry=retry), 1
            batch.append(chunk)
            size += len(chunk)
            self.sent += count
            if self.sent >= self._next_fault_at:
                self._cut_or_stall(batch)
                return
            if size >= BATCH_BYTES:
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
        self.phase = StreamPhase.DRAINING
        if self.options.send_timeout:
            self._send_timer = self.loop.add_timer(self.options.send_timeout, self._on_send_timeout)
        return True

    def _cut_or_stall(self, batch: list[bytes]) -> None:
        """The event count reached ``disconnect_after`` or ``stall_after``."""
        self._flush(batch)
        if self.stopped:
            return
        cut = self.stream.disconnect_after
        if cut is not None and self.sent >= cut:
            self.connection.disconnect_after_flush()
        else:
            # stall-after: go silent (keep-alive comments go on) until the client leaves or the
            # server closes; no timer is armed, stop() still cleans up.
            self.phase = StreamPhase.STALLED

    def _unwritten(self, batch: list[bytes]) -> list[h11.Event]:
        """The head if it is not written yet, and ``batch`` as one body chunk (then cleared)."""
        events: list[h11.Event] = []
        if self._head is not None:
            events.append(self._head)
            self._head = None
        if batch:
            self._quiet = False
            events.append(h11.Data(data=b"".join(batch)))
            batch.clear()
        return events

    def _flush(self, batch: list[bytes]) -> None:
        if not self.stopped:
            events = self._unwritten(batch)
            if events:
                self.connection.send_body(*events)

    def _finish(self, batch: list[bytes]) -> None:
        """The events are over: the last batch and the end go out in one write."""
        if self.stopped:
            return
        events = self._unwritten(batch)
        self.stop()
        self.connection.end_response(*events)
