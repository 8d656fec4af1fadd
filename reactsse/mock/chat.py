"""Internal: the logic of ``reactsse.server``'s built-in apps, with no socket, clock or loop.

An app turns a parsed request (:class:`_Request`) into a reply: either a whole JSON/text body
(:class:`_BodyReply`) or an event stream (:class:`_EventStream`), a generator of
:class:`_Event` objects, each with the time (seconds after the stream started) at which it is
due. ``server.py`` owns the sockets, the clock and the pacing; this module owns what is said.

Invariants:

* Everything here is deterministic: the same request to a server with the same options gives
  the same tokens, ids (a per-server counter) and events; only ``created`` is the wall clock.
* The answer text comes from ``reactsse/data/alice.txt`` (public domain). ``_tokenize`` splits a
  text into tokens whose concatenation is the text again (property-tested).
* Stream shapes follow what api.openai.com sends: chat chunks ``chat.completion.chunk`` ending
  with ``data: [DONE]``; the Responses API as ``event: <type>`` + ``data: <json>`` with
  increasing ``sequence_number``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

JSONObject = dict[str, Any]

MODEL_ID = "reactsse-alice-1"
"""The model the server lists under ``GET /v1/models``; any model name is accepted and echoed."""

_CREATED = 1_732_492_800  # the listed model's "created" (a fixed date: output stays deterministic)
_FINGERPRINT = "fp_reactsse"


@dataclass(frozen=True)
class ServerOptions:
    """How a :class:`reactsse.server.SSEServer` behaves. Every field has a sensible default.

    * ``rate``: tokens per second for the OpenAI-compatible streams; ``None`` or ``0`` sends as
      fast as the client reads (with backpressure).
    * ``chunk_tokens``: tokens per streamed event (at least 1).
    * ``reply_tokens``: ``None`` answers with one paragraph of the bundled text, chosen from the
      prompt; an integer answers with exactly that many tokens (the text repeated as needed).
    * ``keepalive_interval``: seconds of silence on a stream after which a ``: keep-alive``
      comment is sent; ``None`` or ``0`` disables it.
    * ``max_client_buffer``: bytes the server may hold for one client that does not read fast
      enough; beyond it the client is dropped (and logged).
    * ``high_water``: bytes buffered for a client above which an as-fast-as-possible stream
      waits for the client to drain.
    * ``api_key``: when set, the ``/v1`` endpoints answer 401 unless ``Authorization: Bearer
      <api_key>`` is sent; when ``None`` any bearer (or none) is accepted.
    * ``fault``: injected faults for every stream, same syntax as the ``X-Reactsse-Fault``
      header (see :func:`_parse_fault`), e.g. ``"error-after=3"``.
    * ``events_interval``/``events_retry_ms``: defaults of ``/events``' ``interval`` and
      ``retry`` query parameters.
    * ``max_request_body``: largest request body accepted (413 beyond).
    * ``send_buffer_size``: if set, ``SO_SNDBUF`` of accepted sockets (tests use it to make a
      slow client visible quickly).
    * ``accept_batch``: most connections accepted per readiness of the listening socket.
    * ``idle_timeout``: seconds a connection may take to send a complete request (counted from
      accept, or from the end of the previous response); then it is closed. ``None``/``0``: never.
    * ``send_timeout``: seconds an as-fast-as-possible stream may wait for a client that does
      not read at all before the client is dropped. ``None``/``0``: wait forever.
    """

    rate: float | None = None
    chunk_tokens: int = 1
    reply_tokens: int | None = None
    keepalive_interval: float | None = 15.0
    max_client_buffer: int = 1 << 20
    high_water: int = 64 * 1024
    api_key: str | None = None
    fault: str | None = None
    events_interval: float = 1.0
    events_retry_ms: int = 1000
    max_request_body: int = 1 << 20
    send_buffer_size: int | None = None
    accept_batch: int = 16
    idle_timeout: float | None = 60.0
    send_timeout: float | None = 30.0

    def __post_init__(self) -> None:
        if self.rate is not None and (self.rate < 0 or math.isnan(self.rate)):
            raise ValueError(f"rate must be >= 0 tokens/s or None, not {self.rate!r}")
        if self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be >= 1, not {self.chunk_tokens!r}")
        if self.reply_tokens is not None and self.reply_tokens < 0:
            raise ValueError(f"reply_tokens must be >= 0 or None, not {self.reply_tokens!r}")
        if self.max_client_buffer < 1 or self.high_water < 1:
            raise ValueError("max_client_buffer and high_water must be positive")
        if self.fault is not None:
            _parse_fault(self.fault)  # fail early, at construction


# --- the bundled text and the tokenizer --------------------------------------------------------

# A token is optional leading whitespace plus either a run of word characters or one other
# character; a run of whitespace at the very end is its own token. Every character belongs to
# exactly one token, so "".join(_tokenize(s)) == s.
_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


def _tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens (words and punctuation with their leading whitespace)."""
    return _TOKEN_RE.findall(text)


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[str, ...]:
    text = resources.files("reactsse").joinpath("data/alice.txt").read_text(encoding="utf-8")
    return tuple(p.strip() for p in text.split("\n\n") if p.strip())


