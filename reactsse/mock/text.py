"""The bundled text the mock answers from, and the tokenizer.

The text is ``data/alice.txt`` (public domain). :func:`tokenize` splits a text into tokens
whose concatenation is the text again (property-tested).
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from importlib import resources

__all__ = ["all_tokens", "answer_tokens", "count_tokens", "paragraphs", "tokenize"]

# A token is optional leading whitespace plus either a run of word characters or one other
# character; a run of whitespace at the very end is its own token. Every character belongs to
# exactly one token, so "".join(tokenize(s)) == s.
_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens (words and punctuation with their leading whitespace)."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens ``text`` has (what ``usage`` counts)."""
    return len(tokenize(text))


@lru_cache(maxsize=1)
def paragraphs() -> tuple[str, ...]:
    """The paragraphs of the bundled text."""
    text = resources.files("reactsse.mock").joinpath("data/alice.txt").read_text(encoding="utf-8")
    return tuple(p.strip() for p in text.split("\n\n") if p.strip())


@lru_cache(maxsize=1)
def all_tokens() -> tuple[str, ...]:
    """The tokens of the whole bundled text."""
    return tuple(tokenize("\n\n".join(paragraphs())))


def answer_tokens(prompt: str, reply_tokens: int | None) -> list[str]:
    """The deterministic answer: a paragraph picked by the prompt's CRC-32, or N tokens."""
    if reply_tokens is None:
        texts = paragraphs()
        return tokenize(texts[zlib.crc32(prompt.encode("utf-8")) % len(texts)])
    tokens = all_tokens()
    out: list[str] = []
    while len(out) < reply_tokens:
        if out:
            out.append("\n\n")  # the text repeats as a new paragraph
        out.extend(tokens[: reply_tokens - len(out)])
    return out[:reply_tokens]
