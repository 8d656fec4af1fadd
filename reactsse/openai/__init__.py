"""OpenAI-style token streams: Chat Completions, text completions and the Responses API, over
reactsse's SSE client.

Two layers, one module each:

* **Accumulators** (``ChatAccumulator`` in ``chat``, ``CompletionAccumulator`` in
  ``completions``, ``ResponsesAccumulator`` in ``responses``):
  pure logic, no I/O. Feed them ``reactsse.sse.MessageEvent`` objects; they return typed deltas
  (``types``), raise ``APIError`` for an error the server put inside the stream, and
  ``finish()`` returns the assembled result. The blocking iterator, the loop callbacks and the
  async client (``reactsse.aio.AsyncOpenAIClient``) all drive these same classes.
* **``OpenAIClient``** (``client``): builds the POST request (``request``), opens a one-shot
  stream with ``reactsse.eventsource`` and hands it to a ``StreamHandle`` or a
  ``StreamIterator`` (``streams``) that feeds the accumulator.

A stream that ends without its terminator warns ``IncompleteStreamWarning`` (never hangs);
servers seen in the wild (vLLM, llama.cpp, LocalAI) sometimes omit ``[DONE]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactsse._lazy import lazy_exports
from reactsse.openai import types
from reactsse.openai.chat import ChatAccumulator
from reactsse.openai.completions import CompletionAccumulator
from reactsse.openai.request import ChatOptions, CompletionOptions, ResponsesOptions
from reactsse.openai.responses import ResponsesAccumulator
from reactsse.openai.types import *  # noqa: F403 - the typed values, listed once in types.__all__

if TYPE_CHECKING:
    from reactsse.openai.client import OpenAIClient
    from reactsse.openai.streams import (
        ChatStream,
        CompletionStream,
        ResponsesStream,
        StreamHandle,
        StreamIterator,
    )

# The accumulators and types above are pure, and imported at once; the client and its streams
# (the event source, the loop, sockets) only when first used, so that importing an accumulator
# loads no I/O.
if not TYPE_CHECKING:  # a type checker reads the imports above, and flags any other name
    __getattr__, __dir__ = lazy_exports(
        __name__,
        globals(),
        {
            "OpenAIClient": "reactsse.openai.client",
            "ChatStream": "reactsse.openai.streams",
            "CompletionStream": "reactsse.openai.streams",
            "ResponsesStream": "reactsse.openai.streams",
            "StreamHandle": "reactsse.openai.streams",
            "StreamIterator": "reactsse.openai.streams",
        },
    )

__all__ = [
    "ChatAccumulator",
    "ChatOptions",
    "ChatStream",
    "CompletionAccumulator",
    "CompletionOptions",
    "CompletionStream",
    "OpenAIClient",
    "ResponsesAccumulator",
    "ResponsesOptions",
    "ResponsesStream",
    "StreamHandle",
    "StreamIterator",
]
__all__ += types.__all__
