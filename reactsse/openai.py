"""OpenAI-style token streams: Chat Completions and the Responses API, over reactsse's SSE client.

Two layers live here:

* **Accumulators** (``ChatAccumulator``, ``ResponsesAccumulator``): pure logic, no I/O. Feed them
  ``reactsse.sse.MessageEvent`` objects; they return typed deltas, raise ``APIError`` for an error
  the server put inside the stream, and ``finish()`` returns the assembled result. The blocking
  iterator, the loop callbacks and (later) the async API all drive these same classes (STYLE 13).
* **``OpenAIClient``**: builds the POST request (JSON body, ``Authorization: Bearer``), opens a
  one-shot stream with ``reactsse.eventsource`` (never reconnects: a POST that generated tokens
  must not be replayed), and feeds the accumulator.

Protocol facts this module relies on (OpenAI API reference, "Streaming"):

* Chat Completions: every event is ``data: {chunk JSON}``; ``data: [DONE]`` ends the stream; with
  ``stream_options.include_usage`` the last chunk before ``[DONE]`` has ``"choices": []`` and the
  ``usage`` object. Tool calls arrive as fragments keyed by ``index``: the first fragment carries
  ``id`` and ``function.name``, later ones append to ``function.arguments``.
* Responses API: named events (``event: response.output_text.delta`` ...), each ``data`` a JSON
  object whose ``type`` repeats the event name; ``response.completed`` (or ``.incomplete``) ends
  the stream, ``response.failed`` and ``error`` report failures.
* A stream that ends without its terminator warns ``IncompleteStreamWarning`` (never hangs);
  servers seen in the wild (vLLM, llama.cpp, LocalAI) sometimes omit ``[DONE]``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from reactsse.errors import APIError, IncompleteStreamWarning, RemoteProtocolError
from reactsse.sse import MessageEvent

__all__ = [
    "ChatAccumulator",
    "ChatChoice",
    "ChatCompletion",
    "ChatDelta",
    "ResponseCompleted",
    "ResponseFunctionCall",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseResult",
    "ResponseStreamEvent",
    "ResponseTextDelta",
    "ResponsesAccumulator",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

_DONE = "[DONE]"


# --------------------------------------------------------------------------- typed results


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
class ChatDelta:
    """What one chat-completion chunk says about one choice (or, for the usage chunk, only usage).

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
class ChatCompletion:
    """The assembled stream. ``done`` is False when the stream ended without ``[DONE]``.

    ``content``, ``tool_calls`` and ``finish_reason`` are those of choice 0 (the only one unless
    the request asked for ``n`` > 1); an empty stream has no choices and empty values.
    """

    id: str | None
    model: str | None
    choices: tuple[ChatChoice, ...]
    usage: Usage | None
    done: bool

    @property
    def content(self) -> str:
        """The text of choice 0 (``""`` if there is none)."""
        return self.choices[0].content if self.choices else ""

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The complete tool calls of choice 0."""
        return self.choices[0].tool_calls if self.choices else ()

    @property
    def finish_reason(self) -> str | None:
        """The finish reason of choice 0 (``"stop"``, ``"length"``, ``"tool_calls"``...)."""
        return self.choices[0].finish_reason if self.choices else None


# --------------------------------------------------------------------------- JSON helpers
# The payloads are foreign JSON: read each field defensively and never trust its type.


def _decode_json(event: MessageEvent) -> dict[str, Any]:
    try:
        value = json.loads(event.data)
    except ValueError as exc:
        raise RemoteProtocolError(
            f"event {event.type!r} carries data that is not JSON: {event.data[:200]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise RemoteProtocolError(
            f"event {event.type!r} carries JSON that is not an object: {event.data[:200]!r}"
        )
    return value


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object, default: int = 0) -> int:
    # bool is an int subclass; a JSON true is not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _usage(value: object) -> Usage | None:
    if not isinstance(value, dict):
        return None
    # Chat Completions says prompt/completion, the Responses API says input/output.
    input_tokens = _int(value.get("input_tokens", value.get("prompt_tokens")))
    output_tokens = _int(value.get("output_tokens", value.get("completion_tokens")))
    total = _int(value.get("total_tokens"), input_tokens + output_tokens)
    return Usage(input_tokens, output_tokens, total)


def _api_error_from_payload(payload: Mapping[str, Any], *, event: str = "message") -> APIError:
    """Build an ``APIError`` from an OpenAI error object.

    Takes either the wrapper ``{"error": {"message": ..., "type": ..., "code": ...}}`` or the
    inner object itself (the Responses API's ``error`` event and ``response.error``). Missing
    fields become ``None``; a missing message becomes a generic one naming ``event``.
    """
    inner = payload.get("error", payload)
    if not isinstance(inner, Mapping):
        # Some servers send {"error": "text"}.
        return APIError(str(inner), event=event)
    code = inner.get("code")
    return APIError(
        _str(inner.get("message")) or f"the server reported an error (event {event!r})",
        type=_str(inner.get("type")),
        code=code if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        param=_str(inner.get("param")),
        event=event,
    )


def _warn_incomplete(what: str) -> None:
    # stacklevel 3: point at the caller of finish() (the iterator or the user), not at us.
    warnings.warn(what, IncompleteStreamWarning, stacklevel=3)


# --------------------------------------------------------------------------- chat completions


@dataclass
class _ChoiceState:
    index: int
    role: str | None = None
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    # tool-call index -> [id, name, argument pieces]
    calls: dict[int, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)

    def freeze(self) -> ChatChoice:
        calls = tuple(
            ToolCall(index, "".join(ids), "".join(names), "".join(arguments))
            for index, (ids, names, arguments) in sorted(self.calls.items())
        )
        return ChatChoice(
            self.index,
            self.role,
            "".join(self.content),
            "".join(self.reasoning),
            "".join(self.refusal),
            calls,
            self.finish_reason,
        )


class ChatAccumulator:
    """Turns the events of a Chat Completions stream into ``ChatDelta`` objects, and assembles them.

    Sans-IO: ``feed`` each ``MessageEvent`` as it is dispatched; call ``finish()`` when the
    connection ends. Events after ``[DONE]`` are ignored (some servers repeat it). Tool-call
    fragments are joined by ``index`` (OpenAI sends ``id``/``name`` once; llama.cpp and some
    proxies repeat them on every fragment, so a repeated identical id/name is not appended twice).
    """

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceState] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Usage | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was received."""
        return self._done

    def feed(self, event: MessageEvent) -> list[ChatDelta]:
        """Take one event; return the deltas it carries (often one, ``[]`` for nothing useful).

        Raises ``APIError`` for ``event: error`` or a ``{"error": ...}`` payload, and
        ``RemoteProtocolError`` for data that is neither ``[DONE]`` nor a JSON object.
        """
        if self._done:
            return []
        data = event.data
        if event.type == "error":
            raise _api_error_from_payload(_try_json(data), event="error")
        if data.strip() == _DONE:
            # Exact sentinel; surrounding whitespace tolerated (openai-python uses startswith).
            self._done = True
            return []
        if not data.strip():
            # An empty data field (``data:`` + blank line) carries nothing: skip it, the way
            # keep-alive comments are skipped (issue openai/openai-python#2722).
            return []
        chunk = _decode_json(event)
        if "error" in chunk and chunk["error"] is not None:
            raise _api_error_from_payload(chunk, event=event.type)
        chunk_id = _str(chunk.get("id"))
        model = _str(chunk.get("model"))
        self._id = self._id or chunk_id
        self._model = self._model or model
        deltas: list[ChatDelta] = []
        for raw_choice in _list(chunk.get("choices")):
            choice = _dict(raw_choice)
            deltas.append(self._feed_choice(choice, chunk_id, model))
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
            deltas.append(ChatDelta(-1, usage=usage, id=chunk_id, model=model))
        return deltas

    def _feed_choice(
        self, choice: dict[str, Any], chunk_id: str | None, model: str | None
    ) -> ChatDelta:
        index = _int(choice.get("index"))
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState(index)
        delta = _dict(choice.get("delta"))
        role = _str(delta.get("role"))
        content = _str(delta.get("content"))
        reasoning = _str(delta.get("reasoning_content")) or _str(delta.get("reasoning"))
        refusal = _str(delta.get("refusal"))
        finish_reason = _str(choice.get("finish_reason"))
        if role is not None:
            state.role = role
        if content:
            state.content.append(content)
        if reasoning:
            state.reasoning.append(reasoning)
        if refusal:
            state.refusal.append(refusal)
        if finish_reason is not None:
            state.finish_reason = finish_reason
        fragments: list[ToolCallDelta] = []
        for position, raw_call in enumerate(_list(delta.get("tool_calls"))):
            call = _dict(raw_call)
            function = _dict(call.get("function"))
            fragment = ToolCallDelta(
                # A missing index (seen from some proxies) means "the next call in order".
                _int(call.get("index"), position),
                _str(call.get("id")),
                _str(function.get("name")),
                _str(function.get("arguments")) or "",
            )
            fragments.append(fragment)
            ids, names, arguments = state.calls.setdefault(fragment.index, ([], [], []))
            if fragment.id and "".join(ids) != fragment.id:
                ids.append(fragment.id)
            if fragment.name and "".join(names) != fragment.name:
                names.append(fragment.name)
            arguments.append(fragment.arguments)
        return ChatDelta(
            index,
            role=role,
            content=content,
            reasoning=reasoning,
            refusal=refusal,
            tool_calls=tuple(fragments),
            finish_reason=finish_reason,
            id=chunk_id,
            model=model,
        )

    @property
    def completion(self) -> ChatCompletion:
        """What was received so far, assembled (does not warn; see ``finish``)."""
        return ChatCompletion(
            self._id,
            self._model,
            tuple(state.freeze() for _, state in sorted(self._choices.items())),
            self._usage,
            self._done,
        )

    def finish(self) -> ChatCompletion:
        """Call when the connection ended: returns the assembled completion.

        Warns ``IncompleteStreamWarning`` if ``[DONE]`` never came.
        """
        if not self._done:
            _warn_incomplete("the chat completion stream ended without data: [DONE]")
        return self.completion


def _try_json(data: str) -> dict[str, Any]:
    # For ``event: error``: the data should be JSON, but a plain-text message must still surface.
    try:
        value = json.loads(data)
    except ValueError:
        return {"message": data.strip() or None}
    if isinstance(value, dict):
        return value
    return {"message": str(value)}


# --------------------------------------------------------------------------- Responses API


@dataclass(frozen=True)
class ResponseTextDelta:
    """``response.output_text.delta``: a piece of the answer's text."""

    text: str
    item_id: str | None
    output_index: int
    content_index: int


@dataclass(frozen=True)
class ResponseFunctionCallArgumentsDelta:
    """``response.function_call_arguments.delta``: a piece of a function call's arguments.

    ``call`` is the fragment as a ``ToolCallDelta`` (``index`` is the output index; ``id`` and
    ``name`` are set on the first fragment of the call, from ``response.output_item.added``).
    """

    item_id: str | None
    call: ToolCallDelta


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


ResponseStreamEvent: TypeAlias = (
    ResponseTextDelta
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCall
    | ResponseCompleted
)
"""What ``ResponsesAccumulator.feed`` returns: one of the four typed events."""


class ResponsesAccumulator:
    """Turns the named events of a Responses API stream into typed events, and assembles them.

    Sans-IO, like ``ChatAccumulator``. Lifecycle events (``response.created``,
    ``response.in_progress``, ``response.content_part.*`` ...) update the state and yield nothing;
    unknown event types are ignored (the API adds new ones). ``response.failed`` and ``error``
    raise ``APIError``.
    """

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._status: str | None = None
        self._incomplete_reason: str | None = None
        self._text: list[str] = []
        self._usage: Usage | None = None
        # output index -> [item id, call id, name, argument pieces]
        self._calls: dict[int, tuple[str | None, str, str, list[str]]] = {}
        self._complete_calls: dict[int, ToolCall] = {}
        self._announced: set[int] = set()
        self._done = False

    @property
    def done(self) -> bool:
        """True once ``response.completed`` or ``response.incomplete`` was received."""
        return self._done

    def feed(self, event: MessageEvent) -> list[ResponseStreamEvent]:
        """Take one event; return the typed events it carries (``[]`` for lifecycle events).

        Raises ``APIError`` for ``error`` and ``response.failed`` events, and
        ``RemoteProtocolError`` for data that is not a JSON object.
        """
        if self._done or not event.data.strip():
            return []
        if event.type == "error":
            raise _api_error_from_payload(_try_json(event.data), event="error")
        payload = _decode_json(event)
        # The event name is normally repeated as "type"; servers that send only ``data:`` lines
        # (event type "message") still work by falling back on it.
        kind = event.type if event.type != "message" else _str(payload.get("type")) or ""
        if kind == "error":
            raise _api_error_from_payload(payload, event="error")
        if kind.startswith("response.") and isinstance(payload.get("response"), dict):
            self._take_response(payload["response"])
        if kind == "response.output_text.delta":
            text = _str(payload.get("delta")) or ""
            self._text.append(text)
            return [
                ResponseTextDelta(
                    text,
                    _str(payload.get("item_id")),
                    _int(payload.get("output_index")),
                    _int(payload.get("content_index")),
                )
            ]
        if kind == "response.output_item.added":
            self._take_item(payload, done=False)
            return []
        if kind == "response.function_call_arguments.delta":
            return [self._arguments_delta(payload)]
        if kind == "response.output_item.done":
            call = self._take_item(payload, done=True)
            return [] if call is None else [call]
        if kind == "response.failed":
            response = _dict(payload.get("response"))
            error = response.get("error")
            raise _api_error_from_payload(
                error if isinstance(error, dict) else {"message": "the response failed"},
                event="response.failed",
            )
        if kind in ("response.completed", "response.incomplete"):
            self._done = True
            return [ResponseCompleted(self.result)]
        return []

    def _take_response(self, response: dict[str, Any]) -> None:
        self._id = _str(response.get("id")) or self._id
        self._model = _str(response.get("model")) or self._model
        self._status = _str(response.get("status")) or self._status
        self._usage = _usage(response.get("usage")) or self._usage
        details = _dict(response.get("incomplete_details"))
        self._incomplete_reason = _str(details.get("reason")) or self._incomplete_reason

    def _take_item(self, payload: dict[str, Any], *, done: bool) -> ResponseFunctionCall | None:
        item = _dict(payload.get("item"))
        if item.get("type") != "function_call":
            return None
        index = _int(payload.get("output_index"))
        item_id = _str(item.get("id"))
        call_id = _str(item.get("call_id")) or item_id or ""
        name = _str(item.get("name")) or ""
        if not done:
            self._calls[index] = (item_id, call_id, name, [])
            return None
        pieces = self._calls.get(index, (item_id, call_id, name, []))[3]
        # The done item carries the full arguments; prefer it over our concatenation.
        arguments = _str(item.get("arguments"))
        call = ToolCall(index, call_id, name, "".join(pieces) if arguments is None else arguments)
        self._complete_calls[index] = call
        return ResponseFunctionCall(item_id, call)

    def _arguments_delta(self, payload: dict[str, Any]) -> ResponseFunctionCallArgumentsDelta:
        index = _int(payload.get("output_index"))
        item_id = _str(payload.get("item_id"))
        if index not in self._calls:
            self._calls[index] = (item_id, item_id or "", "", [])
        _, call_id, name, pieces = self._calls[index]
        piece = _str(payload.get("delta")) or ""
        pieces.append(piece)
        first = index not in self._announced
        self._announced.add(index)
        fragment = ToolCallDelta(
            index, call_id if first else None, (name or None) if first else None, piece
        )
        return ResponseFunctionCallArgumentsDelta(item_id, fragment)

    @property
    def result(self) -> ResponseResult:
        """What was received so far, assembled (does not warn; see ``finish``)."""
        calls = dict(self._complete_calls)
        for index, (_, call_id, name, pieces) in self._calls.items():
            calls.setdefault(index, ToolCall(index, call_id, name, "".join(pieces)))
        return ResponseResult(
            self._id,
            self._model,
            self._status,
            "".join(self._text),
            tuple(call for _, call in sorted(calls.items())),
            self._usage,
            self._incomplete_reason,
            self._done,
        )

    def finish(self) -> ResponseResult:
        """Call when the connection ended: returns the assembled result.

        Warns ``IncompleteStreamWarning`` if no ``response.completed``/``.incomplete`` came.
        """
        if not self._done:
            _warn_incomplete("the Responses API stream ended without response.completed")
        return self.result
