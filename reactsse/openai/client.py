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

import collections
import contextlib
import json
import os
import ssl
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

from reactsse.errors import (
    APIError,
    ContentTypeError,
    HTTPStatusError,
    IncompleteStreamWarning,
    ReactSSEError,
    RemoteProtocolError,
)
from reactsse.eventsource import EventSource, Trace
from reactsse.http import parse_url
from reactsse.loop import LoopInterface
from reactsse.sse import MessageEvent

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


@dataclass(slots=True)
class ChatDelta:
    """What one chat-completion chunk says about one choice (or, for the usage chunk, only usage).

    Deltas are created per token, so they are slotted dataclasses rather than frozen ones
    (a frozen dataclass costs about four times as much to create); treat them as read-only.

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
        if data == _DONE or (len(data) < 16 and data.strip() == _DONE):
            # The sentinel; surrounding whitespace tolerated (openai-python uses startswith).
            self._done = True
            return []
        if not data or data.isspace():
            # An empty data field (``data:`` + blank line) carries nothing: skip it, the way
            # keep-alive comments are skipped (issue openai/openai-python#2722).
            return []
        try:
            chunk = _decode_json(event)
        except RemoteProtocolError:
            if "\n" not in data:
                raise
            # Some servers (vLLM and LocalAI samples, issue #25 of the ecosystem survey) end
            # each event with a single LF, so a conforming decoder joins several chunks into
            # one event's data, one JSON document per line. Take them one by one; a data
            # field that is neither (e.g. a bad pretty-printed object) still raises.
            return self._feed_lines(event)
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

    def _feed_lines(self, event: MessageEvent) -> list[ChatDelta]:
        lines = [line for line in event.data.split("\n") if line.strip()]
        try:
            for line in lines:
                if line.strip() != _DONE:
                    _decode_json(event._replace(data=line))
        except RemoteProtocolError:
            raise RemoteProtocolError(
                f"event {event.type!r} carries data that is not JSON: {event.data[:200]!r}"
            ) from None
        deltas: list[ChatDelta] = []
        for line in lines:
            deltas.extend(self.feed(event._replace(data=line)))
        return deltas

    def _feed_choice(
        self, choice: dict[str, Any], chunk_id: str | None, model: str | None
    ) -> ChatDelta:
        delta = choice.get("delta")
        if type(delta) is dict and len(delta) == 1 and choice.get("finish_reason") is None:
            # The fast path: nearly every chunk is {"delta": {"content": "<token>"}}.
            content = delta.get("content")
            index = choice.get("index", 0)
            if type(content) is str and type(index) is int:
                state = self._choices.get(index)
                if state is None:
                    state = self._choices[index] = _ChoiceState(index)
                if content:
                    state.content.append(content)
                return ChatDelta(index, None, content, None, None, (), None, None, chunk_id, model)
        return self._feed_choice_fully(choice, chunk_id, model)

    def _feed_choice_fully(
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


# --------------------------------------------------------------------------- the client

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Reasoning models may think for minutes before the first byte; the openai SDK waits 600 s too.
_DEFAULT_READ_TIMEOUT = 600.0

_D = TypeVar("_D")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)


class _Accumulator(Protocol[_D, _R_co]):
    """What ``ChatAccumulator`` and ``ResponsesAccumulator`` have in common."""

    @property
    def done(self) -> bool: ...

    def feed(self, event: MessageEvent) -> list[_D]: ...

    def finish(self) -> _R_co: ...


def _error_message_from_body(body: str) -> str | None:
    """The ``message`` of an OpenAI error body (``{"error": {"message": ...}}``), if any."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    error = value.get("error", value)
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        return _str(error.get("message"))
    return None


