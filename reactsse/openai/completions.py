"""The sans-IO text-completions accumulator: ``MessageEvent`` in, ``CompletionDelta`` out.

``POST /v1/completions`` with ``"stream": true`` (a ``prompt``, not ``messages``): the endpoint
the first LLM token streams came from, still served by OpenAI (instruct models), vLLM, Ollama
and llama.cpp. Protocol facts it relies on (OpenAI API reference, "Completions"): every event
is ``data: {"object": "text_completion", "choices": [{"index", "text", "finish_reason"}]}``;
``data: [DONE]`` ends the stream; with ``stream_options.include_usage`` the last chunk before
``[DONE]`` has ``"choices": []`` and the ``usage`` object.

No I/O here (no socket, loop or clock), like ``ChatAccumulator``; the framing both share
(``[DONE]``, errors, ``usage``, one JSON document per line) is ``ChoiceStreamAccumulator``'s.
"""

from __future__ import annotations

from typing import Any

from reactsse.openai.accumulator import ChoiceStreamAccumulator
from reactsse.openai.payload import as_int, as_str, warn_incomplete
from reactsse.openai.types import Completion, CompletionChoice, CompletionDelta, Usage

__all__ = ["CompletionAccumulator"]


class CompletionAccumulator(ChoiceStreamAccumulator[CompletionDelta]):
    """Turns the events of a text-completions stream into ``CompletionDelta`` objects, and
    assembles them into a ``Completion``.

    Sans-IO: ``feed`` each ``MessageEvent`` as it is dispatched; call ``finish()`` when the
    connection ends. Events after ``[DONE]`` are ignored.
    """

    def __init__(self) -> None:
        super().__init__()
        # choice index -> [text pieces], finish_reason
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, str] = {}

    def feed_choice(
        self, choice: dict[str, Any], chunk_id: str | None, model: str | None
    ) -> CompletionDelta:
        index = as_int(choice.get("index"))
        text = as_str(choice.get("text")) or ""
        finish_reason = as_str(choice.get("finish_reason"))
        self._texts.setdefault(index, []).append(text)
        if finish_reason is not None:
            self._finish[index] = finish_reason
        return CompletionDelta(index, text, finish_reason, None, chunk_id, model)

    def usage_delta(self, usage: Usage, chunk_id: str | None, model: str | None) -> CompletionDelta:
        return CompletionDelta(-1, usage=usage, id=chunk_id, model=model)

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
