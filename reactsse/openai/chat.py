"""The sans-IO Chat Completions accumulator: ``MessageEvent`` in, ``ChatDelta`` out.

Protocol facts it relies on (OpenAI API reference, "Streaming"): every event is
``data: {chunk JSON}``; ``data: [DONE]`` ends the stream; with ``stream_options.include_usage``
the last chunk before ``[DONE]`` has ``"choices": []`` and the ``usage`` object. Tool calls
arrive as fragments keyed by ``index``: the first fragment carries ``id`` and ``function.name``,
later ones append to ``function.arguments``.

No I/O here (no socket, loop or clock): the blocking iterator, the loop callbacks and the
async client (``reactsse.aio.AsyncOpenAIClient``) drive this same class. The framing it shares
with the text-completions stream (``[DONE]``, errors, ``usage``) is ``ChoiceStreamAccumulator``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reactsse.openai.accumulator import ChoiceStreamAccumulator
from reactsse.openai.payload import as_dict, as_int, as_list, as_str, warn_incomplete
from reactsse.openai.types import (
    ChatChoice,
    ChatCompletion,
    ChatDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["ChatAccumulator"]


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


class ChatAccumulator(ChoiceStreamAccumulator[ChatDelta]):
    """Turns the events of a Chat Completions stream into ``ChatDelta`` objects, and assembles them.

    Sans-IO: ``feed`` each ``MessageEvent`` as it is dispatched; call ``finish()`` when the
    connection ends. Events after ``[DONE]`` are ignored (some servers repeat it). Tool-call
    fragments are joined by ``index`` (OpenAI sends ``id``/``name`` once; llama.cpp and some
    proxies repeat them on every fragment, so a repeated identical id/name is not appended twice).
    """

    def __init__(self) -> None:
        super().__init__()
        self._choices: dict[int, _ChoiceState] = {}

    def usage_delta(self, usage: Usage, chunk_id: str | None, model: str | None) -> ChatDelta:
        return ChatDelta(-1, usage=usage, id=chunk_id, model=model)

    def feed_choice(
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
        index = as_int(choice.get("index"))
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState(index)
        delta = as_dict(choice.get("delta"))
        role = as_str(delta.get("role"))
        content = as_str(delta.get("content"))
        reasoning = as_str(delta.get("reasoning_content")) or as_str(delta.get("reasoning"))
        refusal = as_str(delta.get("refusal"))
        finish_reason = as_str(choice.get("finish_reason"))
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
        for position, raw_call in enumerate(as_list(delta.get("tool_calls"))):
            call = as_dict(raw_call)
            function = as_dict(call.get("function"))
            fragment = ToolCallDelta(
                # A missing index (seen from some proxies) means "the next call in order".
                as_int(call.get("index"), position),
                as_str(call.get("id")),
                as_str(function.get("name")),
                as_str(function.get("arguments")) or "",
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
            warn_incomplete("the chat completion stream ended without data: [DONE]")
        return self.completion
