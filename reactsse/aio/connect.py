"""``aconnect()``: ``connect()`` for async programs, on asyncio or trio.

``async with aconnect(url) as events: async for event in events: ...`` has the semantics of
``reactsse.connect()`` (the same ``EventSourceOptions``: reconnect, ``Last-Event-ID``, limits,
timeouts, redirects, gzip, TLS, trace; the same events and the same errors, after the events
received before them). The source runs on the running host's shared ``AnyioLoop``
(``reactsse/aio/shared.py``); each read's events are queued in one piece and the consumer is
woken once per read (``reactsse/aio/channel.py``), with backpressure for a slow consumer.
"""

from __future__ import annotations

from reactsse.aio.channel import AsyncChannel
from reactsse.aio.hosted import DEFAULT_MAX_BUFFERED_EVENTS, HostedSource, HostedStream
from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource, EventSourceOptions, ReadyState
from reactsse.loop import LoopInterface
from reactsse.sse import MessageEvent

__all__ = ["AsyncEventStream", "aconnect"]


class AsyncEventStream(HostedStream[MessageEvent]):
    """What ``aconnect()`` returns: an async context manager, then an async iterator of events.

    Entering it opens the connection (on the host's shared loop); ``async for`` yields
    ``MessageEvent`` objects of every type as they arrive; iteration ends when the source closes
    cleanly (HTTP 204, the end of a stream that may not reconnect); a fatal error is raised after
    the events received before it. Leaving the block, by any way (the end, ``break``, an
    exception, a cancelled task, an expired ``anyio.fail_after``), closes the connection at
    once. ``aclose()`` (or ``close()``, from synchronous code) does the same.
    """

    def __init__(self, url: str, options: EventSourceOptions, max_buffered_events: int) -> None:
        def open_source(loop: LoopInterface) -> EventSource:
            return EventSource(url, loop=loop, options=options)

        super().__init__(HostedSource(open_source, _wire, max_buffered_events))

    @property
    def source(self) -> EventSource:
        """The ``EventSource`` underneath (for ``ready_state``, ``last_event_id``, ``url``)."""
        return self._hosted.source

    @property
    def last_event_id(self) -> str:
        """The last event ID string seen so far."""
        return self._hosted.source.last_event_id

    @property
    def buffered(self) -> int:
        """Events received and not yet taken by the consumer."""
        return 0 if self._channel is None else len(self._channel)

    def __aiter__(self) -> AsyncChannel[MessageEvent]:
        if self._channel is None:
            raise RuntimeError("use aconnect() in `async with`: async with aconnect(url) as events")
        return self._channel


def _wire(source: EventSource, channel: AsyncChannel[MessageEvent]) -> None:
    def on_error(error: ReactSSEError) -> None:
        # Only a fatal error (the source is CLOSED) ends the iteration; the others are
        # recovered from by reconnecting (a trace shows them), as with connect().
        if source.ready_state is ReadyState.CLOSED:
            channel.fail(error)

    source.on_batch(channel.push_all)
    source.on("error", on_error)
    source.add_done_callback(channel.finish)


def aconnect(
    url: str,
    *,
    options: EventSourceOptions | None = None,
    max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
    **overrides: object,
) -> AsyncEventStream:
    """Open an event stream in an async program: ``async with aconnect(url) as events``.

    Takes the options of ``connect()`` (``options=EventSourceOptions(...)`` and/or the same
    names as keywords), on asyncio or trio. ``max_buffered_events``: how far the consumer may
    lag before the socket stops being read (it resumes once half of them were taken). Raises,
    on entering the block, what ``connect()`` raises at once for a bad request; fatal errors
    are raised by the iteration, as with ``connect()``.
    """
    if max_buffered_events < 1:
        raise ValueError(f"max_buffered_events must be >= 1, not {max_buffered_events!r}")
    # Merged once, here: a bad option fails now, not in the block, and the source reuses it.
    merged = EventSourceOptions.merge(options, overrides)
    return AsyncEventStream(url, merged, max_buffered_events)
