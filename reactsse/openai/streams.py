"""The two ways to consume one streaming request: a handle on a loop, or a blocking iterator.

``StreamHandle`` is the callback style (ReactPHP's): the request runs on a loop the caller
runs, and the handle calls ``on_item``/``on_done``/``on_error``. ``StreamIterator`` is the
blocking style: each ``next()`` runs a private loop until an item is there. Both drive an
accumulator (``ChatAccumulator`` or ``ResponsesAccumulator``) and never reconnect.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, MutableSequence
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
    "ResponsesStream",
    "StreamHandle",
    "StreamIterator",
    "feed_items",
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


def feed_items(
    accumulator: Accumulator[_D, object],
    event: MessageEvent,
    items: MutableSequence[_D],
    close: Callable[[], None],
    translate: Translate,
) -> bool:
    """The step an iterator takes for each event: ``StreamIterator`` here and ``AsyncStream``
    in ``reactsse.aio`` share it.

    The items of ``event`` go to the end of ``items``. An error the accumulator raises (an
    ``APIError`` inside the stream, data that is not JSON) closes the stream (``close()``) and
    leaves translated. Returns True once the terminator has come: the caller then finishes,
    whether or not the server ends the response.
    """
    try:
        items.extend(accumulator.feed(event))
    except ReactSSEError as feed_error:
        close()
        raise translate(feed_error) from None
    return accumulator.done


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
        try:
            items = self._accumulator.feed(event)
        except ReactSSEError as error:
            self._fail(self._translate(error))
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
        self._translate = translate
        self._accumulator = accumulator
        self._items: collections.deque[_D] = collections.deque()
        self._finished = False
        self._result: _R | None = None
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

    @property
    def result(self) -> _R | None:
        """The assembled result once iteration has ended successfully, else ``None``."""
        return self._result

    def __iter__(self) -> StreamIterator[_D, _R]:
        return self

    def __next__(self) -> _D:
        items = self._items
        while not items:
            if self._finished:
                raise StopIteration
            try:
                event = next(self._events)
            except StopIteration:
                self._end()  # the source closed by itself (no terminator: finish() warns)
                continue
            except Exception:
                self._finished = True  # an error of the connection, already translated
                raise
            if feed_items(self._accumulator, event, items, self.close, self._translate):
                self._end()
        return items.popleft()

    def _end(self) -> None:
        self._finished = True
        self._events.close()
        self._result = self._accumulator.finish()

    def close(self) -> None:
        """Close the connection and the private loop at once; idempotent.

        Items received but not yet taken are dropped: iteration ends.
        """
        self._items.clear()
        self._finished = True
        self._events.close()

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
