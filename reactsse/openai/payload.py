"""Reading what an OpenAI-style server sends: stream payloads and error bodies.

The payloads are foreign JSON: every field is read defensively and its type never trusted.
These helpers are shared by both accumulators and the client; they are not user API (the
package ``__all__`` leaves them out).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from reactsse.errors import (
    APIError,
    ContentTypeError,
    HTTPStatusError,
    IncompleteStreamWarning,
    ReactSSEError,
    RemoteProtocolError,
)
from reactsse.openai.types import Usage
from reactsse.sse import MessageEvent

__all__ = [
    "DONE",
    "api_error_from_payload",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "decode_json",
    "error_json",
    "error_message_from_body",
    "translate_error",
    "usage_from",
    "warn_incomplete",
]

DONE = "[DONE]"
"""The data of the event that ends a Chat Completions stream."""

# json.loads recurses once per nesting level: a hostile document nested deeper than the
# interpreter's recursion limit raises RecursionError, which is not a ValueError. Both mean
# "not a JSON document we can read".
_JSON_ERRORS = (ValueError, RecursionError)


def decode_json(event: MessageEvent) -> dict[str, Any]:
    """The event's data as a JSON object; ``RemoteProtocolError`` if it is anything else."""
    try:
        value = json.loads(event.data)
    except _JSON_ERRORS as exc:
        # Raised outside this block: a RecursionError's traceback is thousands of frames long.
        problem: str | None = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    else:
        problem = None
    if problem is not None:
        raise RemoteProtocolError(
            f"event {event.type!r} carries data that is not JSON ({problem}): {event.data[:200]!r}"
        )
    if not isinstance(value, dict):
        raise RemoteProtocolError(
            f"event {event.type!r} carries JSON that is not an object: {event.data[:200]!r}"
        )
    return value


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: object, default: int = 0) -> int:
    # bool is an int subclass; a JSON true is not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def usage_from(value: object) -> Usage | None:
    """A ``Usage`` from either API's usage object; ``None`` if there is none."""
    if not isinstance(value, dict):
        return None
    # Chat Completions says prompt/completion, the Responses API says input/output.
    input_tokens = as_int(value.get("input_tokens", value.get("prompt_tokens")))
    output_tokens = as_int(value.get("output_tokens", value.get("completion_tokens")))
    total = as_int(value.get("total_tokens"), input_tokens + output_tokens)
    return Usage(input_tokens, output_tokens, total)


def api_error_from_payload(payload: Mapping[str, Any], *, event: str = "message") -> APIError:
    """Build an ``APIError`` from an OpenAI error object.

    Takes either the wrapper ``{"error": {"message": ..., "type": ..., "code": ...}}`` or the
    inner object itself (the Responses API's ``error`` event and ``response.error``). Missing
    fields become ``None``; a missing message becomes a generic one naming ``event``.
    """
    inner = payload.get("error", payload)
    if not isinstance(inner, Mapping):
        # Some servers send {"error": "text"}.
        return APIError(str(inner), event=event, body=inner)
    code = inner.get("code")
    return APIError(
        as_str(inner.get("message")) or f"the server reported an error (event {event!r})",
        type=as_str(inner.get("type")),
        code=code if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        param=as_str(inner.get("param")),
        event=event,
        body=inner,
    )


def error_json(data: str) -> dict[str, Any]:
    """The data of an ``event: error`` as an object: it should be JSON, but a plain-text
    message must still surface."""
    try:
        value = json.loads(data)
    except _JSON_ERRORS:
        return {"message": data.strip()[:1000] or None}
    if isinstance(value, dict):
        return value
    return {"message": str(value)}


def warn_incomplete(what: str) -> None:
    """Warn ``IncompleteStreamWarning``; call it from an accumulator's ``finish()``."""
    # stacklevel 3: point at the caller of finish() (the iterator or the user), not at us.
    warnings.warn(what, IncompleteStreamWarning, stacklevel=3)


# --------------------------------------------------------------------------- error responses


def error_message_from_body(body: str) -> str | None:
    """The ``message`` of an OpenAI error body (``{"error": {"message": ...}}``), if any."""
    try:
        value = json.loads(body)
    except _JSON_ERRORS:
        return None
    if not isinstance(value, dict):
        return None
    error = value.get("error", value)
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        return as_str(error.get("message"))
    return None


def translate_error(error: ReactSSEError, scrub: Callable[[str], str]) -> ReactSSEError:
    """Put the server's own explanation into a status error's text; ``scrub`` the key out.

    ``scrub`` replaces the API key in a text (some servers echo the key they rejected, and it
    must not reach our messages). Other errors are returned as they are.
    """
    if isinstance(error, HTTPStatusError):
        body = scrub(error.body)
        explanation = error_message_from_body(body)
        if explanation is None and not isinstance(error, ContentTypeError):
            explanation = " ".join(body.split())[:200] or None
        message = f"HTTP {error.status} {error.reason}".rstrip() + f" from {error.url}"
        if isinstance(error, ContentTypeError):
            content_type = next((v for k, v in error.headers if k == "content-type"), "")
            message += f": expected text/event-stream, got {content_type or 'no Content-Type'}"
        if explanation:
            message += f": {explanation}"
        translated = type(error)(
            scrub(message),
            url=error.url,
            status=error.status,
            reason=scrub(error.reason),
            headers=[(name, scrub(value)) for name, value in error.headers],
            body=body,
        )
        # The original carries the server's text as it came: chained only when it holds no
        # key (a printed traceback shows the whole chain).
        if scrub(str(error)) == str(error) and scrub(error.body) == error.body:
            translated.__cause__ = error
        else:
            translated.__suppress_context__ = True
        return translated
    if isinstance(error, APIError):
        # Every string the server sent is scrubbed: the relay and the CLI show type and code.
        fields = (error.message, error.type, error.code, error.param, error.body)
        scrubbed = tuple(_scrub_json(field, scrub) for field in fields)
        if scrubbed != fields:
            api_error = APIError(
                scrub(error.message),
                type=None if error.type is None else scrub(error.type),
                code=scrub(error.code) if isinstance(error.code, str) else error.code,
                param=None if error.param is None else scrub(error.param),
                event=error.event,
                body=scrubbed[4],
            )
            api_error.__suppress_context__ = True  # the original holds the key
            return api_error
    return error


def _scrub_json(value: object, scrub: Callable[[str], str]) -> object:
    """``value`` (decoded JSON) with ``scrub`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub(str(key)): _scrub_json(item, scrub) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_json(item, scrub) for item in value]
    return value
