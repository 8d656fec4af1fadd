"""``POST /v1/completions``: OpenAI's text completions (a ``prompt``), streamed or whole.

The legacy endpoint of instruct models, and the one the first LLM token streams came from;
vLLM, Ollama and llama.cpp serve it too. Stream shape as api.openai.com sends it:
``text_completion`` objects with ``choices[0].text``, the last one with ``finish_reason``,
then (with ``stream_options.include_usage``) a usage chunk with ``"choices": []``, then
``data: [DONE]``. The answer is the one the chat route gives for the same user text.
"""

from __future__ import annotations

from dataclasses import dataclass

from reactsse.mock.chat import chat_usage
from reactsse.mock.common import (
    JSONObject,
    dumps,
    int_param,
    model_param,
    wants_usage,
)
from reactsse.mock.completion import TEXT_MARKER, ChoicesPlan, ChoicesStream, split_template
from reactsse.mock.text import answer_tokens, count_tokens
from reactsse.server.app import BodyReply, error_reply

__all__ = ["TextCall", "TextCompletionStream", "parse_text_completion"]


@dataclass
class TextCall:
    """What a text-completion request asks for, validated."""

    model: str
    prompt: str
    max_tokens: int | None
    include_usage: bool


class TextCompletionStream(ChoicesStream[TextCall]):
    """One text completion: :meth:`events` streams it, :meth:`whole` is it whole."""

    ID_PREFIX = "cmpl-reactsse"

    def chunk(self, text: str, finish_reason: str | None = None) -> str:
        """One ``text_completion`` chunk with ``text``, serialised."""
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
        return self.choice_chunk("text_completion", choice)

    def tokens(self) -> tuple[list[str], str]:
        """The answer's tokens and its finish_reason."""
        tokens = answer_tokens(self.call.prompt, self.options.reply_tokens)
        limit = self.call.max_tokens
        if limit is not None and len(tokens) > limit:
            return tokens[:limit], "length"
        return tokens, "stop"

    @staticmethod
    def parse(body: JSONObject) -> TextCall | BodyReply:
        return parse_text_completion(body)

    def plan(self) -> ChoicesPlan:
        """One chunk per group of tokens; the finish chunk, the usage chunk (when asked for)
        and ``[DONE]``."""
        call = self.call
        tokens, finish = self.tokens()
        before, after = split_template(self.chunk(TEXT_MARKER))
        tail = [self.chunk("", finish)]
        if call.include_usage:
            usage: JSONObject = {
                **self.envelope("text_completion"),
                "choices": [],
                "usage": _usage(count_tokens(call.prompt), len(tokens)),
            }
            tail.append(dumps(usage))
        tail.append("[DONE]")
        return ChoicesPlan([], before, after, tokens, tail)

    def whole(self) -> JSONObject:
        tokens, finish = self.tokens()
        choice = {"text": "".join(tokens), "index": 0, "logprobs": None, "finish_reason": finish}
        return {
            **self.envelope("text_completion"),
            "choices": [choice],
            "usage": _usage(count_tokens(self.call.prompt), len(tokens)),
        }


def _usage(prompt_tokens: int, completion_tokens: int) -> JSONObject:
    usage = chat_usage(prompt_tokens, completion_tokens)
    return {name: usage[name] for name in ("prompt_tokens", "completion_tokens", "total_tokens")}


def parse_text_completion(body: JSONObject) -> TextCall | BodyReply:
    """Validate a text-completion request body: the call, or the 400 reply OpenAI gives."""
    model = model_param(body)
    if isinstance(model, BodyReply):
        return model
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        # OpenAI also takes several prompts (one choice each) and token arrays; the mock
        # answers one text prompt.
        return error_reply(
            400,
            "Invalid 'prompt': the reactsse mock takes one prompt string.",
            "invalid_request_error",
            param="prompt",
            code="invalid_value",
        )
    max_tokens = int_param(body, "max_tokens")
    if isinstance(max_tokens, BodyReply):
        return max_tokens
    return TextCall(model, prompt, max_tokens, wants_usage(body))
