"""The listener registry of an ``EventSource``: one ``dict`` from event name to listeners.

Registration is copy-on-write: an emission in progress iterates over the list it started with,
so listeners added or removed meanwhile take effect for the next event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reactsse.sse import MessageEvent

__all__ = ["BatchListener", "Listeners"]

# The source's own events: message events of these types reach only "*" listeners.
RESERVED = frozenset({"open", "error", "close", "*"})

BatchListener = Callable[[list[MessageEvent]], object]


@dataclass(frozen=True)
class Batch:
    """A batch listener in the ``"*"`` list: called with one-event lists when it cannot be
    called once per read (equal to another ``Batch`` of the same function, for removal)."""

    listener: BatchListener

    def __call__(self, event: MessageEvent) -> None:
        self.listener([event])


class Listeners:
    """Listeners by event name; ``"*"`` holds the every-event and batch listeners, in order.

    ``messages`` (the message-type listeners), ``every`` (the ``"*"`` list) and ``batch_only``
    are views kept up to date on each change, for the hot path of an emission: ``batch_only`` is
    the batch listeners' functions when nothing else would receive a message event (then a
    read's events go to each in one call), else ``None``.
    """

    def __init__(self) -> None:
        self._by_event: dict[str, list[Callable[..., object]]] = {}
        self.messages: dict[str, list[Callable[[MessageEvent], object]]] = {}
        self.every: list[Callable[[MessageEvent], object]] = []
        self.batch_only: list[BatchListener] | None = []

    def get(self, event: str) -> list[Callable[..., object]]:
        """The listeners of ``event`` (do not modify the list)."""
        return self._by_event.get(event, [])

    def add(self, event: str, listener: Callable[..., object]) -> None:
        """Register ``listener`` for ``event`` once more."""
        self._by_event[event] = [*self._by_event.get(event, []), listener]
        self._refresh()

    def remove(self, event: str, listener: Callable[..., object]) -> None:
        """Remove one registration of ``listener`` for ``event``; an unknown pair is ignored."""
        current = self._by_event.get(event, [])
        if listener not in current:
            return
        remaining = list(current)
        remaining.remove(listener)
        if remaining:
            self._by_event[event] = remaining
        else:
            del self._by_event[event]
        self._refresh()

    def _refresh(self) -> None:
        by_event = self._by_event
        # In place: an emission in progress holds this dict and sees new types at the next event.
        self.messages.clear()
        self.messages.update((k, v) for k, v in by_event.items() if k not in RESERVED)
        every: list[Callable[..., object]] = by_event.get("*", [])
        self.every = every
        batches = [entry.listener for entry in every if isinstance(entry, Batch)]
        alone = not self.messages and len(batches) == len(every)
        self.batch_only = batches if alone else None
