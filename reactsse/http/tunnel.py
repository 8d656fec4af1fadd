"""An HTTP ``CONNECT`` tunnel's handshake (RFC 9110 section 9.3.6), sans-IO, on h11.

``ConnectHandshake`` gives the request's bytes, then takes the proxy's bytes until its answer
is complete: a 2xx opens the tunnel (the bytes after the head, if any, belong to the target),
anything else is a ``ProxyError`` carrying the proxy's status, never mistaken for a response
of the target. h11 knows ``CONNECT``: after a 2xx it switches protocols and hands back the
bytes it did not read (``Connection.trailing_data``).
"""

from __future__ import annotations

import h11

from reactsse.errors import ProxyError
from reactsse.http.url import format_address

__all__ = ["ConnectHandshake", "HandshakeStep"]

#: What a handshake step returns: (bytes to send, done, bytes after the handshake).
HandshakeStep = tuple[bytes, bool, bytes]


class ConnectHandshake:
    """``CONNECT host:port`` through the proxy ``proxy`` (shown as ``host:port`` in errors).

    ``authorization`` is the ``Proxy-Authorization`` value, or None; it never appears in an
    error. ``start()`` returns the request; ``receive(data)`` returns a ``HandshakeStep`` or
    raises ``ProxyError``.
    """

    def __init__(self, proxy: str, host: str, port: int, authorization: str | None = None) -> None:
        self._proxy = proxy
        authority = format_address(host, port)
        self.authority = authority
        self._conn = h11.Connection(h11.CLIENT)
        headers = [("Host", authority)]
        if authorization is not None:
            headers.append(("Proxy-Authorization", authorization))
        self._request = h11.Request(method="CONNECT", target=authority, headers=headers)

    def start(self) -> bytes:
        conn = self._conn
        return (conn.send(self._request) or b"") + (conn.send(h11.EndOfMessage()) or b"")

    def receive(self, data: bytes) -> HandshakeStep:
        """The proxy's next bytes (``b""``: it closed the connection)."""
        conn = self._conn
        if not data and conn.their_state is h11.SEND_RESPONSE:
            raise ProxyError(
                f"proxy {self._proxy} closed the connection before answering "
                f"CONNECT {self.authority}",
                target=self.authority,
            )
        conn.receive_data(data)
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProxyError(
                f"proxy {self._proxy} sent a bad answer to CONNECT {self.authority}: {exc}",
                target=self.authority,
            ) from None
        if event is h11.NEED_DATA:
            return b"", False, b""
        if isinstance(event, h11.Response):
            if 200 <= event.status_code <= 299:
                leftover, _closed = conn.trailing_data
                return b"", True, bytes(leftover)
            reason = event.reason.decode("latin-1", "replace")
            raise ProxyError(
                f"proxy {self._proxy} refused CONNECT {self.authority}: "
                f"{event.status_code} {reason}".rstrip(),
                status=event.status_code,
                target=self.authority,
            )
        if isinstance(event, h11.InformationalResponse):
            return self.receive(b"")  # a 1xx before the answer: read on
        raise ProxyError(  # pragma: no cover - h11 gives a response or needs data
            f"proxy {self._proxy} sent a bad answer to CONNECT {self.authority}",
            target=self.authority,
        )
