"""reactsse inside async programs: the ReactPHP-style loop hosted by an anyio event loop.

``AnyioLoop`` is a ``LoopInterface`` whose iterations run in a task of a running asyncio or
trio program (through anyio), so ``EventSource``, the server and the OpenAI client run there
unchanged. ``aconnect()`` is ``connect()`` for async code, and ``AsyncOpenAIClient`` the async
OpenAI streams; both run on one ``AnyioLoop`` shared by the streams of the running host. This
package is the only one that imports anyio; it sits above ``reactsse.eventsource`` and
``reactsse.openai``.
"""

from __future__ import annotations

from reactsse.aio.connect import AsyncEventStream, aconnect
from reactsse.aio.loop import AnyioLoop
from reactsse.aio.openai import (
    AsyncChatStream,
    AsyncCompletionStream,
    AsyncOpenAIClient,
    AsyncResponsesStream,
    AsyncStream,
)
from reactsse.aio.runner import run
from reactsse.aio.shared import hold_shared_loop

__all__ = [
    "AnyioLoop",
    "AsyncChatStream",
    "AsyncCompletionStream",
    "AsyncEventStream",
    "AsyncOpenAIClient",
    "AsyncResponsesStream",
    "AsyncStream",
    "aconnect",
    "hold_shared_loop",
    "run",
]
