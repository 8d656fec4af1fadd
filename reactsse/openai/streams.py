"""The two ways to consume one streaming request: a handle on a loop, or a blocking iterator.

``StreamHandle`` is the callback style (ReactPHP's): the request runs on a loop the caller
runs, and the handle calls ``on_item``/``on_done``/``on_error``. ``StreamIterator`` is the
blocking style: each ``next()`` runs a private loop until an item is there. Both drive an
accumulator (``ChatAccumulator`` or ``ResponsesAccumulator``) and never reconnect.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable
from typing import Generic, Protocol, TypeAlias, TypeVar

from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource
from reactsse.http.redact import redact_url
from reactsse.loop import BlockingIterator, Deferred, LoopInterface, StreamSelectLoop
from reactsse.openai.types import (
    ChatCompletion,
    ChatDelta,
    Completion,
    CompletionDelta,
    ResponseResult,
    ResponseStreamEvent,
)
from reactsse.sse import MessageEvent

__all__ = [
    "Accumulator",
    "ChatStream",
    "CompletionStream",
    "ItemFeed",
    "ResponsesStream",
    "StreamHandle",
    "StreamIterator",
]

_D = TypeVar("_D")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)


class Accumulator(Protocol[_D, _R_co]):
    """What ``ChatAccumulator`` and ``ResponsesAccumulator`` have in common."""

    @property
    def done(self) -> bool: ...

    def feed(self, event: MessageEvent) -> list[_D]: ...

    def finish(self) -> _R_co: ...


Translate: TypeAlias = Callable[[ReactSSEError], ReactSSEError]
"""Turns an error of the stream into the one the user sees (the client's server-message and
key-scrubbing translation)."""


class ItemFeed(Generic[_D, _R]):
    """The typed items of one stream, made from its raw events one event at a time, as the
    consumer asks for them: what ``StreamIterator`` here and ``AsyncStream`` in
    ``reactsse.aio`` share. They differ only in how they wait for the next raw event (running
    a private loop, or awaiting the host's), so each ``next`` is::

        while feed.wants_event():
            feed.take(<the next raw event, or None at the end>)
        return feed.pop(StopIteration)  # StopAsyncIteration for the async one

    and a consumer that meets the connection's error calls ``failed()`` before raising it.
    """

    def __init__(
        self,
        accumulator: Accumulator[_D, _R],
        translate: Translate,
        release: Callable[[], object],
    ) -> None:
        """``release()`` closes the connection: at the end of the stream, or on ``close()``."""
        self._accumulator = accumulator
        self._translate = translate
        self._release = release
        self._items: collections.deque[_D] = collections.deque()
        self._finished = False
        self.result: _R | None = None
        """The assembled result once the stream has ended successfully, else ``None``."""

    def wants_event(self) -> bool:
        """Whether the consumer must wait for a raw event: no item is ready, and more may come."""
        return not self._items and not self._finished

    def take(self, event: MessageEvent | None) -> None:
        """Turn the next raw event into items; ``None``: the events ended.

        The stream ends at its terminator, whether or not the server ends the response, or when
        the source closed by itself (no terminator: ``finish()`` warns). An error the
        accumulator raises (an ``APIError`` inside the stream, data that is not JSON) closes
        the stream and leaves translated.
        """
        accumulator = self._accumulator
        if event is not None:
            failure: ReactSSEError | None = None
            try:
                self._items.extend(accumulator.feed(event))
            except ReactSSEError as feed_error:
                failure = self._translate(feed_error)
            if failure is not None:
                # Raised here, out of the except block, so that the untranslated error (which
                # may hold an echoed API key) is not chained to it as its __context__.
                self.close()
                raise failure
            if not accumulator.done:
                return
        self._finished = True
        self._release()
        self.result = accumulator.finish()

    def failed(self) -> None:
        """The connection's error (already translated) is being raised to the consumer: the
        stream has ended, with no result."""
        self._finished = True

    def pop(self, stop: type[Exception]) -> _D:
        """The next item; raises ``stop`` once the stream has ended and its items are out."""
        if self._items:
            return self._items.popleft()
        raise stop

    def close(self) -> None:
        """Release the connection at once; items not yet taken are dropped."""
        self._items.clear()
        self._finished = True
        self._release()


class StreamHandle(Generic[_D, _R]):
    """One streaming request running on a loop (what ``start_chat``/``start_responses`` return).

    ``close()`` aborts it at any moment: the connection is released at once and no callback is
    called afterwards. ``result`` is the assembled result once ``on_done`` was called, else
    ``None``; ``done`` tells whether the stream has finished (by success, error or ``close()``).
    """

    def __init__(
        self,
        source: EventSource,
        accumulator: Accumulator[_D, _R],
        translate: Translate,
        *,
        on_item: Callable[[_D], object],
        on_done: Callable[[_R], object] | None,
        on_error: Callable[[Exception], object] | None,
    ) -> None:
        self._translate = translate
        self._accumulator = accumulator
        self._on_item = on_item
        self._raises = on_error is None
        self._result: _R | None = None
        self._source = source
        # The outcome settles once (on_done or on_error), or is cancelled by close(), after
        # which nothing is called: a promise, in ReactPHP's terms.
        self._outcome: Deferred[_R] = Deferred(canceller=source.close)
        self._outcome.then(on_done if on_done is not None else _ignore, on_error)
        source.on("*", self._on_event)
        source.on("error", self._on_source_error)
        source.on("close", self._on_source_close)

    @property
    def result(self) -> _R | None:
        """The assembled result, once the stream ended successfully."""
        return self._result

    @property
    def done(self) -> bool:
        """True once the stream finished: success, error or ``close()``."""
        return self._outcome.settled

    def close(self) -> None:
        """Abort now: release the connection; no callback afterwards. Idempotent."""
        self._outcome.cancel()

    def __repr__(self) -> str:
        state = "done" if self._outcome.settled else "streaming"
        return f"<StreamHandle {redact_url(self._source.url)} {state}>"

    def _on_event(self, event: MessageEvent) -> None:
        if self._outcome.settled:
            return
        failure: ReactSSEError | None = None
        try:
            items = self._accumulator.feed(event)
        except ReactSSEError as error:
            failure = self._translate(error)
        if failure is not None:
            self._fail(failure)  # out of the except block: see ItemFeed.take
            return
        for item in items:
            self._on_item(item)
            if self.done:  # on_item may have called close()
                return
        if self._accumulator.done:
            # The terminator arrived: finish now, whether or not the server closes the response.
            self._source.close()
            self._end()

    def _on_source_close(self) -> None:
        if not self._outcome.settled:
            self._end()

    def _end(self) -> None:
        self._result = self._accumulator.finish()
        self._outcome.resolve(self._result)

    def _on_source_error(self, error: ReactSSEError) -> None:
        # reconnect=False: every error that reaches us is fatal (the source is CLOSED).
        if not self._outcome.settled:
            self._fail(self._translate(error))

    def _fail(self, error: ReactSSEError) -> None:
        self._source.close()
        self._outcome.reject(error)
        if self._raises:
            # No handler: the error leaves the loop's run(), as an exception from any listener
            # does in ReactPHP (StreamSelectLoop has no try/catch).
            raise error


def _ignore(_result: object) -> None:
    pass


class StreamIterator(Generic[_D, _R]):
    """A blocking iterator over one streaming request (``iter_chat``, ``iter_responses``).

    The connection's events are queued by a ``BlockingIterator`` on a private
    ``StreamSelectLoop``; each ``next()`` turns them into typed items one at a time, so the
    first item is handed out as soon as its event arrived, not after the rest of the same read
    was parsed. Iteration ends when the stream is complete; then ``result`` holds the assembled
    result (a ``ChatCompletion`` or ``ResponseResult``). Errors (``APIError``,
    ``HTTPStatusError``, transport errors) are raised from ``next()`` after every item received
    before them. A stream that ends without its terminator warns ``IncompleteStreamWarning`` at
    the end of iteration. Use it in a ``with`` block or call ``close()``: that closes the
    connection at once.
    """

    def __init__(
        self,
        open_source: Callable[[LoopInterface], EventSource],
        accumulator: Accumulator[_D, _R],
        translate: Translate,
    ) -> None:
        loop = StreamSelectLoop()
        try:
            source = open_source(loop)
        except BaseException:
            loop.close()
            raise
        # The raw events, as dispatched: the listeners only queue them (parsing happens in
        # __next__). No listener refers to self, so dropping the iterator runs __del__ at once.
        self._events: BlockingIterator[MessageEvent] = BlockingIterator(loop, source.close)
        events = self._events
        source.on("*", events.push)
        source.on("error", lambda error: events.fail(translate(error)))
        source.on("close", events.finish)
        self._feed: ItemFeed[_D, _R] = ItemFeed(accumulator, translate, events.close)

    @property
    def result(self) -> _R | None:
        """The assembled result once iteration has ended successfully, else ``None``."""
        return self._feed.result

    def __iter__(self) -> StreamIterator[_D, _R]:
        return self

    def __next__(self) -> _D:
        feed = self._feed
        while feed.wants_event():
            feed.take(self._next_event())
        return feed.pop(StopIteration)

    def _next_event(self) -> MessageEvent | None:
        try:
            return next(self._events, None)  # runs the private loop until an event is there
        except Exception:
            self._feed.failed()  # an error of the connection, already translated
            raise

    def close(self) -> None:
        """Close the connection and the private loop at once; idempotent.

        Items received but not yet taken are dropped: iteration ends.
        """
        self._feed.close()

    def __enter__(self) -> StreamIterator[_D, _R]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Safety net for `for d in client.iter_chat(...): break` without `with`.
        with contextlib.suppress(Exception):
            self.close()


ChatStream: TypeAlias = StreamIterator[ChatDelta, ChatCompletion]
"""The blocking iterator ``OpenAIClient.iter_chat`` returns."""

ResponsesStream: TypeAlias = StreamIterator[ResponseStreamEvent, ResponseResult]
"""The blocking iterator ``OpenAIClient.iter_responses`` returns."""

CompletionStream: TypeAlias = StreamIterator[CompletionDelta, Completion]
"""The blocking iterator ``OpenAIClient.iter_completion`` returns."""
