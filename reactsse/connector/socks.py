"""The SOCKS5 (RFC 1928, RFC 1929) and SOCKS4a handshakes, sans-IO, on ``socksio``.

``socksio`` does the framing; this module adds what a byte stream needs around it: it keeps
the bytes until a whole reply is there (socksio parses complete replies only), and turns a
refusal into a ``ProxyError`` that carries the proxy's reply code. The target's name is always
sent to the proxy (remote DNS, ``socks5h`` and ``socks4a``), as httpcore's SOCKS proxy does for
``socks5`` too: the name is resolved where the proxy is, which is what a proxy is for.
``socksio`` is an optional dependency (the ``socks`` extra), imported when a SOCKS proxy is used.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from reactsse.errors import ProxyError
from reactsse.http.tunnel import HandshakeStep
from reactsse.http.url import format_address

__all__ = ["SocksHandshake"]

# SOCKS5 reply codes (RFC 1928 section 6) that another attempt may get past.
_TRANSIENT_SOCKS5 = {1, 3, 4, 5, 6}


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _import_socksio(target: str) -> Any:
    try:
        import socksio
    except ImportError:
        raise ProxyError(
            "a SOCKS proxy needs the socksio package: pip install 'reactsse[socks]'",
            retryable=False,
            target=target,
        ) from None
    return socksio


class SocksHandshake:
    """Open a tunnel to ``host:port`` through the SOCKS proxy shown as ``proxy``.

    ``version`` is 5 or 4 (SOCKS4a). The credentials go to the proxy only (RFC 1929 for
    SOCKS5, the user id for SOCKS4a) and never appear in an error.
    """

    def __init__(
        self,
        proxy: str,
        host: str,
        port: int,
        *,
        version: int,
        username: str = "",
        password: str = "",
    ) -> None:
        self.authority = format_address(host, port)
        self._socksio = _import_socksio(self.authority)
        self._proxy = proxy
        self._target = (host, port)  # as socksio's from_address takes it
        self._version = version
        self._username = username
        self._password = password
        self._buffer = b""
        self._stage = "auth" if version == 5 else "connect"

    def start(self) -> bytes:
        if self._version == 4:
            socks4 = self._socksio.socks4
            self._conn = socks4.SOCKS4Connection(user_id=self._username.encode())
            # An IPv4 literal goes as plain SOCKS4 (every SOCKS4 server knows it); a name as
            # SOCKS4a, resolved by the proxy.
            request = socks4.SOCKS4Request if _is_ipv4(self._target[0]) else socks4.SOCKS4ARequest
            self._conn.send(
                request.from_address(
                    socks4.SOCKS4Command.CONNECT,
                    self._target,
                    user_id=self._username.encode(),
                )
            )
            return bytes(self._conn.data_to_send())
        socks5 = self._socksio.socks5
        self._conn = socks5.SOCKS5Connection()
        methods = [socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED]
        if self._username or self._password:
            methods = [socks5.SOCKS5AuthMethod.USERNAME_PASSWORD]
        self._conn.send(socks5.SOCKS5AuthMethodsRequest(methods))
        return bytes(self._conn.data_to_send())

    def _needed(self) -> int:
        """The length of the reply being read (SOCKS replies say their own length)."""
        if self._version == 4:
            return 8
        if self._stage in ("auth", "password"):
            return 2
        if len(self._buffer) < 5:
            return 5
        atype = self._buffer[3]
        address = {1: 4, 4: 16, 3: 1 + self._buffer[4]}.get(atype, 0)
        return 4 + address + 2

    def _fail(self, reason: str, code: int | None, retryable: bool) -> ProxyError:
        return ProxyError(
            f"SOCKS proxy {self._proxy} refused {self.authority}: {reason}",
            status=code,
            retryable=retryable,
            target=self.authority,
        )

    def receive(self, data: bytes) -> HandshakeStep:
        if not data and self._stage == "password":
            # RFC 1929 says a failure status comes first; some servers only close.
            raise self._fail("authentication failed (the proxy closed the connection)", None, False)
        if not data:
            raise ProxyError(
                f"SOCKS proxy {self._proxy} closed the connection during the handshake "
                f"for {self.authority}",
                target=self.authority,
            )
        self._buffer += data
        needed = self._needed()
        if len(self._buffer) < needed:
            return b"", False, b""
        reply, self._buffer = self._buffer[:needed], self._buffer[needed:]
        try:
            return self._step(reply)
        except self._socksio.ProtocolError as exc:
            raise self._fail(f"bad reply: {exc}", None, False) from None

    def _step(self, reply: bytes) -> HandshakeStep:
        if self._version == 4:
            answer = self._conn.receive_data(reply)
            code = answer.reply_code
            if code != self._socksio.socks4.SOCKS4ReplyCode.REQUEST_GRANTED:
                return self._raise(f"{code.name} ({code.value[0]:#x})", code.value[0], False)
            return b"", True, self._buffer
        socks5 = self._socksio.socks5
        answer = self._conn.receive_data(reply)
        if self._stage == "auth":
            if answer.method == socks5.SOCKS5AuthMethod.USERNAME_PASSWORD:
                self._stage = "password"
                self._conn.send(
                    socks5.SOCKS5UsernamePasswordRequest(
                        self._username.encode(), self._password.encode()
                    )
                )
                return bytes(self._conn.data_to_send()), False, b""
            if answer.method != socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED:
                return self._raise("no acceptable authentication method", None, False)
            return self._command()
        if self._stage == "password":
            if not answer.success:
                return self._raise("authentication failed", None, False)
            return self._command()
        code = answer.reply_code
        if code != socks5.SOCKS5ReplyCode.SUCCEEDED:
            number = code.value[0]
            reason = code.name.replace("_", " ").lower()
            return self._raise(f"{reason} ({number})", number, number in _TRANSIENT_SOCKS5)
        return b"", True, self._buffer

    def _command(self) -> HandshakeStep:
        socks5 = self._socksio.socks5
        self._stage = "connect"
        self._conn.send(
            socks5.SOCKS5CommandRequest.from_address(socks5.SOCKS5Command.CONNECT, self._target)
        )
        return bytes(self._conn.data_to_send()), False, b""

    def _raise(self, reason: str, code: int | None, retryable: bool) -> HandshakeStep:
        raise self._fail(reason, code, retryable)
