"""``Trace`` (what an ``EventSource`` does, as it happens), and the redaction of what it sees.

Secrets never reach a trace: the helpers here (on ``reactsse.http.redact``) redact header values,
URLs (userinfo, credential-looking query parameters) and header lines inside raw socket reads
before a trace method sees them.
"""

from __future__ import annotations

from collections.abc import Sequence

from reactsse.connector import TLSLayer, TLSTransport, Transport
from reactsse.errors import ReactSSEError
from reactsse.http import ResponseHead
from reactsse.http.redact import ReadRedactor, Scrubber, redact_headers, redact_url
from reactsse.sse import Comment, Dispatch, Field

__all__ = ["Trace"]


class Trace:
    """Receives what an ``EventSource`` does, as it happens (the CLI's ``--trace`` teaching mode).

    Subclass it and override what you need; every method here does nothing. Secrets never reach
    a trace: the value of every header whose name contains ``authorization``, ``cookie``,
    ``token``, ``secret``, ``password`` or an API key arrives as ``<redacted>``, URLs arrive
    with userinfo and credential-looking query values redacted, and the credentials the request
    sends are scrubbed from what the server echoes (``socket_read`` data, error messages).
    When no trace is given, the source pays nothing but an ``is None`` test per read.

    ``wants_chunk_lines``: set it to True to receive ``chunk_line`` calls; the de-chunker then
    leaves its fast path, so a trace that does not show them does not ask for them.
    """

    wants_chunk_lines = False

    def connecting(self, host: str, port: int, tls: bool) -> None:
        """A connection attempt starts (resolution, TCP, then TLS when ``tls``)."""

    def via_proxy(self, proxy: str, tunnel: str) -> None:
        """The connection goes through ``proxy`` (``host:port``, never its credentials), which
        opens ``tunnel`` (e.g. ``CONNECT api.example.com:443``)."""

    def connected(self, peer: str, tls_version: str | None) -> None:
        """The connection is up: ``peer`` as ``host:port``, ``tls_version`` (e.g. TLSv1.3)."""

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        """The request went out: its request line, headers as sent (redacted), body size."""

    def socket_read(self, data: bytes | memoryview) -> None:
        """One read from the socket: ``data`` is what it returned (a view: do not keep it)."""

    def response_head(self, head: ResponseHead) -> None:
        """The response head arrived (headers redacted)."""

    def chunk_line(self, line: bytes) -> None:
        """A chunk-size line of a chunked body as received, without its CRLF (RFC 9112 §7.1),
        when ``wants_chunk_lines``; the last one is ``b"0"``. Reported while HTTP decodes the
        read: a line that follows a response head in the same read comes before
        ``response_head``, which is reported once the read is decoded."""

    def body(self, size: int, decoded_size: int) -> None:
        """A piece of response body: ``size`` bytes on the wire, ``decoded_size`` after gzip."""

    def sse(self, record: Comment | Field | Dispatch) -> None:
        """A line the SSE decoder interpreted: a comment, a field, or a dispatch (the event)."""

    def redirect(self, status: int, location: str) -> None:
        """A redirect is followed to ``location`` (absolute)."""

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        """The source will reconnect in ``delay`` seconds, because of ``reason``."""

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        """An error happened; ``fatal`` when the source closes because of it."""

    def closed(self) -> None:
        """The source reached CLOSED (by ``close()`` or by itself)."""


# -- redaction -------------------------------------------------------------------------------


def excerpt(data: bytes | memoryview, limit: int = 48) -> str:
    """The first ``limit`` bytes of one read on its own, escaped, secret header values redacted."""
    return ReadRedactor().excerpt(data, limit)


def redacted_head(head: ResponseHead, scrubber: Scrubber | None = None) -> ResponseHead:
    """``head`` itself, or a copy with its secret header values (and URLs) redacted, and the
    request's credentials (``scrubber``) removed from what the server echoes."""
    headers = tuple(redact_headers(head.headers))
    reason = head.reason
    if scrubber:
        headers = tuple((name, scrubber.text(value)) for name, value in headers)
        reason = scrubber.text(reason)
    if headers == head.headers and reason == head.reason:
        return head
    return ResponseHead(
        status=head.status,
        reason=reason,
        headers=headers,
        http_version=head.http_version,
    )


def trace_request(trace: Trace, wire: bytes) -> None:
    """Report a request's bytes as sent: request line, headers (both redacted), body size."""
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    trace.request_sent(redact_url(lines[0]), redact_headers(headers), len(body))


def trace_connected(trace: Trace, transport: Transport) -> None:
    """Report a connection that is up: the peer as ``host:port``, and the TLS version if any."""
    peer = transport.peer
    host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
    version = None
    if isinstance(transport, (TLSTransport, TLSLayer)):  # TLS with the target (TLSLayer: in TLS)
        version = transport.ssl_object.version()
    trace.connected(f"{host}:{peer[1]}", version)
