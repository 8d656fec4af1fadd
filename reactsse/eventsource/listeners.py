"""The listeners of an ``EventSource``: ``Emitter`` (its ``on`` API) over ``Listeners`` (one
``dict`` from event name to listeners).

Registration is copy-on-write: an emission in progress iterates over the list it started with,
so listeners added or removed meanwhile take effect for the next event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload

from reactsse.errors import ReactSSEError
from reactsse.sse import MessageEvent

__all__ = ["BatchListener", "Emitter", "Listeners"]

# The source's own events: message events of these types reach only "*" listeners.
RESERVED = frozenset({"open", "error", "close", "*"})

BatchListener = Callable[[list[MessageEvent]], object]
ErrorListener = Callable[[ReactSSEError], object]
MessageListener = Callable[[MessageEvent], object]


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


class Emitter:
    """The listener API of ``EventSource`` (the emitter of clue/reactphp-eventsource).

    The subclass emits: it reads ``self._listeners`` and calls ``self._run_done_callbacks()``
    once, when it reaches its end.
    """

    def __init__(self) -> None:
        self._listeners = Listeners()
        self._done_callbacks: list[Callable[[], object]] = []

    @overload
    def on(self, event: Literal["open", "close"], listener: Callable[[], object]) -> None: ...

    @overload
    def on(self, event: Literal["error"], listener: ErrorListener) -> None: ...

    @overload
    def on(self, event: str, listener: MessageListener) -> None: ...

    def on(self, event: str, listener: Callable[..., object]) -> None:
        """Call ``listener`` for ``event``; adding the same listener twice calls it twice.

        * ``"open"``: ``listener()`` when a stream opens (each reconnect too).
        * ``"message"`` or any event type: ``listener(event)`` with a ``MessageEvent`` whose
          ``type`` is that name. ``"*"``: every ``MessageEvent``, whatever its type. The types
          ``open``, ``error`` and ``close`` reach only ``"*"`` listeners (the names are taken).
        * ``"error"``: ``listener(error)`` with a ``ReactSSEError``. When ``ready_state`` is
          CONNECTING the source reconnects after it; when CLOSED the error was fatal.
        * ``"close"``: ``listener()`` once, when the source closes by itself (204, fatal error,
          a stream that may not reconnect ended); never after ``close()``.

        Listeners added or removed while events are emitted take effect for the next event.
        """
        self._listeners.add(event, listener)

    def remove_listener(self, event: str, listener: Callable[..., object]) -> None:
        """Remove one registration of ``listener`` for ``event``; an unknown pair is ignored."""
        self._listeners.remove(event, listener)

    def on_batch(self, listener: BatchListener) -> None:
        """Call ``listener(events)`` with every ``MessageEvent``, a whole socket read at a time.

        A batch listener is an ``"*"`` listener that takes lists: each event reaches the typed
        listeners of its type, then the ``"*"`` and batch listeners in registration order. While
        nothing but batch listeners would receive a message event, each gets one call per read
        with all of that read's events (the fast path of ``connect()``). Otherwise each gets one
        call per event with a one-element list, so a ``close()`` from any listener stops the
        rest of the read from reaching the listeners after it, exactly as for ``"*"``.
        """
        self._listeners.add("*", Batch(listener))

    def remove_batch_listener(self, listener: BatchListener) -> None:
        """Remove one registration of a batch ``listener``; an unknown one is ignored."""
        self._listeners.remove("*", Batch(listener))

    def add_done_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, when the source reaches CLOSED, whatever closed it.

        Unlike the ``"close"`` event this also runs after ``close()``, and after the final
        ``error``/``close`` listeners; it is for the owner of a source (``connect()``'s iterator
        ends with it). On a source already CLOSED it is never called.
        """
        self._done_callbacks.append(callback)

    def _run_done_callbacks(self) -> None:
        callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            callback()
