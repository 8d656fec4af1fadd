"""What the Chat Completions and the text-completions accumulators share.

Both endpoints frame their stream the same way (OpenAI API reference, "Streaming"): every event
is ``data: {chunk JSON}`` carrying ``id``, ``model`` and a ``choices`` list; ``data: [DONE]``
ends the stream; with ``stream_options.include_usage`` the last chunk before ``[DONE]`` has
``"choices": []`` and the ``usage`` object. ``ChoiceStreamAccumulator.feed`` reads that frame
once for both; a subclass says what one choice means (``feed_choice``) and what a usage-only
delta looks like (``usage_delta``). No I/O here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from reactsse.errors import RemoteProtocolError
from reactsse.openai.payload import (
    DONE,
    api_error_from_payload,
    as_dict,
    as_list,
    as_str,
    decode_json,
    error_json,
    usage_from,
)
from reactsse.openai.types import Usage
from reactsse.sse import MessageEvent

__all__ = ["ChoiceStreamAccumulator"]

D = TypeVar("D")


class ChoiceStreamAccumulator(ABC, Generic[D]):
    """The ``[DONE]``/error/usage framing of a choices stream; subclasses assemble the choices.

    Events after ``[DONE]`` are ignored (some servers repeat it).
    """

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Usage | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was received."""
        return self._done

    @abstractmethod
    def feed_choice(self, choice: dict[str, Any], chunk_id: str | None, model: str | None) -> D:
        """Take one element of a chunk's ``choices``; return its delta."""

    @abstractmethod
    def usage_delta(self, usage: Usage, chunk_id: str | None, model: str | None) -> D:
        """The delta that reports the ``usage`` of a chunk."""

    def feed(self, event: MessageEvent) -> list[D]:
        """Take one event; return the deltas it carries (often one, ``[]`` for nothing useful).

        Raises ``APIError`` for ``event: error`` or a ``{"error": ...}`` payload, and
        ``RemoteProtocolError`` for data that is neither ``[DONE]`` nor a JSON object.
        """
        if self._done:
            return []
        data = event.data
        if event.type == "error":
            raise api_error_from_payload(error_json(data), event="error")
        if data == DONE:
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
            if data.strip() == DONE:
                # The sentinel with whitespace around it (openai-python uses startswith);
                # tested here, off the common path, so that no chunk pays for a strip().
                self._done = True
                return []
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
        deltas: list[D] = []
        for raw_choice in as_list(chunk.get("choices")):
            deltas.append(self.feed_choice(as_dict(raw_choice), chunk_id, model))
        usage = usage_from(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
            deltas.append(self.usage_delta(usage, chunk_id, model))
        return deltas

    def _feed_lines(self, event: MessageEvent) -> list[D]:
        lines = [line for line in event.data.split("\n") if line.strip()]
        try:
            for line in lines:
                if line.strip() != DONE:
                    decode_json(event._replace(data=line))
        except RemoteProtocolError:
            raise RemoteProtocolError(
                f"event {event.type!r} carries data that is not JSON: {event.data[:200]!r}"
            ) from None
        deltas: list[D] = []
        for line in lines:
            deltas.extend(self.feed(event._replace(data=line)))
        return deltas
