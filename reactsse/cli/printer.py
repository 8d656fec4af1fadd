"""How ``demo`` and ``chat`` print a stream: each delta as it arrives, a summary at the end."""

from __future__ import annotations

import sys
from collections.abc import Callable

from reactsse.cli.common import Style, say, write
from reactsse.eventsource import TextTrace
from reactsse.openai import (
    ChatCompletion,
    ChatDelta,
    Completion,
    CompletionDelta,
    ResponseFunctionCall,
    ResponseResult,
    ResponseStreamEvent,
    ResponseTextDelta,
    ToolCall,
)

__all__ = ["ChatPrinter", "compact", "format_tool_call"]


def compact(item: object) -> str:
    """``ChatDelta(content=' she')``: a dataclass with only its informative fields."""
    fields = getattr(item, "__dataclass_fields__", {})
    shown = []
    for name in fields:
        value = getattr(item, name)
        if value in (None, (), "") or name in ("id", "model"):
            continue
        shown.append(f"{name}={value!r}")
    return f"{type(item).__name__}({', '.join(shown)})"


def format_tool_call(call: ToolCall) -> str:
    return f"[tool call {call.id}] {call.name}({call.arguments})"


class ChatPrinter:
    """Prints chat, completion and Responses deltas as they arrive, and the summary at the end
    (shared by demo and chat)."""

    def __init__(self, now: Callable[[], float], *, trace: TextTrace | None = None) -> None:
        # The stream's loop's clock (loop.now): the times it prints are the loop's, like every
        # time above the loop.
        self._now = now
        # With --trace, the last layer too: what the openai accumulator made of each event.
        self.trace = trace
        self.started = now()
        self.first_token: float | None = None
        self.tokens = 0
        self._ended_with_newline = True
        self._in_reasoning = False

    def _mark_first(self) -> None:
        if self.first_token is None:
            self.first_token = self._now() - self.started

    def _show(self, typed: str) -> None:
        assert self.trace is not None
        self.trace.show("=", "openai", "", typed, len(typed))

    def text(self, piece: str) -> None:
        if not piece:
            return
        self._mark_first()
        self.tokens += 1
        write(piece)
        self._ended_with_newline = piece.endswith("\n")

    def reasoning(self, piece: str) -> None:
        # Reasoning text (vLLM/DeepSeek/Ollama) goes to stderr, dimmed: it is not the answer.
        if piece:
            self._mark_first()
            style = Style(sys.stderr)
            sys.stderr.write(f"{style.dim}{piece}{style.reset}")
            sys.stderr.flush()

    def chat_delta(self, delta: ChatDelta) -> None:
        if self.trace is not None:
            self._show(compact(delta))
        if delta.reasoning:
            self.reasoning(delta.reasoning)
        if delta.content:
            self.text(delta.content)
        if delta.refusal:
            self.text(delta.refusal)

    def completion_delta(self, delta: CompletionDelta) -> None:
        if self.trace is not None:
            self._show(compact(delta))
        if delta.choice_index == 0:
            self.text(delta.text)

    def responses_event(self, event: ResponseStreamEvent) -> None:
        if self.trace is not None:
            self._show(compact(event))
        if isinstance(event, ResponseTextDelta):
            self.text(event.text)
        elif isinstance(event, ResponseFunctionCall):
            self.tool_call(event.call)

    def tool_call(self, call: ToolCall) -> None:
        self.end_line()
        write(format_tool_call(call) + "\n")
        self._ended_with_newline = True

    def end_line(self) -> None:
        if not self._ended_with_newline:
            write("\n")
            self._ended_with_newline = True

    def summary(self, result: ChatCompletion | Completion | ResponseResult) -> None:
        if isinstance(result, ChatCompletion):
            for call in result.tool_calls:
                self.tool_call(call)
            ending = f"finish_reason={result.finish_reason}"
        elif isinstance(result, Completion):
            ending = f"finish_reason={result.finish_reason}"
        else:
            ending = f"status={result.status}"
            if result.incomplete_reason:
                ending += f" ({result.incomplete_reason})"
        self.end_line()
        elapsed = self._now() - self.started
        parts = [f"{self.tokens} deltas in {elapsed:.2f} s"]
        if self.first_token is not None:
            parts.append(f"first after {self.first_token * 1000:.1f} ms")
        parts.append(ending)
        if result.usage is not None:
            usage = result.usage
            parts.append(f"usage: {usage.input_tokens} in / {usage.output_tokens} out")
        say("-- " + ", ".join(parts))