class StreamHandle(Generic[_D, _R]):
    """One streaming request running on a loop (what ``stream_chat``/``stream_responses`` return).

    ``close()`` aborts it at any moment: the connection is released at once and no callback is
    called afterwards. ``result`` is the assembled result once ``on_done`` was called, else
    ``None``; ``done`` tells whether the stream has finished (by success, error or ``close()``).
    """

    def __init__(
        self,
        client: OpenAIClient,
        path: str,
        payload: dict[str, Any],
        accumulator: _Accumulator[_D, _R],
        *,
        loop: LoopInterface | None,
        on_item: Callable[[_D], object],
        on_done: Callable[[_R], object] | None,
        on_error: Callable[[Exception], object] | None,
    ) -> None:
        self._client = client
        self._accumulator = accumulator
        self._on_item = on_item
        self._on_done = on_done
        self._on_error = on_error
        self._finished = False
        self._result: _R | None = None
        self._source = client._open(path, payload, loop)
        self._source.on("*", self._on_event)
        self._source.on("error", self._on_source_error)
        self._source.on("close", self._on_source_close)

    @property
    def result(self) -> _R | None:
        """The assembled result, once the stream ended successfully."""
        return self._result

    @property
    def done(self) -> bool:
        """True once the stream finished: success, error or ``close()``."""
        return self._finished

    def close(self) -> None:
        """Abort now: release the connection; no callback afterwards. Idempotent."""
        self._finished = True
        self._source.close()

    def __repr__(self) -> str:
        state = "done" if self._finished else "streaming"
        return f"<StreamHandle {self._source.url} {state}>"

    def _on_event(self, event: MessageEvent) -> None:
        if self._finished:
            return
        try:
            items = self._accumulator.feed(event)
        except ReactSSEError as error:
            self._fail(self._client._translate(error))
            return
        for item in items:
            self._on_item(item)
            if self.done:  # on_item may have called close()
                return
        if self._accumulator.done:
            # The terminator arrived: finish now, whether or not the server closes the response.
            self._source.close()
            self._end()

    def _on_source_close(self) -> None:
        if not self._finished:
            self._end()

    def _end(self) -> None:
        self._finished = True
        self._result = self._accumulator.finish()
        if self._on_done is not None:
            self._on_done(self._result)

    def _on_source_error(self, error: ReactSSEError) -> None:
        # reconnect=False: every error that reaches us is fatal (the source is CLOSED).
        if not self._finished:
            self._fail(self._client._translate(error))

    def _fail(self, error: ReactSSEError) -> None:
        self._finished = True
        self._source.close()
        if self._on_error is None:
            # No handler: the error leaves the loop's run(), as an exception from any listener
            # does in ReactPHP (StreamSelectLoop has no try/catch).
            raise error
        self._on_error(error)


