"""``HostedSource``: one ``EventSource`` on the host's shared loop, feeding an ``AsyncChannel``;
``HostedStream``: the ``async with`` around one, the base of what ``aconnect`` and the async
OpenAI client return.

What ``aconnect`` and the async OpenAI streams have in common: open the source on the shared
``AnyioLoop`` of the running host (``reactsse/aio/shared.py``), wire its listeners to a channel,
pause the source while the consumer lags and resume it once it caught up, and on ``close()``
release the connection at once (synchronously: no await, so a cancelled task, an expired
``fail_after`` or a ``break`` closes the socket before anything else runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactsse.aio.channel import AsyncChannel
from reactsse.aio.shared import SharedLoop, shared_loop
from reactsse.eventsource import EventSource
from reactsse.loop import LoopInterface

__all__ = ["DEFAULT_MAX_BUFFERED_EVENTS", "HostedSource", "HostedStream"]

T = TypeVar("T")
_S = TypeVar("_S", bound="HostedStream[Any]")

#: How many events may wait for a slow consumer before the socket stops being read.
DEFAULT_MAX_BUFFERED_EVENTS = 1024


class HostedSource(Generic[T]):
    """An ``EventSource`` on the shared loop; its items reach the consumer through a channel."""

    def __init__(
        self,
        open_source: Callable[[LoopInterface], EventSource],
        wire: Callable[[EventSource, AsyncChannel[T]], object],
        max_buffered_events: int,
    ) -> None:
        """``open_source(loop)`` creates the source; ``wire(source, channel)`` adds the listeners
        that push to the channel. Nothing happens before ``open()``."""
        self._open_source = open_source
        self._wire = wire
        self._max_buffered = max_buffered_events
        self._shared: SharedLoop | None = None
        self._source: EventSource | None = None
        self._channel: AsyncChannel[T] | None = None

    @property
    def source(self) -> EventSource:
        """The ``EventSource`` (``RuntimeError`` before ``open()``)."""
        if self._source is None:
            raise RuntimeError("the stream is not open: use it in `async with`")
        return self._source

    def open(self) -> AsyncChannel[T]:
        """Create the source on the running host's shared loop; must run in an async context.

        Raises what ``EventSource`` raises for bad arguments, and ``RuntimeError`` if open.
        """
        if self._source is not None:
            raise RuntimeError("the stream was already opened")
        shared = shared_loop()
        source = self._open_source(shared.loop)  # bad arguments raise here, nothing to undo
        channel: AsyncChannel[T] = AsyncChannel(self._max_buffered, source.pause, self._resume)
        self._wire(source, channel)
        self._shared, self._source, self._channel = shared, source, channel
        shared.enter(self._on_loop_error)
        shared.wake()  # connecting added work to the loop
        return channel

    def _resume(self) -> None:
        source, shared = self._source, self._shared
        if source is not None and shared is not None:
            source.resume()
            shared.wake()

    def _on_loop_error(self, error: BaseException) -> None:
        if self._channel is not None:
            if isinstance(error, Exception):
                self._channel.fail(error)
            else:
                self._channel.finish()

    def close(self) -> None:
        """Close the connection now and leave the shared loop; idempotent."""
        source, self._source = self._source, None
        shared, self._shared = self._shared, None
        if self._channel is not None:
            self._channel.close()
        if source is not None:
            source.close()
        if shared is not None:
            shared.leave(self._on_loop_error)

    def __del__(self) -> None:
        # A safety net for a stream dropped without leaving its `async with`.
        with contextlib.suppress(Exception):
            self.close()


class HostedStream(Generic[T]):
    """Entering opens the ``HostedSource``; leaving the block, by any way, or ``aclose()`` or
    ``close()`` closes the connection at once. ``_channel`` is the open channel, else ``None``."""

    def __init__(self, hosted: HostedSource[T]) -> None:
        self._hosted = hosted
        self._channel: AsyncChannel[T] | None = None

    async def __aenter__(self: _S) -> _S:
        self._channel = self._hosted.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()  # however the block is left: an exception, a cancellation, a break

    def close(self) -> None:
        """Close the connection at once; idempotent."""
        self._hosted.close()

    async def aclose(self) -> None:
        """``close()``, for ``contextlib.aclosing`` and friends."""
        self.close()
