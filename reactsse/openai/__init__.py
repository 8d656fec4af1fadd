"""OpenAI-style token streams (the implementation is in ``reactsse.openai.client``)."""

from __future__ import annotations

from reactsse.openai.client import (
    ChatAccumulator,
    ChatChoice,
    ChatCompletion,
    ChatDelta,
    ChatStream,
    Messages,
    OpenAIClient,
    ResponseCompleted,
    ResponseFunctionCall,
    ResponseFunctionCallArgumentsDelta,
    ResponseResult,
    ResponsesAccumulator,
    ResponsesStream,
    ResponseStreamEvent,
    ResponseTextDelta,
    StreamHandle,
    StreamIterator,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "ChatAccumulator",
    "ChatChoice",
    "ChatCompletion",
    "ChatDelta",
    "ChatStream",
    "Messages",
    "OpenAIClient",
    "ResponseCompleted",
    "ResponseFunctionCall",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseResult",
    "ResponseStreamEvent",
    "ResponseTextDelta",
    "ResponsesAccumulator",
    "ResponsesStream",
    "StreamHandle",
    "StreamIterator",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]