class StreamIterator(Generic[_D, _R]):
    """A blocking iterator over one streaming request (``chat_stream``, ``responses_stream``).

    Each ``next()`` runs a private ``StreamSelectLoop`` until an event is there, then turns
    events into typed items one at a time: the first item is handed out as soon as its event
    arrived, not after the rest of the same read was parsed. Iteration ends when the stream is
    complete; then ``result`` holds the assembled result (a ``ChatCompletion`` or
    ``ResponseResult``). Errors (``APIError``, ``HTTPStatusError``, transport errors) are raised
    from ``next()`` after every item received before them. A stream that ends without its
    terminator warns ``IncompleteStreamWarning`` at the end of iteration. Use it in a ``with``
    block or call ``close()``: that closes the connection at once.
    """

    def __init__(
        self,
        client: OpenAIClient,
        path: str,
        payload: dict[str, Any],
        accumulator: _Accumulator[_D, _R],
    ) -> None:
        from reactsse.loop import StreamSelectLoop

        self._client = client
        self._accumulator = accumulator
        self._loop = StreamSelectLoop()
        # Events as dispatched (the listener only queues them: parsing happens in __next__).
        self._events: collections.deque[MessageEvent] = collections.deque()
        self._items: collections.deque[_D] = collections.deque()
        self._error: ReactSSEError | None = None
        self._source_ended = False
        self._finished = False
        self._result: _R | None = None
        try:
            self._source = client._open(path, payload, self._loop)
        except BaseException:
            self._loop.close()
            raise
        self._source.on("*", self._on_event)
        self._source.on("error", self._on_error)
        self._source.on("close", self._on_close)

    @property
    def result(self) -> _R | None:
        """The assembled result once iteration has ended successfully, else ``None``."""
        return self._result

    def _on_event(self, event: MessageEvent) -> None:
        self._events.append(event)
        self._loop.stop()

    def _on_error(self, error: ReactSSEError) -> None:
        # reconnect=False: every error that reaches us is fatal (the source is CLOSED).
        self._error = self._client._translate(error)
        self._loop.stop()

    def _on_close(self) -> None:
        self._source_ended = True
        self._loop.stop()

    def __iter__(self) -> StreamIterator[_D, _R]:
        return self

    def __next__(self) -> _D:
        items = self._items
        while not items:
            if self._finished:
                raise StopIteration
            if self._events:
                try:
                    items.extend(self._accumulator.feed(self._events.popleft()))
                except ReactSSEError as feed_error:
                    self.close()
                    raise self._client._translate(feed_error) from None
                if self._accumulator.done:
                    # The terminator: finish now, whether or not the server ends the response.
                    self._end()
            elif self._error is not None:
                source_error, self._error = self._error, None
                self.close()
                raise source_error
            elif self._source_ended:
                self._end()
            else:
                self._loop.run()
        return items.popleft()

    def _end(self) -> None:
        self._release()
        self._result = self._accumulator.finish()

    def _release(self) -> None:
        self._finished = True
        self._events.clear()
        self._source.close()
        self._loop.close()

    def close(self) -> None:
        """Close the connection and the private loop at once; idempotent.

        Items received but not yet taken are dropped: iteration ends.
        """
        self._items.clear()
        self._release()

    def __enter__(self) -> StreamIterator[_D, _R]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Safety net for `for d in client.chat_stream(...): break` without `with`.
        with contextlib.suppress(Exception):
            self.close()


ChatStream: TypeAlias = StreamIterator[ChatDelta, ChatCompletion]
"""The blocking iterator ``OpenAIClient.chat_stream`` returns."""

ResponsesStream: TypeAlias = StreamIterator[ResponseStreamEvent, ResponseResult]
"""The blocking iterator ``OpenAIClient.responses_stream`` returns."""


Messages: TypeAlias = "str | Sequence[Mapping[str, Any]]"
"""Chat messages: a list of ``{"role": ..., "content": ...}`` objects, or one user prompt."""


