"""The project's exceptions: one base, and every foreign exception translated once.

This module imports nothing from the package (it is the bottom layer, which any module imports).
Foreign exceptions are translated exactly once, with ``raise ... from``: h11's in
``http/connection.py``, ``OSError``/``ssl.SSLError`` in ``connector/oserrors.py`` (after
httpcore's ``httpcore/_exceptions.py``).

Hierarchy::

    ReactSSEError
    ├── LocalProtocolError          we were asked to send something HTTP or SSE forbids
    ├── RemoteProtocolError         the peer sent something HTTP or SSE forbids
    │   └── LimitExceeded           a configured size limit was hit (names the limit)
    │       └── EventTooLarge       one SSE event (or line) exceeds max_event_size
    ├── InvalidURL (also ValueError)
    ├── TransportError (also OSError)
    │   ├── ConnectError            name resolution or TCP connect failed
    │   │   └── ProxyError          the proxy refused the tunnel (its status, not the target's)
    │   ├── TLSError                handshake or certificate verification failed
    │   └── ConnectionClosed        the peer closed or reset the connection mid-message
    ├── Timeout (also TimeoutError)
    │   ├── ConnectTimeout
    │   ├── ReadTimeout             no bytes for read_timeout seconds
    │   │   └── HeadTimeout         no complete response head within head_timeout seconds
    │   └── EventTimeout            no event for event_timeout seconds (comments do not count)
    ├── HTTPStatusError             a response that is not a usable event stream
    │   └── ContentTypeError        200, but not text/event-stream
    ├── TooManyRedirects
    └── APIError                    an OpenAI-style error inside a stream (``{"error": ...}``)

Warnings (not exceptions; ``warnings.warn`` them, pytest turns them into errors)::

    IncompleteStreamWarning         an OpenAI stream ended without its terminator (``[DONE]``)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "APIError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ContentTypeError",
    "EventTimeout",
    "EventTooLarge",
    "HTTPStatusError",
    "HeadTimeout",
    "IncompleteStreamWarning",
    "InvalidURL",
    "LimitExceeded",
    "LocalProtocolError",
    "ProxyError",
    "ReactSSEError",
    "ReadTimeout",
    "RemoteProtocolError",
    "TLSError",
    "Timeout",
    "TooManyRedirects",
    "TransportError",
]


class ReactSSEError(Exception):
    """Base class of every exception reactsse raises on purpose.

    An error carries no data: a sans-IO call that meets a fault returns what it decoded before
    it, and the next call raises (h11's convention), so nothing received is lost.

    Every subclass passes its message as the one positional argument and keeps its other
    fields as attributes, so ``str(error)`` is the message alone (for the ``OSError`` and
    ``TimeoutError`` subclasses too: with one argument no errno is formatted in).
    """


class LocalProtocolError(ReactSSEError):
    """We were asked to send something the protocol forbids (a bug in the caller)."""


class RemoteProtocolError(ReactSSEError):
    """The peer sent bytes that break HTTP/1.1 or the event-stream format."""


class LimitExceeded(RemoteProtocolError):
    """A configured size limit was exceeded; ``limit`` names it, in bytes."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class EventTooLarge(LimitExceeded):
    """One event-stream event, or one line, is larger than ``max_event_size`` (``limit``).

    Raised by ``reactsse.sse.EventStreamDecoder``: a ``feed`` that completed events before the
    offending point returns them, and the decoder's next call raises this (see its docstring).
    """


class InvalidURL(ReactSSEError, ValueError):
    """A URL that cannot be requested: bad scheme, no host, bad port."""


class TransportError(ReactSSEError, OSError):
    """The network failed: carries the host and port when known."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectError(TransportError):
    """Name resolution or the TCP connect failed."""


class ProxyError(ConnectError):
    """The proxy refused or failed the tunnel: ``status`` is the proxy's own answer (an HTTP
    status such as 407, 403 or 502 to ``CONNECT``, or a SOCKS reply code), not the target's.

    ``target`` is the ``host:port`` the tunnel was to lead to (IPv6 in brackets), so that a
    program can tell which destination a proxy's rules refused; ``host`` and ``port``, when
    set, are the proxy's own address.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        target: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.status = status
        self.target = target
        self._retryable = retryable

    @property
    def retryable(self) -> bool:
        """False for a refusal that will not fix itself (bad credentials, a forbidden target)."""
        if self._retryable is not None:
            return self._retryable
        return self.status is None or self.status in (408, 429) or self.status >= 500


class TLSError(TransportError):
    """TLS failed: the handshake (certificate not trusted, wrong host name, protocol error), or
    a corrupt record or alert on an established connection."""


class ConnectionClosed(TransportError):
    """The peer closed or reset the connection before the message was complete."""


class Timeout(ReactSSEError, TimeoutError):
    """Base of the timeouts; ``timeout`` is the configured value in seconds."""

    def __init__(self, message: str, *, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class ConnectTimeout(Timeout):
    """Connecting (resolution, TCP and TLS handshake) took longer than the connect timeout."""


class ReadTimeout(Timeout):
    """No byte arrived for ``timeout`` seconds."""


class HeadTimeout(ReadTimeout):
    """The final response head was not complete ``timeout`` seconds after the request was sent
    (a head trickling in, or 1xx heads without end)."""


class EventTimeout(Timeout):
    """No event arrived for ``timeout`` seconds (keep-alive comments do not count)."""


class HTTPStatusError(ReactSSEError):
    """A response that cannot be read as an event stream.

    Carries what a user needs to act: the URL, ``status``, ``reason``, ``headers`` (name, value
    pairs as received, names lower-cased) and ``body``: at most the first 64 KiB of the body,
    decoded as UTF-8 with replacement.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int,
        reason: str = "",
        headers: Sequence[tuple[str, str]] = (),
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        self.body = body


class ContentTypeError(HTTPStatusError):
    """A 200 response whose Content-Type is not ``text/event-stream``."""


class TooManyRedirects(ReactSSEError):
    """More redirects than allowed, or a redirect loop."""


class APIError(ReactSSEError):
    """An OpenAI-compatible server reported an error inside a stream it had started (status 200).

    Raised for a chat-completions chunk ``{"error": {...}}``, an ``event: error`` event, or a
    Responses API ``response.failed`` / ``error`` event. The attributes are the server's own
    fields, ``None`` when it did not send them: ``message`` (str), ``type`` (e.g.
    ``"server_error"``), ``code`` (str or int, e.g. ``"rate_limit_exceeded"``), ``param``.
    ``event`` is the SSE event type that carried the error (``"message"``, ``"error"``,
    ``"response.failed"``). ``body`` is what the server sent about the error, decoded from
    JSON, as the official ``openai`` package's ``APIError.body`` is: the inner object of
    ``{"error": {...}}`` with any fields beyond these four, the text of ``{"error": "text"}``,
    the whole event of a Responses API ``error`` event, ``{"message": text}`` for an
    ``event: error`` whose data is not JSON; ``None`` for an error built without one.
    ``message`` is read-only: it is ``str(error)``.
    """

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        event: str = "message",
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.code = code
        self.param = param
        self.event = event
        self.body = body

    @property
    def message(self) -> str:
        """The server's message: ``str(error)``, the one positional argument."""
        return str(self.args[0])


class IncompleteStreamWarning(UserWarning):
    """An OpenAI-style stream ended (the connection closed) before its terminator arrived.

    Chat completions end with ``data: [DONE]``, Responses API streams with
    ``response.completed``/``response.incomplete``. Without it the text may be cut short; the
    client warns with this class and returns what it received instead of hanging or raising.
    """
