"""What the one error line says beyond the error itself: a short body excerpt, and a hint.

An HTTP error's body is shown as one short line (an HTML page's text without its tags, an
OpenAI-shaped JSON error's ``error.message``), and where the fix is obvious (a scheme missing,
TLS spoken to a plain-HTTP port, nothing listening, a stream that dropped) the line ends with
it. Nothing here does I/O: ``main`` prints what these functions return.
"""

from __future__ import annotations

import argparse
import html
import re

from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    HTTPStatusError,
    InvalidURL,
    TLSError,
)
from reactsse.http.redact import redact_url
from reactsse.http.url import format_address
from reactsse.openai.payload import error_message_from_body

__all__ = ["EXCERPT_CHARS", "body_excerpt", "hint", "one_line", "status_line"]

EXCERPT_CHARS = 200
"""The most characters of a response body an error line shows."""

# Script and style blocks are not text a reader wants; comments neither.
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def one_line(text: str) -> str:
    """``text`` with every run of whitespace that holds a line break made one space."""
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def body_excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most ``limit`` characters that says what an error body says.

    An OpenAI-shaped JSON error gives its ``error.message``; markup loses its tags, scripts and
    styles (entities decoded); whitespace is collapsed. A longer text ends in ``…``.
    """
    message = error_message_from_body(body)
    if message is not None:
        text = message
    elif "<" in body and ">" in body:
        text = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", body)))
    else:
        text = body
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def status_line(error: HTTPStatusError) -> str:
    """``HTTP 404 Not Found from URL: excerpt``: an HTTP error as one line.

    A response that is not an event stream keeps its own message (it names the content type).
    """
    if error.status == 200:
        return one_line(str(error))
    text = f"HTTP {error.status} {error.reason}".rstrip() + f" from {error.url}"
    excerpt = body_excerpt(error.body)
    return f"{text}: {excerpt}" if excerpt else text


def hint(error: BaseException, args: argparse.Namespace) -> str | None:
    """The obvious next step after ``error`` in the command ``args``, or ``None``."""
    url = getattr(args, "url", None) or getattr(args, "base_url", None)
    if isinstance(error, InvalidURL) and isinstance(url, str) and "://" not in url:
        return f"did you mean {redact_url('http://' + url)}?"
    if isinstance(error, TLSError) and "WRONG_VERSION_NUMBER" in str(error):
        suggestion = "try http://"
        if isinstance(url, str) and url.lower().startswith("https://"):
            suggestion = f"try {redact_url('http://' + url[len('https://') :])}"
        return f"is the server speaking plain http? {suggestion}"
    if isinstance(error, ConnectError) and "refused" in str(error).lower():
        if error.host is not None and error.port is not None:
            return f"is the server running on {format_address(error.host, error.port)}?"
        return "is the server running?"
    if (
        isinstance(error, ConnectionClosed)
        and args.command == "get"
        and not getattr(args, "reconnect", True)
    ):
        return "use --reconnect to resume with Last-Event-ID"
    return None
