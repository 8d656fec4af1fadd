"""``connect``: resolve (in a thread), race TCP connects, a proxy's tunnel, TLS, one timeout.

It plays the part of reactphp/socket's ``Connector`` (``DnsConnector``,
``HappyEyeballsConnector``, ``SecureConnector`` and ``TimeoutConnector`` in one) and of
clue/reactphp-http-proxy's and clue/reactphp-socks's ``Client`` for proxies, with callbacks
where ReactPHP returns a promise. Invariants: ``connect`` calls exactly one of
``on_connected``/``on_error``, always from a loop callback (never synchronously inside
``connect()``), and none after ``cancel()``;
``PendingConnect.cancel()`` removes every loop registration, cancels every timer and closes
every socket before it returns.
"""

from __future__ import annotations

import enum
import socket
import ssl
from collections.abc import Callable, Sequence

from reactsse.connector.attempts import DEFAULT_ATTEMPT_DELAY, AddressAttempts, Failure
from reactsse.connector.oserrors import connect_failed, resolve_failed
from reactsse.connector.resolve import (
    Address,
    Resolution,
    Resolver,
    ResolveResult,
    getaddrinfo_addresses,
    ip_literal,
    resolve_literal,
)
from reactsse.connector.socks import SocksHandshake
from reactsse.connector.tls import TLSTransport, default_ssl_context
from reactsse.connector.tlslayer import TLSLayer
from reactsse.connector.transport import SocketTransport, Transport
from reactsse.connector.tunnel import Handshake, SocketHandshake, TransportTunnel
from reactsse.errors import ConnectError, ConnectTimeout, ProxyError, TLSError, TransportError
from reactsse.http.proxy import ProxyURL
from reactsse.http.tunnel import ConnectHandshake
from reactsse.http.url import format_address
from reactsse.loop.deferred import Deferred
from reactsse.loop.interface import LoopInterface
from reactsse.loop.oneshot import OneShotTimer

__all__ = ["PendingConnect", "connect"]


class _Phase(enum.Enum):
    """Life of a ``PendingConnect``: each phase ends in the next one or in DONE."""

    STARTING = "starting"  # connect() returned; the first step runs on the next tick
    RESOLVING = "resolving"  # getaddrinfo in a thread
    CONNECTING = "connecting"  # non-blocking TCP connects, raced (Happy Eyeballs)
    TUNNELLING = "tunnelling"  # the proxy's handshake (HTTP CONNECT or SOCKS)
    HANDSHAKING = "handshaking"  # TLS handshake
    DONE = "done"  # connected, failed or cancelled: no callback any more


