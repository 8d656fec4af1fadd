"""The typed values of OpenAI-style streams: deltas as they arrive, results once assembled.

The module has two parts, as the values have two lives:

* **Deltas** (``ToolCallDelta``, ``ChatDelta``, ``ResponseTextDelta``,
  ``ResponseFunctionCallArgumentsDelta``, ``CompletionDelta``) are made per token, on the hot
  path, so they are slotted dataclasses rather than frozen ones, and the accumulators build
  them positionally: their field order is part of the API.
* **Results** (``ChatCompletion``, ``ResponseResult``, ``Completion`` and what they hold, and
  the complete calls and the last event of a Responses stream) are made once a stream, or once
  a call, so they are frozen.

Within each part, what several endpoints share comes first, then each endpoint's own in one
order: Chat Completions, the Responses API, then the legacy text completions, which reuse the
shapes of chat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatDelta",
    "Completion",
    "CompletionChoice",
    "CompletionDelta",
    "Messages",
    "ResponseCompleted",
    "ResponseFunctionCall",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseResult",
    "ResponseStreamEvent",
    "ResponseTextDelta",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

# ------------------------------------------------------ deltas: one per token


@dataclass(slots=True)
class ToolCallDelta:
    """One fragment of a tool call as it streams in.

    ``index`` says which call of the choice it belongs to (Chat Completions) or the output index
    (Responses API); ``id`` and ``name`` are set on the first fragment only; ``arguments`` is the
    piece of the JSON arguments string this fragment adds (may be ``""``).
    """

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(slots=True)
class ChatDelta:
    """What one chat-completion chunk says about one choice (or, for the usage chunk, only usage).

    Deltas are created per token, so they are slotted dataclasses rather than frozen ones (a
    frozen dataclass sets each field through ``object.__setattr__``); treat them as read-only.

    ``content`` is the text to print (``None`` when the chunk has none); ``reasoning`` is the
    ``reasoning_content``/``reasoning`` text some servers (vLLM, DeepSeek, Ollama) stream;
    ``tool_calls`` are the fragments in this chunk; ``finish_reason`` is set on the choice's last
    chunk; ``usage`` only on the final usage chunk (then ``choice_index`` is -1).
    """

    choice_index: int
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None


@dataclass(slots=True)
class ResponseTextDelta:
    """``response.output_text.delta``: a piece of the answer's text."""

    text: str
    item_id: str | None
    output_index: int
    content_index: int


@dataclass(slots=True)
class ResponseFunctionCallArgumentsDelta:
    """``response.function_call_arguments.delta``: a piece of a function call's arguments.

    ``call`` is the fragment as a ``ToolCallDelta`` (``index`` is the output index; ``id`` and
    ``name`` are set on the first fragment of the call, from ``response.output_item.added``).
    """

    item_id: str | None
    call: ToolCallDelta


@dataclass(slots=True)
class CompletionDelta:
    """What one ``text_completion`` chunk (``POST /v1/completions``) says about one choice.

    ``text`` is the piece of text to print (``""`` on the last chunk of a choice, which
    carries ``finish_reason``); ``usage`` is set only on the final usage chunk (then
    ``choice_index`` is -1).
    """

    choice_index: int
    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None


# ---------------------------------------------------- results: assembled once


class _Choice(Protocol):
    @property
    def finish_reason(self) -> str | None: ...


_C = TypeVar("_C", bound=_Choice)


@dataclass(frozen=True)
class _ChoicesResult(Generic[_C]):
    """What an assembled chat or a text completion stream both have (the two endpoints frame
    their choices alike)."""

    id: str | None
    model: str | None
    choices: tuple[_C, ...]
    usage: Usage | None
    done: bool

    @property
    def finish_reason(self) -> str | None:
        """The finish reason of choice 0 (``"stop"``, ``"length"``, ``"tool_calls"``...)."""
        return self.choices[0].finish_reason if self.choices else None


@dataclass(frozen=True)
class Usage:
    """Token counts. Chat's ``prompt_tokens``/``completion_tokens`` are stored as
    ``input_tokens``/``output_tokens`` (the Responses API names); both spellings are readable."""

    input_tokens: int
    output_tokens: int
    total_tokens: int

    @property
    def prompt_tokens(self) -> int:
        """Chat Completions' name for ``input_tokens``."""
        return self.input_tokens

    @property
    def completion_tokens(self) -> int:
        """Chat Completions' name for ``output_tokens``."""
        return self.output_tokens


@dataclass(frozen=True)
class ToolCall:
    """A complete tool (function) call: ``arguments`` is the concatenated JSON text, unparsed."""

    index: int
    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Any:
        """Return ``json.loads(arguments)`` (``{}`` for empty arguments).

        Raises ``json.JSONDecodeError`` if the model wrote invalid JSON.
        """
        return json.loads(self.arguments) if self.arguments else {}


@dataclass(frozen=True)
class ChatChoice:
    """One choice, assembled: the whole text and the complete tool calls, in index order."""

    index: int
    role: str | None
    content: str
    reasoning: str
    refusal: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None


@dataclass(frozen=True)
class ChatCompletion(_ChoicesResult[ChatChoice]):
    """The assembled stream: ``id``, ``model``, ``choices``, ``usage``, and ``done`` (False when
    the stream ended without ``[DONE]``).

    ``content``, ``tool_calls`` and ``finish_reason`` are those of choice 0 (the only one unless
    the request asked for ``n`` > 1); an empty stream has no choices and empty values.
    """

    @property
    def content(self) -> str:
        """The text of choice 0 (``""`` if there is none)."""
        return self.choices[0].content if self.choices else ""

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The complete tool calls of choice 0."""
        return self.choices[0].tool_calls if self.choices else ()


@dataclass(frozen=True)
class ResponseFunctionCall:
    """``response.output_item.done`` for a ``function_call`` item: the complete call."""

    item_id: str | None
    call: ToolCall


@dataclass(frozen=True)
class ResponseResult:
    """The assembled Responses API stream.

    ``status`` is the server's (``"completed"``, ``"incomplete"``) or ``None`` if the stream ended
    early; ``incomplete_reason`` explains an ``"incomplete"`` status (e.g.
    ``"max_output_tokens"``); ``text`` is all output text; ``done`` is False when neither
    ``response.completed`` nor ``response.incomplete`` arrived.
    """

    id: str | None
    model: str | None
    status: str | None
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None
    incomplete_reason: str | None
    done: bool


@dataclass(frozen=True)
class ResponseCompleted:
    """``response.completed`` or ``response.incomplete``: the stream's last event."""

    result: ResponseResult


@dataclass(frozen=True)
class CompletionChoice:
    """One choice of a text completion, assembled."""

    index: int
    text: str
    finish_reason: str | None


@dataclass(frozen=True)
class Completion(_ChoicesResult[CompletionChoice]):
    """The assembled text-completion stream: the fields of ``ChatCompletion``, with
    ``CompletionChoice``s; ``text`` and ``finish_reason`` are those of choice 0."""

    @property
    def text(self) -> str:
        """The text of choice 0 (``""`` if there is none)."""
        return self.choices[0].text if self.choices else ""


ResponseStreamEvent: TypeAlias = (
    ResponseTextDelta
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCall
    | ResponseCompleted
)
"""What ``ResponsesAccumulator.feed`` returns: one of the four typed events."""


Messages: TypeAlias = "str | Sequence[Mapping[str, Any]]"
"""Chat messages: a list of ``{"role": ..., "content": ...}`` objects, or one user prompt."""
