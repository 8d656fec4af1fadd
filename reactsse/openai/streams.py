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
from reactsse.loop import LoopInterface, StreamSelectLoop
from reactsse.openai.types import ChatCompletion, ChatDelta, ResponseResult, ResponseStreamEvent
from reactsse.sse import MessageEvent

__all__ = ["Accumulator", "ChatStream", "ResponsesStream", "StreamHandle", "StreamIterator"]

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
        self._on_done = on_done
        self._on_error = on_error
        self._finished = False
        self._result: _R | None = None
        self._source = source
        self._source.on("*", self._on_event)
        self._source.on("error", self._on_source_error)
        self._source.on("close", self._on_source_close)

    @property
    def result(self) -> _R | None:
        """The assembled result, once the stream ended successfully."""
        return self._result

    @property
    def done(self) -> bool:
        """True once the stream finished: success, error or ``close()``."""
        return self._finished

    def close(self) -> None:
        """Abort now: release the connection; no callback afterwards. Idempotent."""
        self._finished = True
        self._source.close()

    def __repr__(self) -> str:
        state = "done" if self._finished else "streaming"
        return f"<StreamHandle {self._source.url} {state}>"

    def _on_event(self, event: MessageEvent) -> None:
        if self._finished:
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
        if not self._finished:
            self._end()

    def _end(self) -> None:
        self._finished = True
        self._result = self._accumulator.finish()
        if self._on_done is not None:
            self._on_done(self._result)

    def _on_source_error(self, error: ReactSSEError) -> None:
        # reconnect=False: every error that reaches us is fatal (the source is CLOSED).
        if not self._finished:
            self._fail(self._translate(error))

    def _fail(self, error: ReactSSEError) -> None:
        self._finished = True
        self._source.close()
        if self._on_error is None:
            # No handler: the error leaves the loop's run(), as an exception from any listener
            # does in ReactPHP (StreamSelectLoop has no try/catch).
            raise error
        self._on_error(error)


class StreamIterator(Generic[_D, _R]):
    """A blocking iterator over one streaming request (``iter_chat``, ``iter_responses``).

    Each ``next()`` runs a private ``StreamSelectLoop`` until an event is there, then turns
    events into typed items one at a time: the first item is handed out as soon as its event
    arrived, not after the rest of the same read was parsed. Iteration ends when the stream is
    complete; then ``result`` holds the assembled result (a ``ChatCompletion`` or
    ``ResponseResult``). Errors (``APIError``, ``HTTPStatusError``, transport errors) are raised
    from ``next()`` after every item received before them. A stream that ends without its
    terminator warns ``IncompleteStreamWarning`` at the end of iteration. Use it in a ``with``
    block or call ``close()``: that closes the connection at once.
    """

    def __init__(
        self,
        open_source: Callable[[LoopInterface], EventSource],
        accumulator: Accumulator[_D, _R],
        translate: Translate,
    ) -> None:
        self._translate = translate
        self._accumulator = accumulator
        self._loop = StreamSelectLoop()
        # Events as dispatched (the listener only queues them: parsing happens in __next__).
        self._events: collections.deque[MessageEvent] = collections.deque()
        self._items: collections.deque[_D] = collections.deque()
        self._error: ReactSSEError | None = None
        self._source_ended = False
        self._finished = False
        self._result: _R | None = None
        try:
            self._source = open_source(self._loop)
        except BaseException:
            self._loop.close()
            raise
        self._source.on("*", self._on_event)
        self._source.on("error", self._on_error)
        self._source.on("close", self._on_close)

    @property
    def result(self) -> _R | None:
        """The assembled result once iteration has ended successfully, else ``None``."""
        return self._result

    def _on_event(self, event: MessageEvent) -> None:
        self._events.append(event)
        self._loop.stop()

    def _on_error(self, error: ReactSSEError) -> None:
        # reconnect=False: every error that reaches us is fatal (the source is CLOSED).
        self._error = self._translate(error)
        self._loop.stop()

    def _on_close(self) -> None:
        self._source_ended = True
        self._loop.stop()

    def __iter__(self) -> StreamIterator[_D, _R]:
        return self

    def __next__(self) -> _D:
        items = self._items
        while not items:
            if self._finished:
                raise StopIteration
            if self._events:
                try:
                    items.extend(self._accumulator.feed(self._events.popleft()))
                except ReactSSEError as feed_error:
                    self.close()
                    raise self._translate(feed_error) from None
                if self._accumulator.done:
                    # The terminator: finish now, whether or not the server ends the response.
                    self._end()
            elif self._error is not None:
                source_error, self._error = self._error, None
                self.close()
                raise source_error
            elif self._source_ended:
                self._end()
            else:
                self._loop.run()
        return items.popleft()

    def _end(self) -> None:
        self._release()
        self._result = self._accumulator.finish()

    def _release(self) -> None:
        self._finished = True
        self._events.clear()
        self._source.close()
        self._loop.close()

    def close(self) -> None:
        """Close the connection and the private loop at once; idempotent.

        Items received but not yet taken are dropped: iteration ends.
        """
        self._items.clear()
        self._release()

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
