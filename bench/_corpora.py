"""Internal: the benchmark corpora, shared by the bench scripts (not part of the library).

Four deterministic event streams (no randomness: every run, every process, the same bytes):

``openai``     20,000 chat-completions ``chat.completion.chunk`` events of ~220 bytes (LF endings,
               UTF-8 tokens, some non-ASCII), then ``data: [DONE]``: 20,001 events, ~4.4 MB.
``tiny``       200,000 ``data: x`` events (LF endings): the per-event overhead.
``multiline``  20,000 events with ``event:``, ``id:`` and three ``data:`` lines, CRLF endings.
``large``      200 events of one 64 KiB ``data:`` line each: the per-byte cost.

Each corpus is a tuple of events, each event the complete wire bytes of one event including its
blank line, so that a server can frame each one as one HTTP chunk and a parser can be fed the
concatenation. ``data`` holds what a WHATWG parser dispatches (``MessageEvent.data``) for each
event, so that a consumer can check what it received, not only how much.

``scale`` shrinks (or grows) the event counts, for smoke tests: ``build("tiny", scale=0.001)``
has 200 events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["CORPORA", "DEFAULT_COUNTS", "Corpus", "build"]

#: The corpus names, in the order the benchmarks run and print them.
CORPORA = ("openai", "tiny", "multiline", "large")

#: Events per corpus at scale 1.0 (the openai corpus adds its ``[DONE]`` event).
DEFAULT_COUNTS = {"openai": 20_000, "tiny": 200_000, "multiline": 20_000, "large": 200}

# Tokens for the fake completion: ASCII words, punctuation, and multi-byte UTF-8 (2, 3 and 4 bytes)
# so that a client that decodes per network chunk instead of per line would be caught out.
_TOKENS = (
    " the", " stream", " of", " tokens", ",", " and", " café", " naïve", " 日本語", " 🙂",
    " reactor", " loop", ".", " Server", "-Sent", " Events", " über", " ½", "\n", " done",
)  # fmt: skip


@dataclass(frozen=True)
class Corpus:
    """One event stream: ``events[i]`` is the wire form of event ``i``, ``data[i]`` its data."""

    name: str
    events: tuple[bytes, ...]
    data: tuple[str, ...]
    stream: bytes = field(repr=False)

    @property
    def count(self) -> int:
        """Number of events a WHATWG parser dispatches (``[DONE]`` included for openai)."""
        return len(self.events)

    @property
    def data_chars(self) -> int:
        """Total length of every event's data, in characters (a cheap content checksum)."""
        return sum(len(d) for d in self.data)


def _openai(n: int) -> tuple[list[bytes], list[str]]:
    events: list[bytes] = []
    data: list[str] = []
    for i in range(n):
        if i == 0:
            delta: dict[str, str] = {"role": "assistant", "content": ""}
        else:
            delta = {"content": _TOKENS[(i * 7) % len(_TOKENS)]}
        chunk = {
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000 + i // 50,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": "stop" if i == n - 1 else None,
                }
            ],
        }
        text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
        events.append(f"data: {text}\n\n".encode())
        data.append(text)
    events.append(b"data: [DONE]\n\n")
    data.append("[DONE]")
    return events, data


def _tiny(n: int) -> tuple[list[bytes], list[str]]:
    return [b"data: x\n\n"] * n, ["x"] * n


def _multiline(n: int) -> tuple[list[bytes], list[str]]:
    events: list[bytes] = []
    data: list[str] = []
    for i in range(n):
        lines = (
            f"first line of {i}",
            "second: with a colon",
            f"third{_TOKENS[i % len(_TOKENS)].rstrip()}",
        )
        wire = f"event: update\r\nid: {i}\r\n" + "".join(f"data: {line}\r\n" for line in lines)
        events.append((wire + "\r\n").encode())
        data.append("\n".join(lines))
    return events, data


def _large(n: int) -> tuple[list[bytes], list[str]]:
    events: list[bytes] = []
    data: list[str] = []
    for i in range(n):
        # 64 KiB of ASCII, different per event so that no layer can cache or dedupe it.
        text = (f"{i:08d}" + "abcdefghijklmnopqrstuvwxyz0123456789" * 1821)[: 64 * 1024]
        events.append(f"data: {text}\n\n".encode())
        data.append(text)
    return events, data


_BUILDERS = {"openai": _openai, "tiny": _tiny, "multiline": _multiline, "large": _large}


def build(name: str, scale: float = 1.0) -> Corpus:
    """Build corpus ``name`` (one of :data:`CORPORA`) with ``DEFAULT_COUNTS[name] * scale`` events.

    At least two events are always produced. Raises ``KeyError`` for an unknown name.
    """
    n = max(2, round(DEFAULT_COUNTS[name] * scale))
    events, data = _BUILDERS[name](n)
    return Corpus(name, tuple(events), tuple(data), b"".join(events))
