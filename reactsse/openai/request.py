"""The requests of the streaming endpoints (``/chat/completions``, ``/completions``,
``/responses``): each a ``StreamRequest`` (path, JSON body, and the accumulator that reads the
answer), so that each kind is spelled once for the sync and the async client.

The keyword options of each kind (``ChatOptions``, ``CompletionOptions``, ``ResponsesOptions``)
are typed once here too: the client methods take them as ``**options`` (PEP 692, ``Unpack``),
so ``start_chat``, ``iter_chat`` and the async ``iter_chat`` offer the same checked keywords
without each repeating them.

All ask for ``"stream": true``; ``extra`` fields (``temperature``, ``max_tokens`` ...) are
added last, so they may override anything (OpenAI API reference, "Create chat completion" and
"Create a model response").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar

from reactsse.openai.chat import ChatAccumulator
from reactsse.openai.completions import CompletionAccumulator
from reactsse.openai.responses import ResponsesAccumulator
from reactsse.openai.types import Messages

__all__ = [
    "ChatOptions",
    "CompletionOptions",
    "ResponsesOptions",
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


class _Model(TypedDict):
    """The one required keyword of every request: a base class, so that it stays required in
    the ``total=False`` classes below without ``Required`` (in typing from Python 3.11 only)."""

    model: str


class CompletionOptions(_Model, total=False):
    """The keywords of a text completion (``iter_completion``, ``start_completion``).

    ``model`` (required); ``include_usage`` (default ``True``: ask for
    ``stream_options.include_usage``); ``extra``: more body fields (``max_tokens``,
    ``temperature`` ...), added last.
    """

    include_usage: bool
    extra: Mapping[str, Any] | None


class ChatOptions(CompletionOptions, total=False):
    """The keywords of a chat completion (``iter_chat``, ``start_chat``): those of
    ``CompletionOptions``, and ``tools``, the tool definitions the model may call."""

    tools: Sequence[Mapping[str, Any]] | None


class ResponsesOptions(_Model, total=False):
    """The keywords of a Responses API request (``iter_responses``, ``start_responses``).

    ``model`` (required); ``instructions`` (the system prompt); ``tools``; ``extra``: more body
    fields, added last.
    """

    instructions: str | None
    tools: Sequence[Mapping[str, Any]] | None
    extra: Mapping[str, Any] | None


def chat_request(
    messages: Messages,
    *,
    model: str,
    tools: Sequence[Mapping[str, Any]] | None = None,
    include_usage: bool = True,
    extra: Mapping[str, Any] | None = None,
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


_PROMPT_FORMS = "a string, a list of strings, a list of token ids (ints), or a list of such lists"


def prompt_json(prompt: object) -> str | list[Any]:
    """``prompt`` as the JSON value the completions endpoint takes: a string, or a list of
    strings, of token ids or of lists of token ids. Raises ``TypeError`` or ``ValueError``
    that names what is wrong (see ``completion_request``)."""
    if isinstance(prompt, str):
        return prompt
    items = _items(prompt, "prompt", _PROMPT_FORMS)
    first = items[0]
    if isinstance(first, str) or _is_token_id(first):
        kind = "strings" if isinstance(first, str) else "token ids (ints)"
        for index, item in enumerate(items):
            if isinstance(item, str) != isinstance(first, str) or not (
                isinstance(item, str) or _is_token_id(item)
            ):
                raise TypeError(
                    f"prompt[{index}] is {_excerpt(item)}, but prompt[0] makes prompt a list "
                    f"of {kind}: every item must be one"
                )
        return items
    if not _is_list(first):
        raise TypeError(
            f"prompt[0] is {_excerpt(first)}: a prompt list holds strings, token ids (ints) "
            "or lists of token ids"
        )
    lists = []
    for index, item in enumerate(items):
        ids = _items(item, f"prompt[{index}]", "a list of token ids (ints)")
        for position, token in enumerate(ids):
            if not _is_token_id(token):
                raise TypeError(f"prompt[{index}][{position}] is {_excerpt(token)}, not a token id")
        lists.append(ids)
    return lists


def _is_list(value: object) -> bool:
    """An iterable that may stand for a JSON array (not text, bytes or a mapping)."""
    text = (str, bytes, bytearray, memoryview)
    return isinstance(value, Iterable) and not isinstance(value, (*text, Mapping))


def _items(value: object, where: str, expected: str) -> list[Any]:
    if not _is_list(value):
        raise TypeError(f"{where} must be {expected}, not {type(value).__name__}")
    assert isinstance(value, Iterable)
    items = list(value)
    if not items:
        raise ValueError(f"{where} is empty: it must be {expected}")
    return items


def _is_token_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def responses_request(
    input: str | Sequence[Mapping[str, Any]],
    *,
    model: str,
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
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
    prompt: str | Sequence[str] | Iterable[int] | Iterable[Iterable[int]],
    *,
    model: str,
    include_usage: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> StreamRequest[CompletionAccumulator]:
    """A streaming text completion (``POST /v1/completions``).

    ``prompt`` takes the forms the endpoint takes (OpenAI API reference, "Completions"): a
    string; a list of strings, answered as one stream whose choice ``i`` answers prompt ``i``
    (``i * n`` to ``i * n + n - 1`` with ``n`` choices a prompt); or tokens: token ids, or
    lists of token ids (any iterables, read once). Raises ``TypeError`` for another form (bytes
    included: they are not token ids), naming the item that breaks it, and ``ValueError`` for
    an empty list.
    """
    payload: dict[str, Any] = {"model": model, "prompt": prompt_json(prompt), "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    payload.update(extra or {})
    return StreamRequest("/completions", payload, CompletionAccumulator())
