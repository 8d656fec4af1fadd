"""``POST /v1/chat/completions``: OpenAI Chat Completions, streamed or whole.

Stream shapes follow what api.openai.com sends: ``chat.completion.chunk`` objects ending with
``data: [DONE]``. Everything is deterministic for the same request and options; only
``created`` (given by the caller) is the wall clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reactsse.mock.common import (
    JSONObject,
    dumps,
    int_param,
    message_text,
    model_param,
    wants_usage,
)
from reactsse.mock.completion import TEXT_MARKER, ChoicesPlan, ChoicesStream, split_template
from reactsse.mock.options import MockOptions
from reactsse.mock.text import answer_tokens, count_tokens, tokenize
from reactsse.server.app import BodyReply, error_reply

__all__ = ["ChatCall", "ChatStream", "parse_chat"]

FINGERPRINT = "fp_reactsse"
# The fields a chat chunk has between its envelope and its choices.
_CHUNK_FIELDS: JSONObject = {"service_tier": "default", "system_fingerprint": FINGERPRINT}


@dataclass
class ChatCall:
    """What a chat request asks for, validated."""

    model: str
    prompt: str
    last_user: str
    max_tokens: int | None
    include_usage: bool
    tool: JSONObject | None


def tool_arguments(tool: JSONObject, last_user: str) -> str:
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
    return dumps(arguments)


class ChatStream(ChoicesStream[ChatCall]):
    """One chat completion: :meth:`events` streams it, :meth:`whole` is it whole."""

    ID_PREFIX = "chatcmpl-reactsse"

    @property
    def tool_call_id(self) -> str:
        """The id of the tool call, when the completion is one."""
        return f"call_reactsse{self.ident:08d}"

    def chunk(self, delta: JSONObject, finish_reason: str | None = None) -> str:
        """One ``chat.completion.chunk`` with ``delta``, serialised."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self.choice_chunk("chat.completion.chunk", choice, _CHUNK_FIELDS)

    def _head(self) -> JSONObject:
        if self.call.tool is None:
            return {"role": "assistant", "content": "", "refusal": None}
        call = {
            "index": 0,
            "id": self.tool_call_id,
            "type": "function",
            "function": {"name": self.call.tool["function"]["name"], "arguments": ""},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}

    @staticmethod
    def parse(body: JSONObject) -> ChatCall | BodyReply:
        return parse_chat(body)

    def plan(self) -> ChoicesPlan:
        """The role chunk; one chunk per group of tokens; the finish chunk, the usage chunk
        (when asked for) and ``[DONE]``."""
        call = self.call
        tokens, finish = completion(call, self.options)
        if call.tool is not None:
            template = self.chunk(
                {"tool_calls": [{"index": 0, "function": {"arguments": TEXT_MARKER}}]}
            )
        else:
            template = self.chunk({"content": TEXT_MARKER})
        before, after = split_template(template)
        tail = [self.chunk({}, finish)]
        if call.include_usage:
            usage_chunk = json.loads(self.chunk({}))
            usage_chunk["choices"] = []
            usage_chunk["usage"] = chat_usage(count_tokens(call.prompt), len(tokens))
            tail.append(dumps(usage_chunk))
        tail.append("[DONE]")
        return ChoicesPlan([self.chunk(self._head())], before, after, tokens, tail)

    def whole(self) -> JSONObject:
        return chat_body(self)


def chat_usage(prompt_tokens: int, completion_tokens: int) -> JSONObject:
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


def completion(call: ChatCall, options: MockOptions) -> tuple[list[str], str]:
    """The completion's tokens (text, or a tool call's arguments) and its finish_reason."""
    if call.tool is not None:
        tokens = tokenize(tool_arguments(call.tool, call.last_user))
        natural = "tool_calls"
    else:
        tokens = answer_tokens(call.last_user, options.reply_tokens)
        natural = "stop"
    if call.max_tokens is not None and len(tokens) > call.max_tokens:
        return tokens[: call.max_tokens], "length"
    return tokens, natural


def parse_chat(body: JSONObject) -> ChatCall | BodyReply:
    """Validate a chat request body: the call, or the 400 reply OpenAI gives."""
    model = model_param(body)
    if isinstance(model, BodyReply):
        return model
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_reply(
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
            return error_reply(
                400, "Invalid 'messages': each needs a 'role'.", "invalid_request_error",
                param="messages", code="invalid_value",
            )  # fmt: skip
        text = message_text(message.get("content"))
        texts.append(text)
        if message["role"] == "user":
            last_user = text
    max_tokens = int_param(body, "max_completion_tokens", "max_tokens")
    if isinstance(max_tokens, BodyReply):
        return max_tokens
    return ChatCall(
        model=model,
        prompt="\n".join(texts),
        last_user=last_user,
        max_tokens=max_tokens,
        include_usage=wants_usage(body),
        tool=chosen_tool(body),
    )


def chosen_tool(body: JSONObject) -> JSONObject | None:
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


def chat_body(stream: ChatStream) -> JSONObject:
    """The non-streamed ``chat.completion`` object for the same call."""
    call = stream.call
    tokens, finish = completion(call, stream.options)
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
        **stream.envelope("chat.completion"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": chat_usage(count_tokens(call.prompt), len(tokens)),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