class PendingConnect:
    """A connection attempt made by ``connect``; ``cancel()`` aborts it."""

    def __init__(
        self,
        loop: LoopInterface,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
        timeout: float | None,
        on_connected: Callable[[Transport], object],
        on_error: Callable[[Exception], object],
        proxy: ProxyURL | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = getaddrinfo_addresses,
        attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
        addresses: Sequence[Address] | None = None,
    ) -> None:
        self._loop = loop
        self._addresses = addresses
        self._proxy_ssl_context = proxy_ssl_context
        self._host = host
        self._port = port
        self._proxy = proxy
        self._resolver = resolver
        self._attempt_delay = attempt_delay
        # Whom the TCP connect goes to: the proxy, else the target itself.
        self._dial = (
            (host, port) if proxy is None else (ip_literal(proxy.host) or proxy.host, proxy.port)
        )
        self._tunnel: SocketHandshake | TransportTunnel | None = None
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._timeout = timeout
        # The one-shot result, as ReactPHP's Connector::connect() returns a promise: it settles
        # once, and after cancel() (its canceller releases everything) it calls nothing.
        self._result: Deferred[Transport] = Deferred(canceller=self._release)
        self._result.then(on_connected, on_error)
        self._phase = _Phase.STARTING
        self._deadline = None if timeout is None else loop.now() + timeout
        self._timer = OneShotTimer(loop, self._on_timeout)
        self._resolution: Resolution | None = None
        self._attempts: AddressAttempts | None = None
        # The TLS handshake under way: with the proxy (an https:// proxy), then the target's.
        self._tls: TLSTransport | TLSLayer | None = None

    @property
    def phase(self) -> str:
        """``"starting"``, ``"resolving"``, ``"connecting"``, ``"tunnelling"``, ``"handshaking"``
        or ``"done"``."""
        return self._phase.value

    def cancel(self) -> None:
        """Abort now: close the socket, stop the resolver wake-up, cancel the timer.

        Idempotent. After it returns neither ``on_connected`` nor ``on_error`` is called. The
        resolver thread, if any, cannot be interrupted; it ends when ``getaddrinfo`` returns
        and then touches nothing.
        """
        self._result.cancel()

    # -- steps ---------------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._phase is not _Phase.STARTING:
            return
        if self._deadline is not None:
            self._timer.arm(max(0.0, self._deadline - self._loop.now()))
        host, port = self._dial
        if self._addresses is not None:  # resolved before, by the caller: no lookup
            self._resolved(list(self._addresses))
            return
        literal = ip_literal(host)
        if literal is not None:
            self._resolved(resolve_literal(literal, port))
            return
        self._phase = _Phase.RESOLVING
        self._resolution = Resolution(self._loop, host, port, self._resolved, self._resolver)

    def _dial_error(self, error: ConnectError) -> ConnectError:
        """Say so when the address that failed was the proxy's, not the target's."""
        if self._proxy is None:
            return error
        target = format_address(self._host, self._port)
        proxy_error = ProxyError(
            f"{error} (the proxy, on the way to {target})",
            target=target,
            host=self._dial[0],
            port=self._dial[1],
        )
        proxy_error.__cause__ = error.__cause__
        return proxy_error

    def _resolved(self, result: ResolveResult) -> None:
        self._resolution = None
        host, port = self._dial
        if isinstance(result, (OSError, UnicodeError)):
            self._fail(self._dial_error(resolve_failed(host, port, result)))
            return
        if not result:
            self._fail(self._dial_error(resolve_failed(host, port, None)))
            return
        self._phase = _Phase.CONNECTING
        self._attempts = AddressAttempts(
            self._loop,
            result,
            self._tcp_connected,
            self._all_failed,
            attempt_delay=self._attempt_delay,
        )
        self._attempts.start()

    def _all_failed(self, failures: list[Failure]) -> None:
        self._attempts = None
        self._fail(self._dial_error(connect_failed(*self._dial, failures)))

    def _tcp_connected(self, sock: socket.socket) -> None:
        self._attempts = None
        proxy = self._proxy
        if proxy is None:
            self._target_reached(sock)
            return
        self._phase = _Phase.TUNNELLING
        if proxy.is_tls:
            self._proxy_tls_start(sock, proxy)
            return
        handshake: Handshake
        if proxy.is_socks:
            try:
                handshake = SocksHandshake(
                    proxy.display,
                    self._host,
                    self._port,
                    version=4 if proxy.scheme.startswith("socks4") else 5,
                    username=proxy.username,
                    password=proxy.password,
                )
            except ProxyError as error:
                sock.close()
                self._fail(error)
                return
        else:
            handshake = ConnectHandshake(proxy.display, self._host, self._port, proxy.basic_auth())
        self._tunnel = SocketHandshake(
            self._loop, sock, handshake, proxy.display, self._tunnel_open, self._fail
        )
        self._tunnel.start()

    def _tunnel_open(self, sock: socket.socket) -> None:
        self._tunnel = None
        self._target_reached(sock)

    # -- an https:// proxy: TLS to the proxy, CONNECT over it --------------------------------------

    def _proxy_tls_start(self, sock: socket.socket, proxy: ProxyURL) -> None:
        context = self._proxy_ssl_context or default_ssl_context()
        try:
            self._tls = TLSTransport(
                self._loop, sock, context, server_hostname=ip_literal(proxy.host) or proxy.host
            )
        except TLSError as exc:
            self._proxy_tls_failed(exc)
            return
        self._tls.handshake(self._proxy_tls_done, self._proxy_tls_failed)

    def _proxy_tls_done(self) -> None:
        tls, proxy = self._tls, self._proxy
        assert tls is not None and proxy is not None
        self._tls = None
        handshake = ConnectHandshake(proxy.display, self._host, self._port, proxy.basic_auth())
        self._tunnel = TransportTunnel(
            self._loop, tls, handshake, proxy.display, self._transport_tunnel_open, self._fail
        )
        self._tunnel.open()

    def _proxy_tls_failed(self, error: Exception) -> None:
        """TLS with the proxy failed: say it was the proxy's (a certificate, a name), not the
        target's; the proxy is named as ``host:port``, never with its credentials."""
        self._tls = None
        proxy = self._proxy
        assert proxy is not None
        target = format_address(self._host, self._port)
        failure = ProxyError(
            f"TLS with the proxy {proxy.display} failed, on the way to {target}: {error}",
            retryable=False,  # as for TLSError: a certificate does not fix itself
            target=target,
            host=self._dial[0],
            port=self._dial[1],
        )
        failure.__cause__ = error
        self._fail(failure)

    def _transport_tunnel_open(self, tunnel: Transport) -> None:
        self._tunnel = None
        self._target_reached(tunnel)

    # -- the target --------------------------------------------------------------------------------

    def _target_reached(self, pipe: socket.socket | Transport) -> None:
        """A byte pipe to the target: a socket (direct, or a tunnel on the proxy's socket) or a
        transport (a tunnel inside TLS with the proxy); plain, or TLS on top."""
        if self._ssl_context is None:
            self._succeed(
                SocketTransport(self._loop, pipe) if isinstance(pipe, socket.socket) else pipe
            )
            return
        self._phase = _Phase.HANDSHAKING
        hostname = self._server_hostname or ip_literal(self._host) or self._host
        try:
            if isinstance(pipe, socket.socket):  # the direct read path, no layer in between
                self._tls = TLSTransport(
                    self._loop, pipe, self._ssl_context, server_hostname=hostname
                )
            else:  # TLS in TLS: the target's records travel inside the proxy's session
                self._tls = TLSLayer(self._loop, pipe, self._ssl_context, server_hostname=hostname)
        except TLSError as exc:
            if isinstance(pipe, Transport):  # a socket is closed by TLSTransport already
                pipe.close()
            exc.host, exc.port = self._host, self._port
            self._fail(exc)
            return
        self._tls.handshake(self._handshake_done, self._handshake_failed)

    def _handshake_done(self) -> None:
        tls = self._tls
        assert tls is not None
        self._tls = None
        self._succeed(tls)

    def _handshake_failed(self, error: Exception) -> None:
        self._tls = None
        if isinstance(error, TransportError):
            error.host, error.port = self._host, self._port
        self._fail(error)

    def _on_timeout(self) -> None:
        timeout = self._timeout if self._timeout is not None else 0.0
        where = self._phase.value
        if self._proxy is not None and self._phase in (_Phase.RESOLVING, _Phase.CONNECTING):
            where += f" to the proxy {self._proxy.display}"
        elif self._proxy is not None and self._phase is _Phase.TUNNELLING:
            where += f" through the proxy {self._proxy.display}"
        attempts = self._attempts
        if attempts is not None:
            # Name every address tried: those that failed, and those that never answered.
            tried = [
                f"{format_address(str(addr[0]), int(addr[1]))}: {reason}"
                for addr, reason in [(a, str(e.strerror or e)) for a, e in attempts.failures]
                + [(a, "no answer") for a in attempts.pending]
                if len(addr) >= 2
            ]
            if tried:
                where += "; " + "; ".join(tried)
        self._fail(
            ConnectTimeout(
                f"connecting to {format_address(self._host, self._port)} timed out after "
                f"{timeout:g} s (while {where})",
                timeout=timeout,
            )
        )

    # -- endings -------------------------------------------------------------------------------

    def _release(self) -> None:
        """Stop every step: cancel the timer, the resolution, the attempts, the handshake."""
        self._phase = _Phase.DONE
        self._timer.cancel()
        steps: tuple[Resolution | AddressAttempts | SocketHandshake | TransportTunnel | None, ...]
        steps = (self._resolution, self._attempts, self._tunnel)
        tls = self._tls
        self._resolution = self._attempts = self._tunnel = self._tls = None
        for step in steps:
            if step is not None:
                step.cancel()
        if tls is not None:
            tls.close()

    def _fail(self, error: Exception) -> None:
        self._release()
        self._result.reject(error)

    def _succeed(self, transport: Transport) -> None:
        self._release()
        if self._result.settled:  # pragma: no cover - cancel() released what it owned
            transport.close()
            return
        self._result.resolve(transport)


