"""reactsse: Server-Sent Events through a faithful Python port of the ReactPHP event loop.

This module only re-exports the public names; each lives in the module that documents it.
"""

from __future__ import annotations

from reactsse.errors import (
    ConnectError,
    ConnectionClosed,
    ConnectTimeout,
    ContentTypeError,
    EventTimeout,
    HTTPStatusError,
    InvalidURL,
    LimitExceeded,
    LocalProtocolError,
    ReactSSEError,
    ReadTimeout,
    RemoteProtocolError,
    Timeout,
    TLSError,
    TooManyRedirects,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ContentTypeError",
    "EventTimeout",
    "HTTPStatusError",
    "InvalidURL",
    "LimitExceeded",
    "LocalProtocolError",
    "ReactSSEError",
    "ReadTimeout",
    "RemoteProtocolError",
    "TLSError",
    "Timeout",
    "TooManyRedirects",
    "TransportError",
    "__version__",
]