@lru_cache(maxsize=1)
def _all_tokens() -> tuple[str, ...]:
    return tuple(_tokenize("\n\n".join(_paragraphs())))


def _answer_tokens(prompt: str, reply_tokens: int | None) -> list[str]:
    """The deterministic answer: a paragraph picked by the prompt's CRC-32, or N tokens."""
    if reply_tokens is None:
        paragraphs = _paragraphs()
        return _tokenize(paragraphs[zlib.crc32(prompt.encode("utf-8")) % len(paragraphs)])
    tokens = _all_tokens()
    out: list[str] = []
    while len(out) < reply_tokens:
        if out:
            out.append("\n\n")  # the text repeats as a new paragraph
        out.extend(tokens[: reply_tokens - len(out)])
    return out[:reply_tokens]


# --- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fault:
    """Injected faults: the ``*_after`` fields count events; ``status`` is an HTTP status."""

    error_after: int | None = None
    disconnect_after: int | None = None
    stall_after: int | None = None
    status: int | None = None

    def merged(self, other: _Fault) -> _Fault:
        """``other``'s settings win where set (a request header over the server's default)."""
        return _Fault(
            **{
                f.name: getattr(other, f.name)
                if getattr(other, f.name) is not None
                else getattr(self, f.name)
                for f in dataclasses.fields(self)
            }
        )


_FAULT_KEYS = ("error-after", "disconnect-after", "stall-after", "status")


def _parse_fault(spec: str) -> _Fault:
    """Parse ``"error-after=3, disconnect-after=5, status=429"`` (``,`` or ``;`` separated).

    ``error-after=N``: after N events the stream sends an error event and ends.
    ``disconnect-after=N``: after N events the TCP connection is closed without ending the
    response. ``stall-after=N``: after N events nothing more is sent but keep-alive comments
    (for clients' event timeouts). ``status=CODE``: answer CODE (400..599) with an OpenAI-style
    error body instead. Raises ``ValueError`` for anything else.
    """
    values: dict[str, int] = {}
    for item in re.split(r"[,;]", spec):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in _FAULT_KEYS:
            raise ValueError(
                f"unknown fault {item!r}; use "
                + ", ".join(f"{k}=N" for k in _FAULT_KEYS).replace("status=N", "status=CODE")
            )
        try:
            number = int(raw.strip())
        except ValueError:
            raise ValueError(f"fault {key} needs an integer, not {raw.strip()!r}") from None
        if number < 0 or (key == "status" and not 400 <= number <= 599):
            raise ValueError(f"fault {key}={number} is out of range")
        values[key.replace("-", "_")] = number
    return _Fault(**values)


# --- requests and replies -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """A complete HTTP request as the server received it (header names lower-case)."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.target.partition("?")[2], keep_blank_values=True))


@dataclass(frozen=True)
class _BodyReply:
    """A whole response: status, extra headers and a body (a JSON object is serialised)."""

    status: int
    body: JSONObject | str | None
    headers: tuple[tuple[str, str], ...] = ()

    def encoded(self) -> tuple[bytes, str]:
        """The body bytes and their Content-Type."""
        if self.body is None:
            return b"", ""
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return _dumps(self.body).encode("utf-8"), "application/json"


