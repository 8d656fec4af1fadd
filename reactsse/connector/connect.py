"""``connect``: resolve (in a thread), TCP connect (non-blocking), TLS handshake, one timeout.

It plays the part of reactphp/socket's ``Connector`` (``DnsConnector``, ``TcpConnector``,
``SecureConnector`` and ``TimeoutConnector`` in one), with callbacks where ReactPHP returns a
promise. Invariants: ``connect`` calls exactly one of ``on_connected``/``on_error``, always
from a loop callback (never synchronously inside ``connect()``), and none after ``cancel()``;
``PendingConnect.cancel()`` removes every loop registration, cancels every timer and closes
every socket before it returns.
"""

from __future__ import annotations

import enum
import socket
import ssl
from collections.abc import Callable

from reactsse.connector.attempts import AddressAttempts, Failure
from reactsse.connector.oserrors import connect_failed, format_address, resolve_failed
from reactsse.connector.resolve import Resolution, ResolveResult, ip_literal, resolve_literal
from reactsse.connector.tls import TLSTransport
from reactsse.connector.transport import SocketTransport, Transport
from reactsse.errors import ConnectTimeout, TLSError, TransportError
from reactsse.loop.deferred import Deferred
from reactsse.loop.interface import LoopInterface
from reactsse.loop.oneshot import OneShotTimer

__all__ = ["PendingConnect", "connect"]


class _Phase(enum.Enum):
    """Life of a ``PendingConnect``: each phase ends in the next one or in DONE."""

    STARTING = "starting"  # connect() returned; the first step runs on the next tick
    RESOLVING = "resolving"  # getaddrinfo in a thread
    CONNECTING = "connecting"  # a non-blocking TCP connect, one address at a time
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
    ) -> None:
        self._loop = loop
        self._host = host
        self._port = port
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
        self._tls: TLSTransport | None = None

    @property
    def phase(self) -> str:
        """``"starting"``, ``"resolving"``, ``"connecting"``, ``"handshaking"`` or ``"done"``."""
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
        literal = ip_literal(self._host)
        if literal is not None:
            self._resolved(resolve_literal(literal, self._port))
            return
        self._phase = _Phase.RESOLVING
        self._resolution = Resolution(self._loop, self._host, self._port, self._resolved)

    def _resolved(self, result: ResolveResult) -> None:
        self._resolution = None
        if isinstance(result, (OSError, UnicodeError)):
            self._fail(resolve_failed(self._host, self._port, result))
            return
        if not result:
            self._fail(resolve_failed(self._host, self._port, None))
            return
        self._phase = _Phase.CONNECTING
        self._attempts = AddressAttempts(
            self._loop, result, self._deadline, self._tcp_connected, self._all_failed
        )
        self._attempts.start()

    def _all_failed(self, failures: list[Failure]) -> None:
        self._attempts = None
        self._fail(connect_failed(self._host, self._port, failures))

    def _tcp_connected(self, sock: socket.socket) -> None:
        self._attempts = None
        if self._ssl_context is None:
            self._succeed(SocketTransport(self._loop, sock))
            return
        self._phase = _Phase.HANDSHAKING
        hostname = self._server_hostname or ip_literal(self._host) or self._host
        try:
            self._tls = TLSTransport(self._loop, sock, self._ssl_context, server_hostname=hostname)
        except TLSError as exc:
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
        self._fail(
            ConnectTimeout(
                f"connecting to {format_address(self._host, self._port)} timed out after "
                f"{timeout:g} s (while {self._phase.value})",
                timeout=timeout,
            )
        )

    # -- endings -------------------------------------------------------------------------------

    def _release(self) -> None:
        """Stop every step: cancel the timer, the resolution, the attempts, the handshake."""
        self._phase = _Phase.DONE
        self._timer.cancel()
        if self._resolution is not None:
            self._resolution.cancel()
            self._resolution = None
        if self._attempts is not None:
            self._attempts.cancel()
            self._attempts = None
        if self._tls is not None:
            self._tls.close()
            self._tls = None

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
) -> PendingConnect:
    """Open a TCP (``ssl_context=None``) or TLS connection to ``host:port`` without blocking.

    ``host`` is a name (resolved by ``getaddrinfo`` in a thread that wakes the loop) or an
    IPv4/IPv6 literal (``"127.0.0.1"``, ``"::1"``, ``"[::1]"``: no thread). The addresses are
    tried in order; each gets an equal share of the time left, the last one all of it.
    For TLS, the certificate is checked against ``server_hostname`` or else ``host`` (SNI is
    sent for names only, not IP literals).

    ``timeout`` (seconds, ``None`` for none) covers resolution, TCP connect and TLS handshake.
    Later, from the loop, exactly one of: ``on_connected(transport)`` (a ``SocketTransport`` or
    ``TLSTransport``, not started: call its ``start``), or ``on_error(exc)`` with a
    ``ConnectError`` (resolution failed, refused, unreachable), a ``TLSError`` (handshake or
    certificate) or a ``ConnectTimeout``. Returns a ``PendingConnect``; its ``cancel()``
    aborts at any moment. Raises ``ValueError`` for a port outside 0-65535 or a negative
    timeout.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port!r}")
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
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
    )
    # Never call back from inside connect() (ReactPHP's promises settle asynchronously too).
    loop.future_tick(pending._begin)
    return pending
