"""The reconnecting Server-Sent Events client: ``EventSource`` on any loop, ``connect()``.

The shape is clue/reactphp-eventsource's, the behaviour WHATWG HTML §9.2's; docs/eventsource.md
describes both.
"""

from reactsse.eventsource.iterator import EventIterator, connect
from reactsse.eventsource.options import EventSourceOptions
from reactsse.eventsource.source import EventSource, ReadyState
from reactsse.eventsource.text_trace import TextTrace
from reactsse.eventsource.trace import Trace

__all__ = [
    "EventIterator",
    "EventSource",
    "EventSourceOptions",
    "ReadyState",
    "TextTrace",
    "Trace",
    "connect",
]
