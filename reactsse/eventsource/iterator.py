"""``connect()``: a blocking iterator over an ``EventSource`` on a private loop, for scripts."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from types import TracebackType

from reactsse.errors import ReactSSEError
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.source import EventSource, ReadyState
from reactsse.loop import LoopInterface, StreamSelectLoop
from reactsse.sse import MessageEvent

__all__ = ["EventIterator", "connect"]


class _Inbox:
    """What the listeners of a ``connect()`` iterator collect; no reference to the iterator."""

    def __init__(self, loop: LoopInterface) -> None:
        self.loop = loop
        self.events: collections.deque[MessageEvent] = collections.deque()
        self.error: ReactSSEError | None = None
        self.source: EventSource | None = None

    def push_all(self, new: list[MessageEvent]) -> None:
        """Queue ``new`` (one socket read's events, or one event when others listen too)."""
        events = self.events
        if not events:
            # One stop per batch is enough: stop() ends run() after this iteration, and the
            # rest of this read's events are queued in the same iteration (ReactPHP semantics).
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
    url: str, *, options: EventSourceOptions | None = None, **overrides: object
) -> EventIterator:
    """Open an event stream for a script: ``with reactsse.connect(url) as events: for e in events``.

    Takes the options of ``EventSource`` (``options=EventSourceOptions(...)`` and/or the same
    names as keywords), except ``loop``: it runs a private ``StreamSelectLoop``. Returns an
    ``EventIterator`` yielding ``MessageEvent`` objects. By default it reconnects like
    ``EventSource`` (``reconnect=False`` for a one-shot stream). Raises
    ``InvalidURL``/``LocalProtocolError``/``ValueError``/``TypeError`` at once for a bad request;
    fatal errors (``HTTPStatusError``, ``ContentTypeError``, ``TLSError``,
    ``RemoteProtocolError``, ``TooManyRedirects``, and with ``reconnect=False`` or
    ``max_retries`` also transport errors and timeouts) are raised by the iterator.
    """
    loop = StreamSelectLoop()
    inbox = _Inbox(loop)
    try:
        source = EventSource(url, loop=loop, options=options, **overrides)
    except BaseException:
        loop.close()  # a bad argument: release the selector we just created
        raise
    inbox.source = source
    source.on_batch(inbox.push_all)
    source.on("error", inbox.fail)
    source.on("close", inbox.finish)
    return EventIterator(source, loop, inbox)