class OpenAIClient:
    """A client for OpenAI-compatible streaming endpoints (OpenAI, Ollama, vLLM, llama.cpp ...).

    ``OpenAIClient(*, api_key=None, base_url=None, loop=None, headers=None,
    connect_timeout=30.0, read_timeout=600.0, ssl_context=None, trace=None)``:

    * ``api_key``: sent as ``Authorization: Bearer <key>``; ``None`` reads ``OPENAI_API_KEY``
      from the environment; no key at all (or ``""``) sends no Authorization header (local
      servers need none). The key never appears in a repr, an error message or a trace.
    * ``base_url``: ``None`` reads ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``;
      endpoint paths (``/chat/completions``, ``/responses``) are appended to it.
    * ``loop``: the loop of the callback style (``None``: ``Loop.get()`` when a stream starts);
      the blocking iterators always run a private loop.
    * ``headers``: extra request headers (e.g. ``OpenAI-Organization``).
    * ``connect_timeout``/``read_timeout``: seconds (``None`` for none), as in ``EventSource``.
    * ``trace``: a ``reactsse.eventsource.Trace`` (e.g. ``TextTrace()``) shown every layer.

    Raises ``InvalidURL`` for a base URL that cannot be requested.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        loop: LoopInterface | None = None,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float | None = 30.0,
        read_timeout: float | None = _DEFAULT_READ_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        trace: Trace | None = None,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY")
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
        base_url = base_url.rstrip("/")
        parse_url(base_url)  # fail early: InvalidURL names what is wrong
        # Name-mangled so that no generic attribute dump (vars(), a debugger's repr) shows it
        # by accident under an obvious name; never formatted into any string but the header.
        self.__api_key = api_key or None
        self.base_url = base_url
        """The base URL, without a trailing slash."""
        self._loop = loop
        self.headers = dict(headers or {})
        """Extra request headers."""
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.ssl_context = ssl_context
        self.trace = trace

    @property
    def loop(self) -> LoopInterface:
        """The loop of the callback style (``Loop.get()`` unless one was given)."""
        if self._loop is None:
            from reactsse.loop import Loop

            return Loop.get()
        return self._loop

    @property
    def has_api_key(self) -> bool:
        """Whether a key will be sent (the key itself is not readable)."""
        return self.__api_key is not None

    def __repr__(self) -> str:
        key = "set" if self.__api_key is not None else "none"
        return f"<OpenAIClient base_url={self.base_url!r} api_key={key}>"

    # -- building requests and translating errors -------------------------------------------

    def _open(self, path: str, payload: dict[str, Any], loop: LoopInterface | None) -> EventSource:
        return EventSource(
            self.base_url + path,
            loop=loop if loop is not None else self.loop,
            method="POST",
            headers=self._request_headers(),
            json=payload,
            # One-shot: a POST that generated tokens is never replayed (and never re-billed).
            reconnect=False,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            ssl_context=self.ssl_context,
            trace=self.trace,
        )

    def _request_headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers.items())
        if self.__api_key is not None:
            headers.append(("Authorization", f"Bearer {self.__api_key}"))
        return headers

    def _scrub(self, text: str) -> str:
        # Some servers echo the key they rejected; it must not reach our messages.
        key = self.__api_key
        return text.replace(key, "<redacted>") if key else text

    def _translate(self, error: ReactSSEError) -> ReactSSEError:
        """Put the server's own explanation into a status error's text; scrub the key."""
        if isinstance(error, HTTPStatusError):
            body = self._scrub(error.body)
            explanation = _error_message_from_body(body)
            if explanation is None and not isinstance(error, ContentTypeError):
                explanation = " ".join(body.split())[:200] or None
            message = f"HTTP {error.status} {error.reason}".rstrip() + f" from {error.url}"
            if isinstance(error, ContentTypeError):
                content_type = next((v for k, v in error.headers if k == "content-type"), "")
                message += f": expected text/event-stream, got {content_type or 'no Content-Type'}"
            if explanation:
                message += f": {explanation}"
            translated = type(error)(
                self._scrub(message),
                url=error.url,
                status=error.status,
                reason=error.reason,
                headers=error.headers,
                body=body,
            )
            translated.__cause__ = error
            return translated
        if isinstance(error, APIError) and self.__api_key and self.__api_key in error.message:
            return APIError(
                self._scrub(error.message),
                type=error.type,
                code=error.code,
                param=error.param,
                event=error.event,
            )
        return error

    @staticmethod
    def _chat_payload(
        messages: Messages,
        model: str,
        tools: Sequence[Mapping[str, Any]] | None,
        include_usage: bool,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        payload: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        if include_usage:
            payload["stream_options"] = {"include_usage": True}
        if tools:
            payload["tools"] = list(tools)
        payload.update(extra or {})
        return payload

    @staticmethod
    def _responses_payload(
        input: str | Sequence[Mapping[str, Any]],
        model: str,
        instructions: str | None,
        tools: Sequence[Mapping[str, Any]] | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
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

    # -- Chat Completions -------------------------------------------------------------------

    def stream_chat(
        self,
        messages: Messages,
        *,
        model: str,
        on_delta: Callable[[ChatDelta], object],
        on_done: Callable[[ChatCompletion], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        include_usage: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> StreamHandle[ChatDelta, ChatCompletion]:
        """Stream a chat completion on the loop (callback style); returns a ``StreamHandle``.

        ``POST {base_url}/chat/completions`` with ``"stream": true`` (and
        ``stream_options.include_usage`` unless ``include_usage=False``); ``tools`` and any
        ``extra`` body fields (``temperature``, ``max_tokens`` ...) are added to the body.
        Later, from the loop: ``on_delta(ChatDelta)`` per delta, then ``on_done(ChatCompletion)``
        once, or ``on_error(error)`` once: ``APIError`` (an error inside the stream),
        ``HTTPStatusError`` (non-2xx; its text carries the server's message),
        ``ContentTypeError``, ``RemoteProtocolError``, a ``TransportError`` or a ``Timeout``.
        Without ``on_error`` the error is raised out of the loop's ``run()``. A stream that
        ends without ``[DONE]`` warns ``IncompleteStreamWarning`` and still calls ``on_done``.
        Raises ``InvalidURL``/``TypeError`` (unserialisable body) at once.
        """
        payload = self._chat_payload(messages, model, tools, include_usage, extra)
        return StreamHandle(
            self,
            "/chat/completions",
            payload,
            ChatAccumulator(),
            loop=self._loop,
            on_item=on_delta,
            on_done=on_done,
            on_error=on_error,
        )

    def chat_stream(
        self,
        messages: Messages,
        *,
        model: str,
        tools: Sequence[Mapping[str, Any]] | None = None,
        include_usage: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatStream:
        """Stream a chat completion, blocking: ``for delta in client.chat_stream(...)``.

        Same request and errors as ``stream_chat``; returns a ``StreamIterator`` of
        ``ChatDelta`` whose ``result`` is the ``ChatCompletion`` once iteration ends.
        """
        payload = self._chat_payload(messages, model, tools, include_usage, extra)
        return StreamIterator(self, "/chat/completions", payload, ChatAccumulator())

    # -- Responses API ----------------------------------------------------------------------

    def stream_responses(
        self,
        input: str | Sequence[Mapping[str, Any]],
        *,
        model: str,
        on_event: Callable[[ResponseStreamEvent], object],
        on_done: Callable[[ResponseResult], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> StreamHandle[ResponseStreamEvent, ResponseResult]:
        """Stream a Responses API answer on the loop (callback style); returns a ``StreamHandle``.

        ``POST {base_url}/responses`` with ``"stream": true``, ``input`` (a prompt or a list of
        input items), ``instructions``, ``tools`` and ``extra`` body fields. Later:
        ``on_event`` per typed event (``ResponseTextDelta``,
        ``ResponseFunctionCallArgumentsDelta``, ``ResponseFunctionCall``,
        ``ResponseCompleted``), then ``on_done(ResponseResult)``, or ``on_error`` as in
        ``stream_chat`` (``response.failed`` and ``error`` events raise ``APIError``).
        """
        payload = self._responses_payload(input, model, instructions, tools, extra)
        return StreamHandle(
            self,
            "/responses",
            payload,
            ResponsesAccumulator(),
            loop=self._loop,
            on_item=on_event,
            on_done=on_done,
            on_error=on_error,
        )

    def responses_stream(
        self,
        input: str | Sequence[Mapping[str, Any]],
        *,
        model: str,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ResponsesStream:
        """Stream a Responses API answer, blocking: ``for event in client.responses_stream(...)``.

        Same request and errors as ``stream_responses``; ``result`` is the ``ResponseResult``
        once iteration ends.
        """
        payload = self._responses_payload(input, model, instructions, tools, extra)
        return StreamIterator(self, "/responses", payload, ResponsesAccumulator())
