"""``OSError``/``ssl.SSLError`` translated to ``reactsse.errors`` types, in one place.

Every error a transport or ``connect`` reports is translated here once, with ``__cause__`` set
to the original exception (as httpcore's ``_exceptions.py`` maps socket errors once), and its
message names the peer (``host:port``) and gives the reason (the strerror or the certificate
verification message, not a repr).
"""

from __future__ import annotations

import errno
import ssl
from typing import Any

from reactsse.errors import ConnectError, ConnectionClosed, TLSError, TransportError
from reactsse.http.url import format_address

__all__ = [
    "CONNECT_PENDING",
    "address_tuple",
    "as_transport_error",
    "connect_failed",
    "describe",
    "handshake_error",
    "peer_host_port",
    "resolve_failed",
    "stream_error",
]

# errnos that mean "the peer went away", reported as ConnectionClosed rather than the
# generic TransportError.
_CLOSED_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.EPIPE,
        errno.ECONNABORTED,
        errno.ESHUTDOWN,
        errno.ETIMEDOUT,
        errno.ENOTCONN,
    }
)
#: A non-blocking connect that is under way (POSIX connect(2); WSAEWOULDBLOCK on Windows).
CONNECT_PENDING = frozenset(
    {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY}
    | {getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}
)


def describe(exc: BaseException) -> str:
    """A short reason for a foreign exception: its strerror/verify message, not its repr."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return f"{text} ({reason})" if reason and reason not in text else text
    if isinstance(exc, OSError) and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}" if exc.errno else exc.strerror
    return str(exc) or type(exc).__name__


def peer_host_port(peer: tuple[Any, ...]) -> tuple[str | None, int | None]:
    """``(host, port)`` of an IP peer address, else ``(None, None)``."""
    if len(peer) >= 2 and isinstance(peer[0], str) and isinstance(peer[1], int):
        return peer[0], peer[1]
    return None, None


def address_tuple(address: object) -> tuple[Any, ...]:
    """``getpeername()`` results as a tuple (an AF_UNIX name becomes a 1-tuple)."""
    return tuple(address) if isinstance(address, tuple) else (address,)


def _where(peer: tuple[Any, ...]) -> tuple[str, str | None, int | None]:
    host, port = peer_host_port(peer)
    where = format_address(host, port) if host is not None and port is not None else "peer"
    return where, host, port


def stream_error(exc: OSError, peer: tuple[Any, ...]) -> TransportError:
    """Translate an error of an established connection with ``peer``."""
    where, host, port = _where(peer)
    error: TransportError
    if isinstance(exc, ssl.SSLError):  # a bad record, an alert: TLS itself failed
        error = TLSError(
            f"TLS connection with {where} failed: {describe(exc)}", host=host, port=port
        )
    elif exc.errno in _CLOSED_ERRNOS:
        error = ConnectionClosed(
            f"connection with {where} closed: {describe(exc)}", host=host, port=port
        )
    else:
        error = TransportError(
            f"connection with {where} failed: {describe(exc)}", host=host, port=port
        )
    error.__cause__ = exc
    return error


def as_transport_error(error: Exception | None, peer: tuple[Any, ...]) -> TransportError | None:
    """``error`` as a ``TransportError``: itself if it is one, else wrapped (``__cause__`` set)."""
    if error is None or isinstance(error, TransportError):
        return error
    if isinstance(error, OSError):
        return stream_error(error, peer)
    where, host, port = _where(peer)
    wrapped = ConnectionClosed(f"connection with {where} failed: {error}", host=host, port=port)
    wrapped.__cause__ = error
    return wrapped


def handshake_error(
    exc: BaseException, peer: tuple[Any, ...], server_hostname: str | None
) -> TLSError:
    """Translate a failure of the TLS handshake with ``peer`` (named ``server_hostname``)."""
    where, host, port = _where(peer)
    if server_hostname:
        where = f"{server_hostname} ({where})"
    error = TLSError(f"TLS handshake with {where} failed: {describe(exc)}", host=host, port=port)
    error.__cause__ = exc
    return error


def resolve_failed(host: str, port: int, exc: OSError | UnicodeError | None) -> ConnectError:
    """``host`` could not be resolved (``exc``), or resolved to no address (``None``)."""
    where = format_address(host, port)
    if exc is None:
        return ConnectError(
            f"cannot connect to {where}: no address for {host!r}", host=host, port=port
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    error = ConnectError(
        f"cannot connect to {where}: cannot resolve {host!r}: {reason}", host=host, port=port
    )
    error.__cause__ = exc
    return error


def connect_failed(
    host: str, port: int, failures: list[tuple[tuple[Any, ...], OSError]]
) -> ConnectError:
    """Every address of ``host`` failed: name each with its reason; the last is the cause."""
    if len(failures) == 1:  # one address: its reason says it all
        causes = describe(failures[0][1])
    else:
        causes = "; ".join(
            f"{format_address(str(addr[0]), int(addr[1]))}: {describe(exc)}"
            if len(addr) >= 2
            else describe(exc)
            for addr, exc in failures
        )
    error = ConnectError(
        f"cannot connect to {format_address(host, port)}: {causes}", host=host, port=port
    )
    if failures:
        error.__cause__ = failures[-1][1]
    return error
