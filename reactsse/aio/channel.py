"""``AsyncChannel``: what listeners on the shared loop push, awaited by one consumer task.

The async counterpart of ``reactsse.loop.BlockingIterator``, with the same ordering guarantees
(everything pushed before ``fail(error)`` is handed out first, then the error is raised once,
then iteration ends) and one more duty: backpressure. When the consumer lags by
``high_water`` items, ``on_full()`` is called (the source stops reading); once it has taken
half of them, ``on_drained()`` (reading resumes). So what waits here is at most ``high_water``
items plus one socket read's events, however slow the consumer is.

Why a deque and a bare wake-up rather than an anyio memory object stream: one socket read
yields many events, and a listener on the loop cannot await. A deque takes the whole read in
one ``extend`` and wakes the consumer once per read; a memory object stream would cost a send
per event, and its bound would have to refuse events the decoder has already produced (they
must not be lost). The bound is kept by pausing the socket instead, one level down, where the
kernel and TCP flow control hold the rest. The wake-up is the host's own primitive (a future on
asyncio, a reschedule on trio: ``reactsse/aio/parking.py`` says why), not an ``anyio.Event``.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

from reactsse.aio.parking import new_parking

__all__ = ["AsyncChannel"]

T = TypeVar("T")

# Items handed out from the queue between two yields to the host. One socket read can queue
# thousands of events; a consumer that awaits nothing else would hold the host for all of them,
# and with a hundred such consumers the host's other tasks would wait for tens of milliseconds.
# Large enough that a consumer usually takes a whole read of LLM-sized events in one turn,
# while they are fresh in the CPU's caches (a smaller burst measured slower in
# bench/aio_bench.py: the loop reads more sockets between the consumer's turns).
_BURST = 128


class AsyncChannel(AsyncIterator[T]):
    """Items pushed from the loop, handed out by ``__anext__`` to one consumer task."""

    __slots__ = (
        "_burst",
        "_ended",
        "_error",
        "_high",
        "_items",
        "_low",
        "_on_drained",
        "_on_full",
        "_parking",
        "paused",
    )

    def __init__(
        self,
        high_water: int,
        on_full: Callable[[], object],
        on_drained: Callable[[], object],
    ) -> None:
        if high_water < 1:
            raise ValueError(f"max_buffered_events must be >= 1, not {high_water!r}")
        self._items: collections.deque[T] = collections.deque()
        self._high = high_water
        self._low = high_water // 2
        self._on_full = on_full
        self._on_drained = on_drained
        self._error: Exception | None = None
        self._ended = False
        # Created in the consumer's host (``HostedSource.open()`` runs in an async context).
        self._parking = new_parking()
        self._burst = _BURST
        #: True between ``on_full()`` and ``on_drained()``.
        self.paused = False

    def __len__(self) -> int:
        return len(self._items)

    # -- the loop's side ------------------------------------------------------------------------

    def push_all(self, new: Iterable[T]) -> None:
        """Queue one socket read's items and wake the consumer once."""
        items = self._items
        items.extend(new)
        if len(items) >= self._high and not self.paused:
            self.paused = True
            self._on_full()
        self._parking.unpark()  # a no-op unless the consumer waits

    def fail(self, error: Exception) -> None:
        """End with ``error``, raised once the items queued before it are out."""
        if not self._ended:
            self._ended = True
            self._error = error
        self._parking.unpark()

    def finish(self) -> None:
        """End cleanly: ``StopAsyncIteration`` once the queued items are out."""
        self._ended = True
        self._parking.unpark()

    def close(self) -> None:
        """End at once; queued items are dropped."""
        self._items.clear()
        self._ended = True
        self._error = None
        self._parking.unpark()

    # -- the consumer's side --------------------------------------------------------------------

    def __aiter__(self) -> AsyncChannel[T]:
        return self

    async def __anext__(self) -> T:
        items = self._items
        if items and not self.paused:
            self._burst -= 1
            if self._burst:
                return items.popleft()  # the hot path: the rest of one read's items
            self._burst = _BURST
            await self._parking.checkpoint()  # let the host's other tasks run
        while not items:
            if self._ended:
                error, self._error = self._error, None
                if error is not None:
                    raise error
                raise StopAsyncIteration
            self._burst = _BURST
            await self._parking.park()
        item = items.popleft()
        if self.paused and len(items) <= self._low:
            self.paused = False
            self._on_drained()
        return item
