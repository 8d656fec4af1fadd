"""The sans-IO Responses API accumulator: named ``MessageEvent`` in, typed events out.

Protocol facts it relies on (OpenAI API reference, "Streaming" of the Responses API): named
events (``event: response.output_text.delta`` ...), each ``data`` a JSON object whose ``type``
repeats the event name; ``response.completed`` (or ``.incomplete``) ends the stream,
``response.failed`` and ``error`` report failures.

No I/O here (no socket, loop or clock), like ``reactsse.openai.chat``.
"""

from __future__ import annotations

from typing import Any

from reactsse.openai.payload import (
    api_error_from_payload,
    as_dict,
    as_int,
    as_str,
    decode_json,
    error_json,
    usage_from,
    warn_incomplete,
)
from reactsse.openai.types import (
    ResponseCompleted,
    ResponseFunctionCall,
    ResponseFunctionCallArgumentsDelta,
    ResponseResult,
    ResponseStreamEvent,
    ResponseTextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from reactsse.sse import MessageEvent

__all__ = ["ResponsesAccumulator"]


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
            raise api_error_from_payload(error_json(event.data), event="error")
        payload = decode_json(event)
        # The event name is normally repeated as "type"; servers that send only ``data:`` lines
        # (event type "message") still work by falling back on it.
        kind = event.type if event.type != "message" else as_str(payload.get("type")) or ""
        if kind == "error":
            raise api_error_from_payload(payload, event="error")
        if kind.startswith("response.") and isinstance(payload.get("response"), dict):
            self._take_response(payload["response"])
        if kind == "response.output_text.delta":
            text = as_str(payload.get("delta")) or ""
            self._text.append(text)
            return [
                ResponseTextDelta(
                    text,
                    as_str(payload.get("item_id")),
                    as_int(payload.get("output_index")),
                    as_int(payload.get("content_index")),
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
            response = as_dict(payload.get("response"))
            error = response.get("error")
            raise api_error_from_payload(
                error if isinstance(error, dict) else {"message": "the response failed"},
                event="response.failed",
            )
        if kind in ("response.completed", "response.incomplete"):
            self._done = True
            return [ResponseCompleted(self.result)]
        return []

    def _take_response(self, response: dict[str, Any]) -> None:
        self._id = as_str(response.get("id")) or self._id
        self._model = as_str(response.get("model")) or self._model
        self._status = as_str(response.get("status")) or self._status
        self._usage = usage_from(response.get("usage")) or self._usage
        details = as_dict(response.get("incomplete_details"))
        self._incomplete_reason = as_str(details.get("reason")) or self._incomplete_reason

    def _take_item(self, payload: dict[str, Any], *, done: bool) -> ResponseFunctionCall | None:
        item = as_dict(payload.get("item"))
        if item.get("type") != "function_call":
            return None
        index = as_int(payload.get("output_index"))
        item_id = as_str(item.get("id"))
        call_id = as_str(item.get("call_id")) or item_id or ""
        name = as_str(item.get("name")) or ""
        if not done:
            self._calls[index] = (item_id, call_id, name, [])
            return None
        pieces = self._calls.get(index, (item_id, call_id, name, []))[3]
        # The done item carries the full arguments; prefer it over our concatenation.
        arguments = as_str(item.get("arguments"))
        call = ToolCall(index, call_id, name, "".join(pieces) if arguments is None else arguments)
        self._complete_calls[index] = call
        return ResponseFunctionCall(item_id, call)

    def _arguments_delta(self, payload: dict[str, Any]) -> ResponseFunctionCallArgumentsDelta:
        index = as_int(payload.get("output_index"))
        item_id = as_str(payload.get("item_id"))
        if index not in self._calls:
            self._calls[index] = (item_id, item_id or "", "", [])
        _, call_id, name, pieces = self._calls[index]
        piece = as_str(payload.get("delta")) or ""
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
            warn_incomplete("the Responses API stream ended without response.completed")
        return self.result
