"""Helpers the mock's OpenAI-compatible apps share: JSON, errors, pacing, request fields."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from reactsse.server.app import BodyReply, Request, error_reply

JSONObject = dict[str, Any]

# Compact separators as OpenAI sends them; non-ASCII kept as UTF-8 like the real API. One encoder
# for all calls: json.dumps with options builds a new JSONEncoder every time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> str:
    """``value`` as compact JSON, the way OpenAI's API writes it."""
    return _ENCODER.encode(value)


def pace(tokens_before: int, rate: float | None) -> float:
    """Seconds after the start at which the event ending after ``tokens_before`` tokens is due."""
    return tokens_before / rate if rate else 0.0


def chunks(tokens: Sequence[str], size: int) -> Iterator[tuple[int, str]]:
    """(tokens emitted after this chunk, chunk text) for groups of ``size`` tokens."""
    for start in range(0, len(tokens), size):
        group = tokens[start : start + size]
        yield start + len(group), "".join(group)


def json_texts(tokens: tuple[str, ...], size: int) -> tuple[bytes, ...]:
    """The JSON strings of ``tokens`` taken ``size`` at a time, encoded as UTF-8.

    Cached up to ``_CACHED_TOKENS`` tokens: the mock's answers repeat (an answer depends on the
    prompt or on ``reply_tokens`` only), so a run of many requests encodes each answer's texts
    once, and a very long answer does not stay in memory.
    """
    if len(tokens) > _CACHED_TOKENS:
        return _json_texts(tokens, size)
    return _cached_json_texts(tokens, size)


_CACHED_TOKENS = 4096


def _json_texts(tokens: tuple[str, ...], size: int) -> tuple[bytes, ...]:
    return tuple(dumps(text).encode() for _, text in chunks(tokens, size))


_cached_json_texts = lru_cache(maxsize=64)(_json_texts)


def message_text(content: object) -> str:
    """Text of a chat/Responses message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def model_param(body: JSONObject) -> str | BodyReply:
    """The request's ``model``: a non-empty string, or the 400 reply OpenAI gives."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_reply(
            400, "you must provide a model parameter", "invalid_request_error", param="model"
        )
    return model


def wants_usage(body: JSONObject) -> bool:
    """True if ``stream_options.include_usage`` is true: a last chunk with the ``usage``."""
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and stream_options.get("include_usage") is True


def int_param(body: JSONObject, *names: str) -> int | BodyReply | None:
    """The first of ``names`` present in ``body``: an integer >= 1, or a 400 reply."""
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return error_reply(
                400,
                f"Invalid '{name}': expected an integer >= 1, got {value!r}.",
                "invalid_request_error",
                param=name,
                code="invalid_value",
            )
        return value
    return None


def json_body(request: Request) -> JSONObject | BodyReply:
    """The request's JSON object body, or the 400 reply OpenAI gives."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return error_reply(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
            "invalid_request_error",
        )
    except RecursionError:
        # json.loads recurses once per nesting level (CPython's scanner), so a body nested
        # deeper than the interpreter's recursion limit cannot be read: a client error.
        return error_reply(
            400,
            "The JSON body of your request is nested too deeply to be parsed.",
            "invalid_request_error",
        )
    if not isinstance(body, dict):
        return error_reply(400, "The request body must be a JSON object.", "invalid_request_error")
    return body
