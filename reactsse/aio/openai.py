"""``AsyncOpenAIClient``: the OpenAI streams of ``OpenAIClient`` for asyncio and trio programs.

The same requests, typed deltas, accumulators and errors as ``OpenAIClient.iter_chat`` and
``iter_responses``, consumed with ``async with`` and ``async for``. The request is built by an
``OpenAIClient`` (one place for the body, the headers, the key and the error translation); the
stream runs on the host's shared loop (``reactsse/aio/hosted.py``), as ``aconnect``'s do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from reactsse.aio.channel import AsyncChannel
from reactsse.aio.hosted import DEFAULT_MAX_BUFFERED_EVENTS, HostedSource, HostedStream
from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource, EventSourceOptions
from reactsse.loop import LoopInterface
from reactsse.openai import (
    ChatCompletion,
    ChatDelta,
    ChatOptions,
    Completion,
    CompletionDelta,
    CompletionOptions,
    Messages,
    OpenAIClient,
    ResponseResult,
    ResponsesOptions,
    ResponseStreamEvent,
)
from reactsse.openai.request import (
    StreamRequest,
    chat_request,
    completion_request,
    responses_request,
)
from reactsse.openai.streams import Accumulator, ItemFeed
from reactsse.sse import MessageEvent

if TYPE_CHECKING:  # in annotations only, which stay text (PEP 563): no runtime dependency
    from typing_extensions import Unpack

__all__ = [
    "AsyncChatStream",
    "AsyncCompletionStream",
    "AsyncOpenAIClient",
    "AsyncResponsesStream",
    "AsyncStream",
]

_D = TypeVar("_D")
_R = TypeVar("_R")


class AsyncStream(HostedStream[MessageEvent], Generic[_D, _R]):
    """One streaming request: ``async with`` opens it, ``async for`` yields the typed items.

    Items are handed out as soon as their event arrived. Iteration ends when the stream is
    complete; ``result`` then holds the assembled ``ChatCompletion`` or ``ResponseResult``.
    Errors (``APIError``, ``HTTPStatusError`` with the server's message, transport errors,
    timeouts) are raised after every item received before them. Leaving the block by any way
    (``break``, an exception, cancellation) closes the connection at once.
    """

    def __init__(
        self,
        open_source: Callable[[LoopInterface], EventSource],
        accumulator: Accumulator[_D, _R],
        translate: Callable[[ReactSSEError], ReactSSEError],
        max_buffered_events: int,
    ) -> None:
        def wire(source: EventSource, channel: AsyncChannel[MessageEvent]) -> None:
            source.on_batch(channel.push_all)  # each read's events at once, as aconnect's
            source.on("error", lambda error: channel.fail(translate(error)))
            source.on("close", channel.finish)

        super().__init__(HostedSource(open_source, wire, max_buffered_events))
        self._feed: ItemFeed[_D, _R] = ItemFeed(accumulator, translate, self._hosted.close)

    @property
    def result(self) -> _R | None:
        """The assembled result once iteration has ended successfully, else ``None``."""
        return self._feed.result

    def close(self) -> None:
        """Close the connection at once; idempotent. Items not yet taken are dropped."""
        self._feed.close()

    def __aiter__(self) -> AsyncStream[_D, _R]:
        if self._channel is None:
            raise RuntimeError("use the stream in `async with`: async with client.iter_chat(...)")
        return self

    async def __anext__(self) -> _D:
        feed = self._feed
        while feed.wants_event():
            feed.take(await self._next_event())
        return feed.pop(StopAsyncIteration)

    async def _next_event(self) -> MessageEvent | None:
        events = self._channel
        assert events is not None
        try:
            return await anext(events, None)
        except Exception:
            self._feed.failed()  # an error of the connection, already translated
            raise


AsyncChatStream: TypeAlias = AsyncStream[ChatDelta, ChatCompletion]
"""What ``AsyncOpenAIClient.iter_chat`` returns."""

AsyncCompletionStream: TypeAlias = AsyncStream[CompletionDelta, Completion]
"""What ``AsyncOpenAIClient.iter_completion`` returns."""

AsyncResponsesStream: TypeAlias = AsyncStream[ResponseStreamEvent, ResponseResult]
"""What ``AsyncOpenAIClient.iter_responses`` returns."""


class AsyncOpenAIClient:
    """``OpenAIClient`` for async programs: ``async with client.iter_chat(...) as deltas``.

    ``AsyncOpenAIClient(*, api_key=None, base_url=None, options=None, max_buffered_events=1024,
    **overrides)`` takes ``OpenAIClient``'s arguments (but no loop: the streams run on the
    running host's shared loop). ``client`` is the ``OpenAIClient`` that builds the requests.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        options: EventSourceOptions | None = None,
        max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
        **overrides: object,
    ) -> None:
        if max_buffered_events < 1:
            raise ValueError(f"max_buffered_events must be >= 1, not {max_buffered_events!r}")
        if "loop" in overrides:
            raise TypeError("AsyncOpenAIClient takes no loop: its streams run on the host's")
        self.client = OpenAIClient(
            api_key=api_key,
            base_url=base_url,
            options=EventSourceOptions.merge(options, overrides),
        )
        """The synchronous client that builds every request."""
        self._max_buffered = max_buffered_events

    def __repr__(self) -> str:
        key = "set" if self.client.has_api_key else "none"
        return f"<AsyncOpenAIClient base_url={self.client.base_url!r} api_key={key}>"

    def _stream(self, request: StreamRequest[Accumulator[_D, _R]]) -> AsyncStream[_D, _R]:
        client = self.client
        path, body, accumulator = request

        def open_source(loop: LoopInterface) -> EventSource:
            return client.open_source(path, body, loop)

        return AsyncStream(open_source, accumulator, client.translate_error, self._max_buffered)

    def iter_chat(self, messages: Messages, **options: Unpack[ChatOptions]) -> AsyncChatStream:
        """A chat completion: ``async with client.iter_chat(msgs, model=m) as deltas``.

        The request and errors of ``OpenAIClient.iter_chat``; yields ``ChatDelta`` objects;
        ``result`` is the ``ChatCompletion`` once iteration ends.
        """
        return self._stream(chat_request(messages, **options))

    def iter_completion(
        self,
        prompt: str | Sequence[str] | Iterable[int] | Iterable[Iterable[int]],
        **options: Unpack[CompletionOptions],
    ) -> AsyncCompletionStream:
        """A text completion: ``async with client.iter_completion(prompt, model=m) as deltas``.

        The request and errors of ``OpenAIClient.iter_completion``; yields ``CompletionDelta``
        objects; ``result`` is the ``Completion`` once iteration ends.
        """
        return self._stream(completion_request(prompt, **options))

    def iter_responses(
        self, input: str | Sequence[Mapping[str, Any]], **options: Unpack[ResponsesOptions]
    ) -> AsyncResponsesStream:
        """A Responses API answer: ``async with client.iter_responses(prompt, model=m) as events``.

        The request and errors of ``OpenAIClient.iter_responses``; ``result`` is the
        ``ResponseResult`` once iteration ends.
        """
        return self._stream(responses_request(input, **options))
