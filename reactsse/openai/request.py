"""The request bodies of the two streaming endpoints (``/chat/completions``, ``/responses``).

Both ask for ``"stream": true``; ``extra`` fields (``temperature``, ``max_tokens`` ...) are
added last, so they may override anything (OpenAI API reference, "Create chat completion" and
"Create a model response").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reactsse.openai.types import Messages

__all__ = ["chat_body", "completion_body", "responses_body"]


def chat_body(
    messages: Messages,
    model: str,
    tools: Sequence[Mapping[str, Any]] | None,
    include_usage: bool,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON body of a streaming chat completion; a prompt string is one user message."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    payload: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    if tools:
        payload["tools"] = list(tools)
    payload.update(extra or {})
    return payload


def responses_body(
    input: str | Sequence[Mapping[str, Any]],
    model: str,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]] | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON body of a streaming Responses API request."""
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
    return payload


def completion_body(
    prompt: str, model: str, include_usage: bool, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The JSON body of a streaming text completion (``POST /v1/completions``)."""
    payload: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    payload.update(extra or {})
    return payload