def connect(
    loop: LoopInterface,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float | None = 30.0,
    on_connected: Callable[[Transport], object],
    on_error: Callable[[Exception], object],
    proxy: ProxyURL | None = None,
    proxy_ssl_context: ssl.SSLContext | None = None,
    resolve: Resolver | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
    addresses: Sequence[Address] | None = None,
) -> PendingConnect:
    """Open a TCP (``ssl_context=None``) or TLS connection to ``host:port`` without blocking.

    ``host`` is a name (resolved by ``getaddrinfo`` in a thread that wakes the loop) or an
    IPv4/IPv6 literal (``"127.0.0.1"``, ``"::1"``, ``"[::1]"``: no thread). ``resolve``
    replaces the lookup (``(host, port)`` to ``(family, sockaddr)`` pairs; it runs in the
    thread, so it may block). ``addresses`` gives them instead, resolved before by the caller
    (what ``resolve`` returns; no lookup, no thread): a load generator resolves a name once per
    run, as wrk does, not once per connection; not with ``proxy``. The addresses are raced as
    RFC 8305 (Happy Eyeballs) says: the families alternate, and the next attempt starts when
    one fails or ``attempt_delay`` seconds (default 0.25) after the one before; the first to
    connect wins, the rest are closed at once.

    ``proxy`` (a ``reactsse.http.ProxyURL``): connect to the proxy instead, then open a tunnel
    to ``host:port`` (HTTP ``CONNECT`` for ``http://``, SOCKS5 or SOCKS4a with the name
    resolved by the proxy for ``socks5://``, ``socks5h://``, ``socks4a://``); TLS to the target
    runs inside the tunnel. A refusal is a ``ProxyError`` with the proxy's status. An
    ``https://`` proxy is reached over TLS first (verified with ``proxy_ssl_context``, default
    ``default_ssl_context()``, against the proxy's host name), ``CONNECT`` runs inside that
    session, and TLS to the target inside the tunnel (TLS in TLS); a TLS failure with the proxy
    is a ``ProxyError`` naming the proxy, one with the target a ``TLSError``.
    For TLS, the certificate is checked against ``server_hostname`` or else ``host`` (SNI is
    sent for names only, not IP literals).

    ``timeout`` (seconds, ``None`` for none) covers resolution, TCP connect, the proxy's
    handshakes (TLS and tunnel) and the TLS handshake with the target.
    Later, from the loop, exactly one of: ``on_connected(transport)`` (a ``SocketTransport`` or
    ``TLSTransport``, not started: call its ``start``), or ``on_error(exc)`` with a
    ``ConnectError`` (resolution failed, refused, unreachable), a ``TLSError`` (handshake or
    certificate) or a ``ConnectTimeout``. Returns a ``PendingConnect``; its ``cancel()``
    aborts at any moment. Raises ``ValueError`` for a port outside 0-65535 or a negative
    timeout.
    """
    # Longer than a function should be only by its docstring, the whole contract of connecting.
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port!r}")
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    if not attempt_delay >= 0:
        raise ValueError(f"attempt_delay must be >= 0, not {attempt_delay!r}")
    if addresses is not None and proxy is not None:
        raise ValueError("addresses are the target's: they do not go with a proxy")
    bare_host = ip_literal(host) or host
    pending = PendingConnect(
        loop,
        bare_host,
        port,
        ssl_context=ssl_context,
        server_hostname=server_hostname,
        timeout=timeout,
        on_connected=on_connected,
        on_error=on_error,
        proxy=proxy,
        proxy_ssl_context=proxy_ssl_context,
        resolver=getaddrinfo_addresses if resolve is None else resolve,
        attempt_delay=attempt_delay,
        addresses=addresses,
    )
    # Never call back from inside connect() (ReactPHP's promises settle asynchronously too).
    loop.future_tick(pending._begin)
    return pending
