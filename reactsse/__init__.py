"""reactsse: Server-Sent Events through a faithful Python port of the ReactPHP event loop.

This module only re-exports the public names; each lives in the module that documents it:
``reactsse.loop`` (the ReactPHP loop), ``reactsse.sse`` (the sans-IO decoder and encoder),
``reactsse.http`` (sans-IO HTTP/1.1 on h11), ``reactsse.connector`` (TCP and TLS on any loop),
``reactsse.eventsource`` (the client), ``reactsse.openai`` (LLM streams), ``reactsse.server``
(an SSE server of any app), ``reactsse.mock`` (its built-in OpenAI-compatible apps) and
``reactsse.errors``. The names are imported on first use (see ``_HOMES``), so that importing
one layer loads that layer alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactsse import errors
from reactsse._lazy import lazy_exports
from reactsse._version import __version__
from reactsse.errors import *  # noqa: F403 - every exception, listed once in errors.__all__

if TYPE_CHECKING:
    from reactsse.eventsource import (
        EventIterator,
        EventSource,
        EventSourceOptions,
        ReadyState,
        TextTrace,
        Trace,
        connect,
    )
    from reactsse.loop import Loop, LoopInterface, StreamSelectLoop, TimerInterface
    from reactsse.openai import OpenAIClient
    from reactsse.sse import EventStreamDecoder, MessageEvent, encode_comment, encode_event

# Where each name lives. A name is imported on first use (PEP 562), so that importing one layer,
# "import reactsse.sse" say, loads that layer alone: the sans-IO decoder brings no socket,
# thread or loop with it.
_HOMES = {
    "EventIterator": "reactsse.eventsource",
    "EventSource": "reactsse.eventsource",
    "EventSourceOptions": "reactsse.eventsource",
    "ReadyState": "reactsse.eventsource",
    "TextTrace": "reactsse.eventsource",
    "Trace": "reactsse.eventsource",
    "connect": "reactsse.eventsource",
    "Loop": "reactsse.loop",
    "LoopInterface": "reactsse.loop",
    "StreamSelectLoop": "reactsse.loop",
    "TimerInterface": "reactsse.loop",
    "OpenAIClient": "reactsse.openai",
    "EventStreamDecoder": "reactsse.sse",
    "MessageEvent": "reactsse.sse",
    "encode_comment": "reactsse.sse",
    "encode_event": "reactsse.sse",
}


if not TYPE_CHECKING:  # a type checker reads the imports above, and flags any other name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)

__all__ = [
    "EventIterator",
    "EventSource",
    "EventSourceOptions",
    "EventStreamDecoder",
    "Loop",
    "LoopInterface",
    "MessageEvent",
    "OpenAIClient",
    "ReadyState",
    "StreamSelectLoop",
    "TextTrace",
    "TimerInterface",
    "Trace",
    "__version__",
    "connect",
    "encode_comment",
    "encode_event",
]
__all__ += errors.__all__
