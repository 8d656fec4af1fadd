"""``Delivery``: calling an ``EventSource``'s listeners, from its ``Listeners`` registry.

``events`` is on the hot path (one call per socket read that completed events); the source
keeps ``open`` true exactly while it is OPEN, so a listener that calls ``close()`` stops the
delivery at once, and the rest of the read reaches no listener. ``emit`` is for the source's
own events (``open``, ``error``, ``close``), which are rare.
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.eventsource.listeners import Listeners
from reactsse.sse import MessageEvent

__all__ = ["Delivery"]


class Delivery:
    """Calls the listeners of ``listeners``; ``open`` is kept by the source (see the module)."""

    __slots__ = ("_listeners", "open")

    def __init__(self, listeners: Listeners) -> None:
        self._listeners = listeners
        self.open = False
        """True exactly while the source is OPEN: message events are delivered only then."""

    def events(self, events: list[MessageEvent]) -> None:
        """Call the listeners of each event; stop at once once ``open`` is false.

        The hot path: one dict lookup per event, and ``open`` is checked after each call (a
        listener may call ``close()``), not before. While only batch listeners would receive
        the events, each takes the whole read in one call (``Emitter.on_batch``).
        """
        listeners = self._listeners
        batch = listeners.batch_only
        if batch is not None:
            for batch_listener in batch:
                batch_listener(events)
                if not self.open:
                    return
            return
        by_type = listeners.messages
        for event in events:
            typed = by_type.get(event.type)
            if typed is not None:
                for listener in typed:
                    listener(event)
                    if not self.open:
                        return
            for listener in listeners.every:
                listener(event)
                if not self.open:
                    return

    def emit(
        self, name: str, args: tuple[object, ...], go_on: Callable[[], bool] | None = None
    ) -> None:
        """Call each listener of the source's own event ``name`` with ``args``, as long as
        ``go_on()`` (default: ``open``) is true before it (a listener may close the source)."""
        for listener in self._listeners.get(name):
            if not (self.open if go_on is None else go_on()):
                return
            listener(*args)
