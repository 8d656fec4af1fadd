"""The sans-IO Chat Completions accumulator: ``MessageEvent`` in, ``ChatDelta`` out.

Protocol facts it relies on (OpenAI API reference, "Streaming"): every event is
``data: {chunk JSON}``; ``data: [DONE]`` ends the stream; with ``stream_options.include_usage``
the last chunk before ``[DONE]`` has ``"choices": []`` and the ``usage`` object. Tool calls
arrive as fragments keyed by ``index``: the first fragment carries ``id`` and ``function.name``,
later ones append to ``function.arguments``.

No I/O here (no socket, loop or clock): the blocking iterator, the loop callbacks and the
async client (``reactsse.aio.AsyncOpenAIClient``) drive this same class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reactsse.errors import RemoteProtocolError
from reactsse.openai.payload import (
    DONE,
    api_error_from_payload,
    as_dict,
    as_int,
    as_list,
    as_str,
    decode_json,
    error_json,
    usage_from,
    warn_incomplete,
)
from reactsse.openai.types import (
    ChatChoice,
    ChatCompletion,
    ChatDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from reactsse.sse import MessageEvent

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
            raise api_error_from_payload(error_json(data), event="error")
        if data == DONE or (len(data) < 16 and data.strip() == DONE):
            # The sentinel; surrounding whitespace tolerated (openai-python uses startswith).
            self._done = True
            return []
        if not data or data.isspace():
            # An empty data field (``data:`` + blank line) carries nothing: skip it, the way
            # keep-alive comments are skipped (reported against the official SDK:
            # https://github.com/openai/openai-python/issues/2722).
            return []
        try:
            chunk = decode_json(event)
        except RemoteProtocolError:
            if "\n" not in data:
                raise
            # Some servers (seen in vLLM and LocalAI samples) end each event with a single LF,
            # so a conforming decoder joins several chunks into one event's data, one JSON
            # document per line. Take them one by one; a data field that is neither (e.g. a
            # bad pretty-printed object) still raises.
            return self._feed_lines(event)
        if "error" in chunk and chunk["error"] is not None:
            raise api_error_from_payload(chunk, event=event.type)
        chunk_id = as_str(chunk.get("id"))
        model = as_str(chunk.get("model"))
        self._id = self._id or chunk_id
        self._model = self._model or model
        deltas: list[ChatDelta] = []
        for raw_choice in as_list(chunk.get("choices")):
            choice = as_dict(raw_choice)
            deltas.append(self._feed_choice(choice, chunk_id, model))
        usage = usage_from(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
            deltas.append(ChatDelta(-1, usage=usage, id=chunk_id, model=model))
        return deltas

    def _feed_lines(self, event: MessageEvent) -> list[ChatDelta]:
        lines = [line for line in event.data.split("\n") if line.strip()]
        try:
            for line in lines:
                if line.strip() != DONE:
                    decode_json(event._replace(data=line))
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
