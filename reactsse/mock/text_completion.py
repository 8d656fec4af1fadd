"""``POST /v1/completions``: OpenAI's text completions (a ``prompt``), streamed or whole.

The legacy endpoint of instruct models, and the one the first LLM token streams came from;
vLLM, Ollama and llama.cpp serve it too. Stream shape as api.openai.com sends it:
``text_completion`` objects with ``choices[0].text``, the last one with ``finish_reason``,
then (with ``stream_options.include_usage``) a usage chunk with ``"choices": []``, then
``data: [DONE]``. The answer is the one the chat route gives for the same user text.

``prompt`` takes the forms OpenAI's takes: a string, a list of strings, token ids (a list of
integers) or a list of such lists. Each prompt gets its own choice, ``index`` ``i`` for prompt
``i``; with several, their chunks take turns, one chunk of each choice in index order (as
OpenAI interleaves them), then each choice's finish chunk. A prompt of token ids is answered
as the text of its ids (the mock has no vocabulary) and counted as one token an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reactsse.mock.chat import chat_usage
from reactsse.mock.common import (
    JSONObject,
    chunks,
    dumps,
    int_param,
    model_param,
    pace,
    wants_usage,
)
from reactsse.mock.completion import (
    TEXT_MARKER,
    ChoicesPlan,
    ChoicesStream,
    CompletionStream,
    split_template,
)
from reactsse.mock.text import answer_tokens, count_tokens
from reactsse.server.app import BodyReply, EncodedEvents, Event, error_reply

__all__ = ["TextCall", "TextCompletionStream", "parse_text_completion"]


@dataclass
class TextCall:
    """What a text-completion request asks for, validated."""

    model: str
    prompts: tuple[str, ...]  # each answered by one choice; token ids as their JSON text
    prompt_tokens: int
    max_tokens: int | None
    include_usage: bool


class TextCompletionStream(ChoicesStream[TextCall]):
    """One text completion: :meth:`events` streams it, :meth:`whole` is it whole."""

    ID_PREFIX = "cmpl-reactsse"

    def chunk(self, text: str, finish_reason: str | None = None, index: int = 0) -> str:
        """One ``text_completion`` chunk with ``text`` for choice ``index``, serialised."""
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
        return self.choice_chunk("text_completion", choice)

    def tokens(self, index: int = 0) -> tuple[list[str], str]:
        """The tokens of choice ``index`` (the answer to prompt ``index``), its finish_reason."""
        tokens = answer_tokens(self.call.prompts[index], self.options.reply_tokens)
        limit = self.call.max_tokens
        if limit is not None and len(tokens) > limit:
            return tokens[:limit], "length"
        return tokens, "stop"

    def answers(self) -> list[tuple[list[str], str]]:
        """Every choice's tokens and finish_reason, in index order."""
        return [self.tokens(index) for index in range(len(self.call.prompts))]

    @staticmethod
    def parse(body: JSONObject) -> TextCall | BodyReply:
        return parse_text_completion(body)

    def plan(self) -> ChoicesPlan:
        """One chunk per group of tokens; the finish chunk, the usage chunk (when asked for)
        and ``[DONE]``."""
        tokens, finish = self.tokens()
        before, after = split_template(self.chunk(TEXT_MARKER))
        tail = [self.chunk("", finish), *self.end(len(tokens))]
        return ChoicesPlan([], before, after, tokens, tail)

    def end(self, completion_tokens: int) -> list[str]:
        """What follows the finish chunks: the usage chunk (when asked for) and ``[DONE]``."""
        if not self.call.include_usage:
            return ["[DONE]"]
        chunk = {**self.envelope("text_completion"), "choices": []}
        chunk["usage"] = _usage(self.call.prompt_tokens, completion_tokens)
        return [dumps(chunk), "[DONE]"]

    def events(self) -> Iterator[Event]:
        """One prompt: the chat-shaped plan (:meth:`plan`). Several: their chunks in turns,
        each due when its tokens and those of every chunk before it are (``rate`` counts the
        tokens of all choices), then the finish chunks with the last."""
        if len(self.call.prompts) == 1:
            yield from super().events()
            return
        answers, size, rate = self.answers(), self.options.chunk_tokens, self.options.rate
        groups = [list(chunks(tokens, size)) for tokens, _ in answers]
        emitted = 0
        for turn in range(max(map(len, groups))):
            for index, group in enumerate(groups):
                if turn < len(group):
                    done_before = group[turn - 1][0] if turn else 0
                    emitted += group[turn][0] - done_before  # this chunk's tokens
                    yield Event(self.chunk(group[turn][1], None, index), at=pace(emitted, rate))
        end = pace(emitted, rate)
        for index, (_, finish) in enumerate(answers):
            yield Event(self.chunk("", finish, index), at=end)
        for data in self.end(emitted):
            yield Event(data, at=end)

    def encoded(self) -> Iterator[EncodedEvents]:
        # Several prompts have no single chunk template to splice: encode event by event.
        if len(self.call.prompts) == 1:
            return super().encoded()
        return CompletionStream.encoded(self)

    def whole(self) -> JSONObject:
        answers = self.answers()
        choices = [
            {"text": "".join(tokens), "index": index, "logprobs": None, "finish_reason": finish}
            for index, (tokens, finish) in enumerate(answers)
        ]
        usage = _usage(self.call.prompt_tokens, sum(len(tokens) for tokens, _ in answers))
        return {**self.envelope("text_completion"), "choices": choices, "usage": usage}


def _usage(prompt_tokens: int, completion_tokens: int) -> JSONObject:
    usage = chat_usage(prompt_tokens, completion_tokens)
    return {name: usage[name] for name in ("prompt_tokens", "completion_tokens", "total_tokens")}


def parse_text_completion(body: JSONObject) -> TextCall | BodyReply:
    """Validate a text-completion request body: the call, or the 400 reply OpenAI gives."""
    model = model_param(body)
    if isinstance(model, BodyReply):
        return model
    prompts = _prompts(body.get("prompt"))
    if prompts is None:
        return error_reply(
            400,
            "Invalid 'prompt': expected a string, an array of strings, an array of integers "
            "(token ids), or an array of arrays of integers, none of them empty.",
            "invalid_request_error",
            param="prompt",
            code="invalid_value",
        )
    max_tokens = int_param(body, "max_tokens")
    if isinstance(max_tokens, BodyReply):
        return max_tokens
    texts = tuple(text for text, _ in prompts)
    prompt_tokens = sum(count for _, count in prompts)
    return TextCall(model, texts, prompt_tokens, max_tokens, wants_usage(body))


def _prompts(prompt: object) -> list[tuple[str, int]] | None:
    """Each prompt of a ``prompt`` field as (its text, its token count); None if the field
    has no form OpenAI takes."""
    if isinstance(prompt, str):
        return [(prompt, count_tokens(prompt))]
    if not isinstance(prompt, list) or not prompt:
        return None
    if all(isinstance(item, str) for item in prompt):
        return [(text, count_tokens(text)) for text in prompt]
    if _token_ids(prompt):
        return [(dumps(prompt), len(prompt))]
    if all(isinstance(item, list) and item and _token_ids(item) for item in prompt):
        return [(dumps(ids), len(ids)) for ids in prompt]
    return None


def _token_ids(items: list[object]) -> bool:
    return all(isinstance(item, int) and not isinstance(item, bool) for item in items)
