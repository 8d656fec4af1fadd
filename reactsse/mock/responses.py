"""``POST /v1/responses``: the OpenAI Responses API, streamed or whole.

A stream is ``event: <type>`` plus ``data: <json>`` per event, with ``sequence_number``
counting up from 0, as api.openai.com sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reactsse.mock.common import JSONObject, chunks, dumps, int_param, message_text, pace
from reactsse.mock.completion import CompletionStream
from reactsse.mock.options import MockOptions
from reactsse.mock.text import answer_tokens, count_tokens
from reactsse.server.app import BodyReply, Event, error_reply

__all__ = ["ResponsesCall", "ResponsesStream", "parse_responses"]


@dataclass
class ResponsesCall:
    """What a Responses request asks for, validated."""

    model: str
    prompt: str
    last_user: str
    instructions: str | None
    max_output_tokens: int | None


class ResponsesStream(CompletionStream[ResponsesCall]):
    """One response: :meth:`events` streams it, :meth:`whole` is it whole."""

    ID_PREFIX = "resp_reactsse"

    def __init__(self, call: ResponsesCall, options: MockOptions, ident: int, created: int) -> None:
        super().__init__(call, options, ident, created)
        self.item_id = f"msg_reactsse{ident:08d}"
        self._sequence = 0

    def tokens(self) -> tuple[list[str], bool]:
        """The answer's tokens and whether ``max_output_tokens`` cut it short."""
        tokens = answer_tokens(self.call.last_user, self.options.reply_tokens)
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
        input_tokens = count_tokens(self.call.prompt)
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }

    def whole(self) -> JSONObject:
        """The non-streamed ``response`` object."""
        tokens, cut = self.tokens()
        status = "incomplete" if cut else "completed"
        item = self.message_item("".join(tokens), status)
        return self.response(status, [item], self.usage(len(tokens)))

    def _event(self, type_: str, at: float, **fields: Any) -> Event:
        payload: JSONObject = {"type": type_, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return Event(dumps(payload), event=type_, at=at)

    @staticmethod
    def parse(body: JSONObject) -> ResponsesCall | BodyReply:
        return parse_responses(body)

    def events(self) -> Iterator[Event]:
        """The typed events, each text delta due when its tokens are (``rate``)."""
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
        for emitted, delta in chunks(tokens, self.options.chunk_tokens):
            yield self._event(
                "response.output_text.delta",
                pace(emitted, rate),
                **where,
                delta=delta,
                logprobs=[],
            )
        end = pace(len(tokens), rate)
        status = "incomplete" if cut else "completed"
        yield self._event("response.output_text.done", end, **where, text=text, logprobs=[])
        yield self._event("response.content_part.done", end, **where, part=self.text_part(text))
        item = self.message_item(text, status)
        yield self._event("response.output_item.done", end, output_index=0, item=item)
        final = self.response(status, [item], self.usage(len(tokens)))
        yield self._event(f"response.{status}", end, response=final)

    def error_event(self, message: str) -> Event:
        """The Responses API reports a failure after the 200 as ``event: error``."""
        return self._event("error", 0.0, code="server_error", message=message, param=None)


def parse_responses(body: JSONObject) -> ResponsesCall | BodyReply:
    """Validate a Responses request body: the call, or the 400 reply OpenAI gives."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_reply(
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
                text = message_text(item.get("content"))
                texts.append(text)
                if item.get("role", "user") == "user":
                    last_user = text
    else:
        return error_reply(
            400, "Missing required parameter: 'input'.", "invalid_request_error", param="input",
            code="missing_required_parameter",
        )  # fmt: skip
    instructions = body.get("instructions")
    if not isinstance(instructions, str):
        instructions = None
    limit = int_param(body, "max_output_tokens")
    if isinstance(limit, BodyReply):
        return limit
    return ResponsesCall(
        model=model,
        prompt="\n".join(([instructions] if instructions else []) + texts),
        last_user=last_user,
        instructions=instructions,
        max_output_tokens=limit,
    )
