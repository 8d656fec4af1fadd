"""The reconnecting Server-Sent Events client: ``EventSource`` on any loop, ``connect()``.

The shape is clue/reactphp-eventsource's, the behaviour WHATWG HTML §9.2's; docs/eventsource.md
describes both.
"""

from reactsse.eventsource.source import (
    EventIterator,
    EventSource,
    ReadyState,
    TextTrace,
    Trace,
    connect,
)

__all__ = [
    "EventIterator",
    "EventSource",
    "ReadyState",
    "TextTrace",
    "Trace",
    "connect",
]
