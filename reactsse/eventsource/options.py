"""``EventSourceOptions``: every option of ``EventSource`` and ``connect()``, written once.

Names, types, defaults, documentation and validation live here and only here. ``EventSource``
and ``connect()`` take ``options=EventSourceOptions(...)`` and/or the same names as keyword
arguments (``connect(url, reconnect=False)``), merged by ``EventSourceOptions.merge``.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reactsse.eventsource.request import Headers, normalise_headers
from reactsse.eventsource.trace import Trace
from reactsse.http.proxy import ProxyURL, parse_proxy_url

__all__ = ["EventSourceOptions"]


@dataclass(frozen=True)
class EventSourceOptions:
    """The options of an ``EventSource`` (and ``connect()``); docs/eventsource.md has a table.

    Raises ``ValueError`` for a negative (or NaN) duration or count, a timeout that is not > 0,
    or both ``body`` and ``json``; ``LocalProtocolError`` for a header with CR/LF/NUL.
    """

    method: str = "GET"
    """Any HTTP method."""
    headers: Headers | None = None
    """A mapping or name/value pairs; they override the defaults (``Accept``, ...)."""
    body: bytes | str | None = None
    """The request body: bytes, or str (sent UTF-8)."""
    json: object = None
    """Any JSON value, serialised compactly; sets ``Content-Type: application/json`` unless
    given. Not with ``body``."""
    reconnect: bool = True
    """Reconnect after a network error, a timeout, a 408/429/5xx, or the end of an open stream."""
    reconnect_with_body: bool = False
    """Re-send a request that has a body on reconnect (False: such a source closes instead)."""
    retry: float = 3.0
    """The reconnection time in seconds, until the server sends ``retry:``."""
    max_reconnect_delay: float = 30.0
    """The backoff cap in seconds (the server's ``retry`` is still the floor)."""
    min_reconnect_delay: float = 0.1
    """The least wait before any reconnect, in seconds, whatever the server asks (``retry: 0``,
    ``Retry-After: 0``): a server that closes at once cannot make the client spin."""
    backoff_reset_after: float = 60.0
    """Seconds a stream must stay open for the backoff to start over: a stream that opens and
    ends sooner counts as a failure (LaunchDarkly's SSE clients do the same with
    ``retry_delay_reset_threshold``, 60 s)."""
    max_retries: int | None = None
    """How many failed attempts in a row are retried (None: no limit)."""
    last_event_id: str = ""
    """Resume from this ID (sent as ``Last-Event-ID`` from the first request on)."""
    connect_timeout: float | None = 30.0
    """Seconds for name resolution + TCP connect + TLS handshake, or None."""
    read_timeout: float | None = None
    """Seconds without a single byte (waiting for the head or the body), or None."""
    head_timeout: float | None = 60.0
    """Seconds from sending the request to the complete final response head (1xx heads do not
    stop it), or None: bounds a head sent a byte at a time, or endless ``102 Processing``."""
    event_timeout: float | None = None
    """Seconds without an event once open (comments do not count), or None."""
    max_redirects: int = 10
    """Redirects followed per attempt."""
    max_event_size: int = 8 * 1024 * 1024
    """The SSE decoder's limit on one event (or one line)."""
    ssl_context: ssl.SSLContext | None = None
    """For https; None: ``reactsse.connector.default_ssl_context()``."""
    body_reader: Literal["batch", "h11"] | None = None
    """Passed to ``ClientConnection`` (None: its default)."""
    trace: Trace | None = None
    """A ``Trace`` (e.g. ``TextTrace()``) receiving every step."""
    proxy: str | ProxyURL | bool | None = None
    """None: the proxy from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (never
    for loopback); False: no proxy, the environment ignored (httpx's ``trust_env=False``); a
    URL (``http://``, ``https://``, ``socks5h://``, ..., credentials allowed): every request
    through it."""
    proxy_ssl_context: ssl.SSLContext | None = None
    """For an ``https://`` proxy: the context that verifies the proxy's certificate against its
    host name; None: ``reactsse.connector.default_ssl_context()`` (``ssl_context`` is the
    target's only, as curl's ``--proxy-cacert`` is apart from ``--cacert``)."""

    def __post_init__(self) -> None:
        for name in ("retry", "max_reconnect_delay", "min_reconnect_delay", "backoff_reset_after"):
            value = getattr(self, name)
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"{name} must be >= 0, not {value!r}")
        for name in ("connect_timeout", "read_timeout", "head_timeout", "event_timeout"):
            timeout = getattr(self, name)
            if timeout is not None and not timeout > 0:
                raise ValueError(f"{name} must be > 0 or None, not {timeout!r}")
        if self.max_redirects < 0 or (self.max_retries is not None and self.max_retries < 0):
            raise ValueError("max_redirects and max_retries must be >= 0")
        if self.body is not None and self.json is not None:
            raise ValueError("pass body or json, not both")
        if isinstance(self.proxy, str):  # parsed once: InvalidURL now, no password in a repr
            object.__setattr__(self, "proxy", parse_proxy_url(self.proxy))
        # Pairs, once: an iterator of pairs would be used up by this check otherwise.
        object.__setattr__(self, "headers", tuple(normalise_headers(self.headers)))

    @classmethod
    def merge(
        cls, options: EventSourceOptions | None, overrides: Mapping[str, Any]
    ) -> EventSourceOptions:
        """``options`` (default: all defaults) with ``overrides`` applied, validated.

        ``TypeError`` names an unknown option.
        """
        base = cls() if options is None else options
        if not overrides:
            return base
        unknown = sorted(set(overrides) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown EventSource option(s): {', '.join(unknown)}")
        return dataclasses.replace(base, **overrides)