class _Event(NamedTuple):
    """One server-sent event, due ``at`` seconds after its stream started.

    A NamedTuple rather than a frozen dataclass: one is built per token, and a frozen
    dataclass's ``__init__`` costs several times more (measured with bench/server.py).
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    at: float = 0.0


class _EventStream:
    """A stream reply: :meth:`events` yields the events; the server paces and writes them.

    ``fault`` says when to inject an error (:meth:`error_event`) or drop the connection;
    ``timed`` is True when events carry real schedule times (then a client that falls behind
    is dropped at the buffer limit instead of being waited for).
    """

    fault: _Fault = _Fault()
    timed: bool = False

    def events(self) -> Iterator[_Event]:
        raise NotImplementedError

    def error_event(self, message: str) -> _Event:
        """The event that reports an injected error mid-stream."""
        return _Event(data=message, event="error")


_Reply = _BodyReply | _EventStream


# Compact separators as OpenAI sends them; non-ASCII kept as UTF-8 like the real API. One encoder
# for all calls: json.dumps with options builds a new JSONEncoder every time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


def _openai_error(
    status: int, message: str, type_: str, *, code: str | None = None, param: str | None = None
) -> _BodyReply:
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return _BodyReply(
        status, {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


def _status_fault_reply(status: int) -> _BodyReply:
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    if status == 429:
        type_ = "rate_limit_exceeded"  # what the API sends for rate limits (code too)
        return _openai_error(status, "Injected fault: rate limit reached.", type_, code=type_)
    return _openai_error(status, f"Injected fault: status {status}.", type_)


def _pace(tokens_before: int, rate: float | None) -> float:
    """Seconds after the start at which the event ending after ``tokens_before`` tokens is due."""
    return tokens_before / rate if rate else 0.0


def _chunks(tokens: Sequence[str], size: int) -> Iterator[tuple[int, str]]:
    """(tokens emitted after this chunk, chunk text) for groups of ``size`` tokens."""
    for start in range(0, len(tokens), size):
        group = tokens[start : start + size]
        yield start + len(group), "".join(group)


def _message_text(content: object) -> str:
    """Text of a chat/Responses message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _int_param(body: JSONObject, *names: str) -> int | _BodyReply | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return _openai_error(
                400,
                f"Invalid '{name}': expected an integer >= 1, got {value!r}.",
                "invalid_request_error",
                param=name,
                code="invalid_value",
            )
        return value
    return None


# --- chat completions ---------------------------------------------------------------------------


@dataclass
class _ChatCall:
    """What a chat request asks for, validated."""

    model: str
    prompt: str
    last_user: str
    max_tokens: int | None
    include_usage: bool
    tool: JSONObject | None


def _tool_arguments(tool: JSONObject, last_user: str) -> str:
    """Deterministic JSON arguments for ``tool``'s parameter schema."""
    function = tool.get("function") or {}
    parameters = function.get("parameters") if isinstance(function, dict) else None
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    arguments: JSONObject = {}
    if isinstance(properties, dict):
        for name, schema in properties.items():
            kind = schema.get("type") if isinstance(schema, dict) else None
            enum = schema.get("enum") if isinstance(schema, dict) else None
            if isinstance(enum, list) and enum:
                arguments[name] = enum[0]
            elif kind == "integer":
                arguments[name] = 42
            elif kind == "number":
                arguments[name] = 2.5
            elif kind == "boolean":
                arguments[name] = True
            elif kind == "array":
                arguments[name] = []
            elif kind == "object":
                arguments[name] = {}
            else:
                arguments[name] = last_user[:64] or "Alice"
    return _dumps(arguments)


