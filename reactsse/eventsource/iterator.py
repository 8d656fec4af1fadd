"""``connect()``: a blocking iterator over an ``EventSource`` on a private loop, for scripts.

``reactsse.loop.BlockingIterator`` does the blocking; this module only wires a source to it: a
batch listener pushes each read's events, a fatal error fails it, the source's end finishes it.
"""

from __future__ import annotations

import weakref

from reactsse.errors import ReactSSEError
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.source import EventSource, ReadyState
from reactsse.loop import BlockingIterator, LoopInterface, StreamSelectLoop
from reactsse.sse import MessageEvent

__all__ = ["EventIterator", "connect"]


class EventIterator(BlockingIterator[MessageEvent]):
    """The blocking iterator ``connect()`` returns: ``MessageEvent`` objects, as they arrive.

    Each ``next()`` runs a private ``StreamSelectLoop`` until the next event. Events of every type
    are yielded (check ``event.type``). Iteration ends (``StopIteration``) when the source closes
    cleanly: HTTP 204, the end of a stream that may not reconnect, or ``source.close()``. A fatal
    error is raised from ``next()`` after the events received before it. Errors the source
    recovers from by reconnecting are not raised (set a ``trace`` to see them). Use it in a
    ``with`` block, or call ``close()``: that closes the connection at once.
    """

    def __init__(self, source: EventSource, loop: LoopInterface) -> None:
        super().__init__(loop, source.close)
        self._source = source
        # The source reaches this iterator through a weak reference only: a strong one would
        # close a cycle (iterator, loop, transport, source, listener) and `for e in connect(url):
        # break` would keep the socket open until the garbage collector runs. It costs a call
        # per read, not per event.
        ref = weakref.ref(self)

        def push_all(events: list[MessageEvent]) -> None:
            iterator = ref()
            if iterator is not None:
                iterator.push_all(events)

        def on_error(error: ReactSSEError) -> None:
            iterator = ref()
            # Only a fatal error (the source is CLOSED) is raised; the others are recovered from.
            if iterator is not None and iterator.source.ready_state is ReadyState.CLOSED:
                iterator.fail(error)

        def on_done() -> None:
            iterator = ref()
            if iterator is not None:
                iterator.finish()

        source.on_batch(push_all)
        source.on("error", on_error)
        source.add_done_callback(on_done)

    @property
    def source(self) -> EventSource:
        """The ``EventSource`` underneath (for ``ready_state``, ``last_event_id``, ``url``)."""
        return self._source

    @property
    def last_event_id(self) -> str:
        """The last event ID string seen so far."""
        return self._source.last_event_id

    def __enter__(self) -> EventIterator:
        return self


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
    try:
        source = EventSource(url, loop=loop, options=options, **overrides)
    except BaseException:
        loop.close()  # a bad argument: release the selector we just created
        raise
    return EventIterator(source, loop)
