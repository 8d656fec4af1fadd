"""The sans-IO text-completions accumulator: ``MessageEvent`` in, ``CompletionDelta`` out.

``POST /v1/completions`` with ``"stream": true`` (a ``prompt``, not ``messages``): the endpoint
the first LLM token streams came from, still served by OpenAI (instruct models), vLLM, Ollama
and llama.cpp. Protocol facts it relies on (OpenAI API reference, "Completions"): every event
is ``data: {"object": "text_completion", "choices": [{"index", "text", "finish_reason"}]}``;
``data: [DONE]`` ends the stream; with ``stream_options.include_usage`` the last chunk before
``[DONE]`` has ``"choices": []`` and the ``usage`` object.

No I/O here (no socket, loop or clock), like ``ChatAccumulator``.
"""

from __future__ import annotations

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
from reactsse.openai.types import Completion, CompletionChoice, CompletionDelta, Usage
from reactsse.sse import MessageEvent

__all__ = ["CompletionAccumulator"]


class CompletionAccumulator:
    """Turns the events of a text-completions stream into ``CompletionDelta`` objects, and
    assembles them into a ``Completion``.

    Sans-IO: ``feed`` each ``MessageEvent`` as it is dispatched; call ``finish()`` when the
    connection ends. Events after ``[DONE]`` are ignored.
    """

    def __init__(self) -> None:
        # choice index -> [text pieces], finish_reason
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, str] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Usage | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was received."""
        return self._done

    def feed(self, event: MessageEvent) -> list[CompletionDelta]:
        """Take one event; return the deltas it carries (``[]`` for nothing useful).

        Raises ``APIError`` for ``event: error`` or a ``{"error": ...}`` payload, and
        ``RemoteProtocolError`` for data that is neither ``[DONE]`` nor a JSON object.
        """
        if self._done:
            return []
        data = event.data
        if event.type == "error":
            raise api_error_from_payload(error_json(data), event="error")
        if data.strip() == DONE:
            self._done = True
            return []
        if not data or data.isspace():
            return []  # an empty data field carries nothing, as for chat
        chunk = decode_json(event)
        if "error" in chunk and chunk["error"] is not None:
            raise api_error_from_payload(chunk, event=event.type)
        chunk_id = as_str(chunk.get("id"))
        model = as_str(chunk.get("model"))
        self._id = self._id or chunk_id
        self._model = self._model or model
        deltas: list[CompletionDelta] = []
        for raw_choice in as_list(chunk.get("choices")):
            choice = as_dict(raw_choice)
            index = as_int(choice.get("index"))
            text = as_str(choice.get("text")) or ""
            finish_reason = as_str(choice.get("finish_reason"))
            self._texts.setdefault(index, []).append(text)
            if finish_reason is not None:
                self._finish[index] = finish_reason
            deltas.append(CompletionDelta(index, text, finish_reason, None, chunk_id, model))
        usage = usage_from(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
            deltas.append(CompletionDelta(-1, usage=usage, id=chunk_id, model=model))
        return deltas

    @property
    def completion(self) -> Completion:
        """What was received so far, assembled (does not warn; see ``finish``)."""
        choices = tuple(
            CompletionChoice(index, "".join(texts), self._finish.get(index))
            for index, texts in sorted(self._texts.items())
        )
        return Completion(self._id, self._model, choices, self._usage, self._done)

    def finish(self) -> Completion:
        """Call when the connection ended: returns the assembled completion.

        Warns ``IncompleteStreamWarning`` if ``[DONE]`` never came.
        """
        if not self._done:
            warn_incomplete("the completions stream ended without data: [DONE]")
        return self.completion