class _ChatStream(_EventStream):
    """``POST /v1/chat/completions`` with ``"stream": true``: chunks, usage, ``[DONE]``."""

    def __init__(
        self, call: _ChatCall, options: ServerOptions, ident: int, created: int, fault: _Fault
    ) -> None:
        self.call = call
        self.options = options
        self.id = f"chatcmpl-reactsse{ident:08d}"
        self.tool_call_id = f"call_reactsse{ident:08d}"
        self.created = created
        self.fault = fault
        self.timed = bool(options.rate)

    def _chunk(self, delta: JSONObject, finish_reason: str | None = None) -> str:
        chunk: JSONObject = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.call.model,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.call.include_usage:
            chunk["usage"] = None  # OpenAI sends "usage": null on every chunk but the last
        return _dumps(chunk)

    def events(self) -> Iterator[_Event]:
        call, rate = self.call, self.options.rate
        tokens, finish = _completion(call, self.options)
        if call.tool is not None:
            name = call.tool["function"]["name"]
            head: JSONObject = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": self.tool_call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ],
                "refusal": None,
            }
        else:
            head = {"role": "assistant", "content": "", "refusal": None}
        yield _Event(self._chunk(head))
        # The per-token chunks differ only in the delta's text: serialise the rest once and
        # splice the JSON-encoded text in (the same bytes as _chunk; a test checks it).
        marker = "\x00"
        if call.tool is not None:
            template = self._chunk(
                {"tool_calls": [{"index": 0, "function": {"arguments": marker}}]}
            )
        else:
            template = self._chunk({"content": marker})
        before, _, after = template.rpartition(_dumps(marker))  # last: after the model name
        for emitted, text in _chunks(tokens, self.options.chunk_tokens):
            yield _Event(before + _dumps(text) + after, at=_pace(emitted, rate))
        end = _pace(len(tokens), rate)
        yield _Event(self._chunk({}, finish), at=end)
        if call.include_usage:
            usage_chunk = json.loads(self._chunk({}))
            usage_chunk["choices"] = []
            usage_chunk["usage"] = _chat_usage(_count_tokens(call.prompt), len(tokens))
            yield _Event(_dumps(usage_chunk), at=end)
        yield _Event("[DONE]", at=end)

    def error_event(self, message: str) -> _Event:
        # What the API sends when a stream fails after the 200: a data-only error object.
        return _Event(
            _dumps(
                {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
            )
        )


def _count_tokens(text: str) -> int:
    return len(_tokenize(text))


def _chat_usage(prompt_tokens: int, completion_tokens: int) -> JSONObject:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(call: _ChatCall, options: ServerOptions) -> tuple[list[str], str]:
    """The completion's tokens (text, or a tool call's arguments) and its finish_reason."""
    if call.tool is not None:
        tokens = _tokenize(_tool_arguments(call.tool, call.last_user))
        natural = "tool_calls"
    else:
        tokens = _answer_tokens(call.last_user, options.reply_tokens)
        natural = "stop"
    if call.max_tokens is not None and len(tokens) > call.max_tokens:
        return tokens[: call.max_tokens], "length"
    return tokens, natural


def _parse_chat(body: JSONObject) -> _ChatCall | _BodyReply:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _openai_error(
            400, "you must provide a model parameter", "invalid_request_error", param="model"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _openai_error(
            400,
            "Missing required parameter: 'messages'.",
            "invalid_request_error",
            param="messages",
            code="missing_required_parameter",
        )
    texts: list[str] = []
    last_user = ""
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return _openai_error(
                400, "Invalid 'messages': each needs a 'role'.", "invalid_request_error",
                param="messages", code="invalid_value",
            )  # fmt: skip
        text = _message_text(message.get("content"))
        texts.append(text)
        if message["role"] == "user":
            last_user = text
    max_tokens = _int_param(body, "max_completion_tokens", "max_tokens")
    if isinstance(max_tokens, _BodyReply):
        return max_tokens
    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
    return _ChatCall(
        model=model,
        prompt="\n".join(texts),
        last_user=last_user,
        max_tokens=max_tokens,
        include_usage=include_usage,
        tool=_chosen_tool(body),
    )


def _chosen_tool(body: JSONObject) -> JSONObject | None:
    """The function tool to call: ``tool_choice``'s, else the first; None for ``"none"``."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    functions = [
        t
        for t in tools
        if isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
    ]
    choice = body.get("tool_choice")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        for tool in functions:
            if tool["function"]["name"] == wanted:
                return tool
    return functions[0]


def _chat_body(stream: _ChatStream) -> JSONObject:
    """The non-streamed ``chat.completion`` object for the same call."""
    call = stream.call
    tokens, finish = _completion(call, stream.options)
    message: JSONObject = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if call.tool is not None:
        message["tool_calls"] = [
            {
                "id": stream.tool_call_id,
                "type": "function",
                "function": {"name": call.tool["function"]["name"], "arguments": "".join(tokens)},
            }
        ]
    else:
        message["content"] = "".join(tokens)
    return {
        "id": stream.id,
        "object": "chat.completion",
        "created": stream.created,
        "model": call.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _chat_usage(_count_tokens(call.prompt), len(tokens)),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }


# --- Responses API ------------------------------------------------------------------------------


@dataclass
class _ResponsesCall:
    model: str
    prompt: str
    last_user: str
    instructions: str | None
    max_output_tokens: int | None


class _ResponsesStream(_EventStream):
    """``POST /v1/responses`` with ``"stream": true``: typed events with sequence numbers."""

    def __init__(
        self, call: _ResponsesCall, options: ServerOptions, ident: int, created: int, fault: _Fault
    ) -> None:
        self.call = call
        self.options = options
        self.id = f"resp_reactsse{ident:08d}"
        self.item_id = f"msg_reactsse{ident:08d}"
        self.created = created
        self.fault = fault
        self.timed = bool(options.rate)
        self._sequence = 0

    def tokens(self) -> tuple[list[str], bool]:
        """The answer's tokens and whether ``max_output_tokens`` cut it short."""
        tokens = _answer_tokens(self.call.last_user, self.options.reply_tokens)
        limit = self.call.max_output_tokens
        if limit is not None and len(tokens) > limit:
            return tokens[:limit], True
        return tokens, False

    def response(
        self, status: str, output: list[JSONObject], usage: JSONObject | None
    ) -> JSONObject:
        """The ``response`` object, as embedded in events and returned by a non-stream call."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": (
                {"reason": "max_output_tokens"} if status == "incomplete" else None
            ),
            "instructions": self.call.instructions,
            "max_output_tokens": self.call.max_output_tokens,
            "model": self.call.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def message_item(self, text: str, status: str) -> JSONObject:
        content = [] if status == "in_progress" else [self.text_part(text)]
        return {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    @staticmethod
    def text_part(text: str) -> JSONObject:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def usage(self, output_tokens: int) -> JSONObject:
        input_tokens = _count_tokens(self.call.prompt)
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }

    def _event(self, type_: str, at: float, **fields: Any) -> _Event:
        payload: JSONObject = {"type": type_, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return _Event(_dumps(payload), event=type_, at=at)

    def events(self) -> Iterator[_Event]:
        rate = self.options.rate
        tokens, cut = self.tokens()
        text = "".join(tokens)
        where = {"item_id": self.item_id, "output_index": 0, "content_index": 0}
        yield self._event("response.created", 0.0, response=self.response("in_progress", [], None))
        yield self._event(
            "response.in_progress", 0.0, response=self.response("in_progress", [], None)
        )
        yield self._event(
            "response.output_item.added",
            0.0,
            output_index=0,
            item=self.message_item("", "in_progress"),
        )
        yield self._event("response.content_part.added", 0.0, **where, part=self.text_part(""))
        for emitted, delta in _chunks(tokens, self.options.chunk_tokens):
            yield self._event(
                "response.output_text.delta",
                _pace(emitted, rate),
                **where,
                delta=delta,
                logprobs=[],
            )
        end = _pace(len(tokens), rate)
        status = "incomplete" if cut else "completed"
        yield self._event("response.output_text.done", end, **where, text=text, logprobs=[])
        yield self._event("response.content_part.done", end, **where, part=self.text_part(text))
        item = self.message_item(text, status)
        yield self._event("response.output_item.done", end, output_index=0, item=item)
        final = self.response(status, [item], self.usage(len(tokens)))
        yield self._event(f"response.{status}", end, response=final)

    def error_event(self, message: str) -> _Event:
        # The Responses API reports a failure after the 200 as "event: error".
        return self._event("error", 0.0, code="server_error", message=message, param=None)


def _parse_responses(body: JSONObject) -> _ResponsesCall | _BodyReply:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _openai_error(
            400, "Missing required parameter: 'model'.", "invalid_request_error", param="model",
            code="missing_required_parameter",
        )  # fmt: skip
    raw_input = body.get("input")
    texts: list[str] = []
    last_user = ""
    if isinstance(raw_input, str):
        texts.append(raw_input)
        last_user = raw_input
    elif isinstance(raw_input, list):
        for item in raw_input:
            if isinstance(item, dict):
                text = _message_text(item.get("content"))
                texts.append(text)
                if item.get("role", "user") == "user":
                    last_user = text
    else:
        return _openai_error(
            400, "Missing required parameter: 'input'.", "invalid_request_error", param="input",
            code="missing_required_parameter",
        )  # fmt: skip
    instructions = body.get("instructions")
    if not isinstance(instructions, str):
        instructions = None
    limit = _int_param(body, "max_output_tokens")
    if isinstance(limit, _BodyReply):
        return limit
    return _ResponsesCall(
        model=model,
        prompt="\n".join(([instructions] if instructions else []) + texts),
        last_user=last_user,
        instructions=instructions,
        max_output_tokens=limit,
    )


# --- /events: the numbered demo stream -----------------------------------------------------------


class _NumberedEvents(_EventStream):
    """``GET /events``: event N has ``id: N``; the first carries ``retry:``.

    With ``interval=0`` the events go as fast as the client reads (backpressure), otherwise
    they are timed (a client that falls too far behind is dropped).
    """

    def __init__(
        self, first: int, count: int | None, interval: float, retry_ms: int, fault: _Fault
    ) -> None:
        self.first = first
        self.count = count
        self.interval = interval
        self.timed = interval > 0
        self.retry_ms = retry_ms
        self.fault = fault

    def events(self) -> Iterator[_Event]:
        number = self.first
        sent = 0
        while self.count is None or number <= self.count:
            yield _Event(
                f"event {number}",
                id=str(number),
                retry=self.retry_ms if sent == 0 else None,
                at=sent * self.interval,
            )
            number += 1
            sent += 1


def _query_number(
    query: Mapping[str, str], name: str, default: float | None, *, integer: bool
) -> float | _BodyReply | None:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(int(raw)) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        return _openai_error(400, f"?{name}= needs {kind}", "invalid_request_error", param=name)
    if not math.isfinite(value) or value < 0:
        return _openai_error(400, f"?{name}= must be >= 0", "invalid_request_error", param=name)
    return value


# --- the router ---------------------------------------------------------------------------------

_ROUTES: dict[str, tuple[str, ...]] = {
    "/": ("GET",),
    "/events": ("GET",),
    "/v1/models": ("GET",),
    "/v1/chat/completions": ("POST",),
    "/v1/responses": ("POST",),
}

_INDEX = """reactsse test server
GET  /events?count=N&interval=S&drop_every=M&retry=MS   numbered events, resumes from Last-Event-ID
GET  /v1/models
POST /v1/chat/completions   (OpenAI-compatible; stream or not; tools -> a tool call)
POST /v1/responses          (OpenAI Responses API; stream or not)
Header X-Reactsse-Fault: error-after=N, disconnect-after=N, stall-after=N, status=CODE
"""


@dataclass
class _Apps:
    """All built-in apps of one server: routes a :class:`_Request` to a :data:`_Reply`.

    ``now`` gives the ``created`` timestamp (injected: this module reads no clock).
    """

    options: ServerOptions
    _counter: int = 0
    _default_fault: _Fault = field(default_factory=_Fault)

    def __post_init__(self) -> None:
        if self.options.fault:
            self._default_fault = _parse_fault(self.options.fault)

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def handle(self, request: _Request, now: float) -> _Reply:
        """Answer ``request``; never raises for bad input (that is a 4xx reply)."""
        path = request.path
        if path.startswith("/v1/models/") and request.method == "GET":
            return self._model(path.removeprefix("/v1/models/"), request)
        allowed = _ROUTES.get(path)
        if allowed is None:
            # Every error body is OpenAI's JSON shape, on /v1 and elsewhere alike.
            return _openai_error(
                404, f"Invalid URL ({request.method} {path})", "invalid_request_error"
            )
        if request.method == "OPTIONS":
            # A CORS preflight (Fetch standard, "CORS protocol"): every response also carries
            # Access-Control-Allow-Origin: *, so browser pages on any origin can use the server.
            wanted = request.headers.get("access-control-request-headers", "")
            cors = (
                ("Allow", ", ".join((*allowed, "OPTIONS"))),
                ("Access-Control-Allow-Methods", ", ".join((*allowed, "OPTIONS"))),
                ("Access-Control-Allow-Headers", wanted or "authorization, content-type"),
                ("Access-Control-Max-Age", "600"),
            )
            return _BodyReply(204, None, cors)
        if request.method not in allowed:
            error = _openai_error(
                405,
                f"Method {request.method} not allowed for {path}; use {', '.join(allowed)}.",
                "invalid_request_error",
            )
            return dataclasses.replace(error, headers=(("Allow", ", ".join(allowed)),))
        try:
            fault = self._default_fault.merged(
                _parse_fault(request.headers.get("x-reactsse-fault", ""))
            )
        except ValueError as error:
            return _openai_error(400, f"X-Reactsse-Fault: {error}", "invalid_request_error")
        if path == "/":
            return _BodyReply(200, _INDEX)
        if path == "/events":
            return self._events(request, fault)
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if fault.status is not None:
            return _status_fault_reply(fault.status)
        if path == "/v1/models":
            return _BodyReply(200, {"object": "list", "data": [self._model_object()]})
        body = _json_body(request)
        if isinstance(body, _BodyReply):
            return body
        if path == "/v1/chat/completions":
            return self._chat(body, fault, int(now))
        return self._responses(body, fault, int(now))

    def _authorize(self, request: _Request) -> _BodyReply | None:
        if self.options.api_key is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        token = token.strip()
        if token != self.options.api_key:
            shown = (
                token[:3] + "*" * max(0, len(token) - 7) + token[-4:] if len(token) > 7 else "***"
            )
            return _openai_error(
                401,
                f"Incorrect API key provided: {shown}.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        return None

    @staticmethod
    def _model_object() -> JSONObject:
        return {"id": MODEL_ID, "object": "model", "created": _CREATED, "owned_by": "reactsse"}

    def _model(self, name: str, request: _Request) -> _Reply:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if name != MODEL_ID:
            return _openai_error(
                404,
                f"The model '{name}' does not exist or you do not have access to it.",
                "invalid_request_error",
                code="model_not_found",
            )
        return _BodyReply(200, self._model_object())

    def _chat(self, body: JSONObject, fault: _Fault, created: int) -> _Reply:
        call = _parse_chat(body)
        if isinstance(call, _BodyReply):
            return call
        stream = _ChatStream(call, self.options, self._next_id(), created, fault)
        if body.get("stream") is True:
            return stream
        return _whole(_chat_body(stream), fault)

    def _responses(self, body: JSONObject, fault: _Fault, created: int) -> _Reply:
        call = _parse_responses(body)
        if isinstance(call, _BodyReply):
            return call
        stream = _ResponsesStream(call, self.options, self._next_id(), created, fault)
        if body.get("stream") is True:
            return stream
        tokens, cut = stream.tokens()
        status = "incomplete" if cut else "completed"
        item = stream.message_item("".join(tokens), status)
        return _whole(stream.response(status, [item], stream.usage(len(tokens))), fault)

    def _events(self, request: _Request, fault: _Fault) -> _Reply:
        query = request.query
        count = _query_number(query, "count", None, integer=True)
        interval = _query_number(query, "interval", self.options.events_interval, integer=False)
        drop_every = _query_number(query, "drop_every", None, integer=True)
        retry = _query_number(query, "retry", self.options.events_retry_ms, integer=True)
        for value in (count, interval, drop_every, retry):
            if isinstance(value, _BodyReply):
                return value
        assert not isinstance(count, _BodyReply) and not isinstance(interval, _BodyReply)
        assert not isinstance(drop_every, _BodyReply) and not isinstance(retry, _BodyReply)
        last = request.headers.get("last-event-id", "").strip()
        # WHATWG §9.2: the client sends the last id it saw; ids here are 1, 2, 3 ... so resume
        # after it. Anything that is not our id starts again at 1.
        first = int(last) + 1 if last.isdigit() else 1
        if count is not None and first > count:
            # WHATWG §9.2.3: a 204 tells an EventSource to stop reconnecting: nothing is left.
            return _BodyReply(204, None)
        if drop_every and fault.disconnect_after is None:
            fault = dataclasses.replace(fault, disconnect_after=int(drop_every))
        return _NumberedEvents(
            first,
            None if count is None else int(count),
            interval or 0.0,
            int(retry or 0),
            fault,
        )


def _whole(body: JSONObject, fault: _Fault) -> _Reply:
    """A non-stream reply; an ``error-after`` fault makes it a 500 (there are no events)."""
    if fault.error_after is not None:
        return _openai_error(500, "Injected fault: error.", "server_error")
    return _BodyReply(200, body)


def _json_body(request: _Request) -> JSONObject | _BodyReply:
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _openai_error(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
            "invalid_request_error",
        )
    if not isinstance(body, dict):
        return _openai_error(
            400, "The request body must be a JSON object.", "invalid_request_error"
        )
    return body
