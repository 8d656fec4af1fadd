"""``FutureTickQueue``: the FIFO of ``future_tick`` listeners (src/Tick/FutureTickQueue.php).

Internal building block shared by every loop implementation. Invariant: ``tick()`` runs only the
listeners queued when it starts; listeners queued meanwhile wait for the next call, so a tick that
queues a tick cannot starve timers and I/O (``testRecursiveFutureTick``: tick-1, stream, tick-2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["FutureTickQueue"]


class FutureTickQueue:
    """A FIFO of zero-argument listeners, run in batches by ``tick()``."""

    __slots__ = ("add", "queue")

    def __init__(self) -> None:
        #: The listeners, oldest first. Only this class changes it; the loop's hot path tests
        #: its truth, which is cheaper than a call to ``is_empty()``.
        self.queue: deque[Callable[[], object]] = deque()
        #: ``add(listener)`` queues ``listener`` (already checked to be callable by the loop).
        #: It is the deque's own ``append``: one C call on the hot path of ``future_tick``.
        self.add: Callable[[Callable[[], object]], None] = self.queue.append

    def tick(self) -> None:
        """Call the listeners queued when this call starts, in FIFO order, with no argument.

        An exception from a listener propagates; the listeners after it stay queued.
        """
        queue = self.queue
        popleft = queue.popleft
        # Fast path: a counted for-loop over popleft() keeps the per-tick cost to two C calls.
        for _ in range(len(queue)):
            popleft()()

    def is_empty(self) -> bool:
        """True when no listener is queued."""
        return not self.queue

    def __len__(self) -> int:
        return len(self.queue)

    def clear(self) -> None:
        """Drop every queued listener."""
        self.queue.clear()
