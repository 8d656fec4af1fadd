"""The requests of the streaming endpoints (``/chat/completions``, ``/completions``,
``/responses``): each a ``StreamRequest`` (path, JSON body, and the accumulator that reads the
answer), so that each kind is spelled once for the sync and the async client.

All ask for ``"stream": true``; ``extra`` fields (``temperature``, ``max_tokens`` ...) are
added last, so they may override anything (OpenAI API reference, "Create chat completion" and
"Create a model response").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from reactsse.openai.chat import ChatAccumulator
from reactsse.openai.completions import CompletionAccumulator
from reactsse.openai.responses import ResponsesAccumulator
from reactsse.openai.types import Messages

__all__ = [
    "StreamRequest",
    "chat_request",
    "completion_request",
    "responses_request",
]

_A_co = TypeVar("_A_co", covariant=True)


class StreamRequest(NamedTuple, Generic[_A_co]):
    """One streaming request: POST ``body`` to ``path`` (below the base URL); ``accumulator``
    reads the answer (a fresh one per request)."""

    path: str
    body: dict[str, Any]
    accumulator: _A_co


def chat_request(
    messages: Messages,
    model: str,
    tools: Sequence[Mapping[str, Any]] | None,
    include_usage: bool,
    extra: Mapping[str, Any] | None,
) -> StreamRequest[ChatAccumulator]:
    """A streaming chat completion; a prompt string is one user message."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    payload: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    if tools:
        payload["tools"] = list(tools)
    payload.update(extra or {})
    return StreamRequest("/chat/completions", payload, ChatAccumulator())


def responses_request(
    input: str | Sequence[Mapping[str, Any]],
    model: str,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]] | None,
    extra: Mapping[str, Any] | None,
) -> StreamRequest[ResponsesAccumulator]:
    """A streaming Responses API request."""
    payload: dict[str, Any] = {
        "model": model,
        "input": input if isinstance(input, str) else list(input),
        "stream": True,
    }
    if instructions is not None:
        payload["instructions"] = instructions
    if tools:
        payload["tools"] = list(tools)
    payload.update(extra or {})
    return StreamRequest("/responses", payload, ResponsesAccumulator())


def completion_request(
    prompt: str, model: str, include_usage: bool, extra: Mapping[str, Any] | None
) -> StreamRequest[CompletionAccumulator]:
    """A streaming text completion (``POST /v1/completions``)."""
    payload: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    payload.update(extra or {})
    return StreamRequest("/completions", payload, CompletionAccumulator())
