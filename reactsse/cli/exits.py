"""Exit codes of the ``reactsse`` command, and the one line each expected failure prints.

Stable (docs/cli.md):

==== =====================================================================================
0    success (also a stream that ended without its ``[DONE]``: a warning is printed)
1    the peer broke the protocol (malformed HTTP or SSE, a limit exceeded, a redirect to a URL
     that cannot be requested), or another error
2    bad usage: unknown option, bad header syntax, a URL given that cannot be requested
3    the network failed: connection refused, name not resolved, TLS failure, timeout, reset
4    the server answered with an HTTP error status (401, 404, 429, 500 ...) or not a stream
5    the server reported an error inside the stream (an OpenAI ``error`` payload or event)
130  interrupted (Ctrl-C)
==== =====================================================================================

Expected failures print one line, ``reactsse: <what>: <message>``, and no traceback.
"""

from __future__ import annotations

import re

from reactsse.cli.hints import status_line
from reactsse.errors import (
    APIError,
    HTTPStatusError,
    InvalidURL,
    LocalProtocolError,
    ReactSSEError,
    Timeout,
    TLSError,
    TooManyRedirects,
    TransportError,
)

__all__ = [
    "EXIT_API",
    "EXIT_ERROR",
    "EXIT_HTTP",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "describe",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
"""Bad usage, including a URL that cannot be requested (argparse uses 2 too)."""
EXIT_NETWORK = 3
"""Connection refused, name resolution, TLS, timeouts, connection reset."""
EXIT_HTTP = 4
"""An HTTP error status, or a response that is not an event stream."""
EXIT_API = 5
"""An error the server reported inside the stream (``APIError``)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report SIGINT (128 + 2)."""


class UsageError(Exception):
    """A bad option value found after argparse (e.g. ``-H`` without a colon)."""


# The failures whose line is a fixed prefix and the error's message, first match wins
# (subclasses before their bases).
_PLAIN: tuple[tuple[type[BaseException], int, str], ...] = (
    (TooManyRedirects, EXIT_HTTP, "HTTP error"),
    (TLSError, EXIT_NETWORK, "TLS error"),
    (Timeout, EXIT_NETWORK, "timeout"),
    (TransportError, EXIT_NETWORK, "network error"),
)


def describe(error: BaseException) -> tuple[int, str]:
    """Map an expected failure to its exit code and one line of text."""
    if isinstance(error, UsageError):
        return EXIT_USAGE, f"usage error: {error}"
    if isinstance(error, (InvalidURL, LocalProtocolError)):
        return EXIT_USAGE, f"invalid request: {_request_problem(error)}"
    if isinstance(error, APIError):
        code = f" ({error.code})" if error.code is not None else ""
        return EXIT_API, f"the server reported an error{code}: {error}"
    if isinstance(error, HTTPStatusError):
        return EXIT_HTTP, f"HTTP error: {status_line(error)}"
    for kind, exit_code, what in _PLAIN:
        if isinstance(error, kind):
            return exit_code, f"{what}: {error}"
    if isinstance(error, ReactSSEError):
        return EXIT_ERROR, f"{type(error).__name__}: {error}"
    # An OSError outside our translation: e.g. `serve` cannot bind its port.
    if isinstance(error, OSError) and error.strerror:
        return EXIT_ERROR, error.strerror
    return EXIT_ERROR, str(error)


def _request_problem(error: ReactSSEError) -> str:
    # The HTTP layer's message already starts with "invalid request: ", and h11 shows the
    # offending name as a bytes repr (b'Bad Name'): say it once, as text.
    text = str(error).removeprefix("invalid request: ")
    return re.sub(r"""\bb(['"])(.*?)\1""", r"\1\2\1", text)
