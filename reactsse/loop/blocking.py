"""``BlockingIterator``: a plain iterator over what listeners on a private loop produce.

Scripts want ``for event in stream:`` with no loop in sight. The way to give them that on an
event loop is to own a private loop and run it only inside ``next()``: the listeners queue what
arrives and stop the loop, ``next()`` hands the queue out, and runs the loop again when it is
empty. ReactPHP's ``React\\Async\\await()`` (reactphp/async) blocks the same way, by running
the loop until a promise settles.

Ordering guarantees, which both ``connect()`` and the OpenAI streams rely on:

* everything pushed before a ``fail(error)`` is handed out first; then the error is raised once;
  then iteration ends;
* one ``stop()`` per batch: ``push`` stops the loop only when the queue was empty, and
  ``stop()`` ends ``run()`` after the current iteration, so the rest of one socket read's items
  are queued in that same iteration;
* ``close()`` (also from ``with`` and, as a safety net, from ``__del__``) runs ``on_close`` once
  (it closes the connection) and closes the loop; iteration ends at once.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from reactsse.loop.interface import LoopInterface

__all__ = ["BlockingIterator"]

T = TypeVar("T")


class BlockingIterator(Iterator[T]):
    """Items pushed by listeners on ``loop``, handed out by ``next()``, which runs the loop.

    ``loop`` belongs to the iterator from now on: ``close()`` closes it (if it has ``close``).
    """

    def __init__(self, loop: LoopInterface, on_close: Callable[[], object]) -> None:
        self._loop = loop
        self._on_close: Callable[[], object] | None = on_close
        self._items: collections.deque[T] = collections.deque()
        self._error: Exception | None = None
        self._ended = False  # finish() or fail() was called: no more items will come
        self._woken = False  # a push, fail or finish happened since the loop was last run

    # -- the listeners' side ------------------------------------------------------------------

    def push(self, item: T) -> None:
        """Queue ``item``; the first item of a batch stops the loop."""
        items = self._items
        if not items:
            self._woken = True
            self._loop.stop()
        items.append(item)

    def push_all(self, new: Iterable[T]) -> None:
        """``push`` for each of ``new``, in one call (one socket read's items)."""
        items = self._items
        if not items:
            self._woken = True
            self._loop.stop()
        items.extend(new)

    def fail(self, error: Exception) -> None:
        """End with ``error``, raised by ``next()`` once the items queued before it are out."""
        if not self._ended:
            self._ended = True
            self._error = error
        self._woken = True
        self._loop.stop()

    def finish(self) -> None:
        """End cleanly: ``next()`` raises ``StopIteration`` once the queued items are out."""
        self._ended = True
        self._woken = True
        self._loop.stop()

    # -- the script's side --------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """True once ``finish()``, ``fail()`` or ``close()`` was called."""
        return self._ended

    def __iter__(self) -> BlockingIterator[T]:
        return self

    def __next__(self) -> T:
        items = self._items
        if items:
            return items.popleft()  # the hot path: the rest of one read's items
        while not items:
            if self._ended:
                self.close()
                error, self._error = self._error, None
                if error is not None:
                    raise error
                raise StopIteration
            self._woken = False
            self._loop.run()
            if not self._woken and not items and not self._ended:
                # run() returned by itself: nothing is left that could ever push an item.
                self.close()
                raise RuntimeError("the private loop ran out of work before the stream ended")
        return items.popleft()

    def close(self) -> None:
        """Run ``on_close`` once and close the private loop; queued items are dropped."""
        self._items.clear()
        self._ended = True
        on_close, self._on_close = self._on_close, None
        if on_close is None:
            return
        try:
            on_close()
        finally:
            close = getattr(self._loop, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> BlockingIterator[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()  # however the block is left

    def __del__(self) -> None:
        # A safety net for `for item in it: break` without `with`: the socket goes with it.
        with contextlib.suppress(Exception):
            self.close()
