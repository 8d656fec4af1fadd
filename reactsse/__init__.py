"""reactsse: Server-Sent Events through a faithful Python port of the ReactPHP event loop.

This module only re-exports the public names; each lives in the module that documents it:
``reactsse.loop`` (the ReactPHP loop), ``reactsse.sse`` (the sans-IO decoder and encoder),
``reactsse.http`` (sans-IO HTTP/1.1 on h11), ``reactsse.connector`` (TCP and TLS on any loop),
``reactsse.eventsource`` (the client), ``reactsse.openai`` (LLM streams), ``reactsse.server``
(an SSE server of any app), ``reactsse.mock`` (its built-in OpenAI-compatible apps) and
``reactsse.errors``.
"""

from __future__ import annotations

from reactsse._version import __version__
from reactsse.errors import (
    APIError,
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    ContentTypeError,
    EventTimeout,
    EventTooLarge,
    HeadTimeout,
    HTTPStatusError,
    IncompleteStreamWarning,
    InvalidURL,
    LimitExceeded,
    LocalProtocolError,
    ReactSSEError,
    ReadTimeout,
    RemoteProtocolError,
    Timeout,
    TLSError,
    TooManyRedirects,
    TransportError,
)
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

__all__ = [
    "APIError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ContentTypeError",
    "EventIterator",
    "EventSource",
    "EventSourceOptions",
    "EventStreamDecoder",
    "EventTimeout",
    "EventTooLarge",
    "HTTPStatusError",
    "HeadTimeout",
    "IncompleteStreamWarning",
    "InvalidURL",
    "LimitExceeded",
    "LocalProtocolError",
    "Loop",
    "LoopInterface",
    "MessageEvent",
    "OpenAIClient",
    "ReactSSEError",
    "ReadTimeout",
    "ReadyState",
    "RemoteProtocolError",
    "StreamSelectLoop",
    "TLSError",
    "TextTrace",
    "Timeout",
    "TimerInterface",
    "TooManyRedirects",
    "Trace",
    "TransportError",
    "__version__",
    "connect",
    "encode_comment",
    "encode_event",
]
