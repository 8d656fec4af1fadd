"""Scriptable raw-socket HTTP servers on 127.0.0.1 (or ::1) for the EventSource tests.

Internal test helper, not a test module. Each test writes a *handler*, a plain function that gets an
``Exchange`` (one accepted connection, its parsed request, and helpers to write raw bytes) and
scripts exactly what the server sends: chunked or Content-Length or close-delimited bodies, one
byte at a time, stalls, endless lines, malformed chunk sizes, garbage, redirects, gzip, statuses.

The server runs one daemon thread per connection, records every request (``server.requests``) and
closes everything on ``__exit__``. A handler never raises into the thread machinery (pytest turns an
unhandled thread exception into a warning, and warnings are errors here): network errors caused by
the client going away are swallowed, any other exception is kept and re-raised by ``__exit__``.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "Exchange",
    "Request",
    "ScriptedServer",
    "accepting",
    "chunk",
    "sse_head",
]


@contextlib.contextmanager
def accepting(on_accept: Callable[[socket.socket, int], None]) -> Iterator[int]:
    """A bare listener on 127.0.0.1 for tests that script the socket themselves: its accept loop
    (a daemon thread) passes each connection and its index (0, 1, ...) to ``on_accept``, in
    the order accepted. Yields the port; the loop ends and the listener closes on exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        count = 0
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            on_accept(sock, count)
            count += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# How long a stalling handler waits at most (the test's own timeouts are far shorter).
_STALL_LIMIT = 20.0


@dataclass
class Request:
    """What the client sent: method, target, headers (names lower-cased), body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    index: int = 0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Exchange:
    """One accepted connection: the parsed request and raw write helpers."""

    sock: socket.socket
    request: Request
    server: ScriptedServer
    index: int
    _closed: bool = field(default=False)

    def send(self, data: bytes) -> None:
        """Write raw bytes (all of them)."""
        self.sock.sendall(data)

    def send_head(
        self,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = (),
        *,
        reason: str | None = None,
    ) -> None:
        """Write a status line and the headers, then the blank line."""
        self.send(head_bytes(status, headers, reason=reason))

    def send_chunk(self, data: bytes) -> None:
        """Write one HTTP/1.1 chunk (RFC 9112 §7.1)."""
        self.send(chunk(data))

    def end_chunks(self) -> None:
        """Write the last-chunk and the empty trailer section."""
        self.send(b"0\r\n\r\n")

    def stall(self, limit: float = _STALL_LIMIT) -> None:
        """Send nothing until the client closes, or the server stops, or ``limit`` seconds."""
        self.sock.settimeout(limit)
        try:
            while not self.server.stopping.is_set():
                if not self.sock.recv(65536):
                    return
        except (OSError, TimeoutError):
            return

    def wait_client_close(self, limit: float = _STALL_LIMIT) -> bool:
        """Wait until the client closes its end; True if it did."""
        self.sock.settimeout(limit)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (OSError, TimeoutError):
            return False

    def close(self) -> None:
        """Close the connection (a clean FIN)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0)."""
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self._closed = True
        self.sock.close()


Handler = Callable[[Exchange], None]


def head_bytes(
    status: int, headers: Iterable[tuple[str, str]] = (), *, reason: str | None = None
) -> bytes:
    """A response head as bytes."""
    lines = [f"HTTP/1.1 {status} {reason if reason is not None else _REASONS.get(status, 'X')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """``data`` framed as one chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_head(*extra: tuple[str, str], chunked: bool = True) -> list[tuple[str, str]]:
    """Headers of an event-stream response."""
    headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    headers.extend(extra)
    return headers


def gzip_stream(parts: list[bytes], *, coding: str = "gzip") -> list[bytes]:
    """Compress ``parts`` as one gzip member (or zlib ``deflate`` stream), flushing after each
    part (a streaming encoder)."""
    compressor = zlib.compressobj(wbits=31 if coding == "gzip" else 15)
    out = [compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH) for part in parts]
    out.append(compressor.flush())
    return out


def gzip_whole(data: bytes) -> bytes:
    return gzip.compress(data)


_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ScriptedServer:
    """A threaded HTTP/1.1 server whose every response a test scripts with ``handler``.

    ``handler(exchange)`` is called once per accepted connection, after the request was read.
    When it returns, the connection is closed (close-delimited bodies end there).
    ``ssl_context`` makes it a TLS server; ``family`` picks IPv4 (127.0.0.1) or IPv6 (::1).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        ssl_context: ssl.SSLContext | None = None,
        family: socket.AddressFamily = socket.AF_INET,
        read_request: bool = True,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.family = family
        self.read_request = read_request
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self.connection_count = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(32)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True)

    # -- addresses --------------------------------------------------------------------------

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        name = host if host is not None else ("[::1]" if self.host == "::1" else self.host)
        return f"{scheme}://{name}:{self.port}{path}"

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> ScriptedServer:
        self._accept_thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self.errors and exc_info[0] is None:
            raise AssertionError(f"test server handler failed: {self.errors!r}") from self.errors[0]

    def stop(self) -> None:
        self.stopping.set()
        # Wake accept() by connecting to ourselves, then close the listener.
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                pass
        except OSError:
            pass
        self._accept_thread.join(5.0)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
            threads = list(self._threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5.0)
        for sock in socks:
            sock.close()

    # -- internals ----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                return
            if self.stopping.is_set():
                sock.close()
                return
            with self._lock:
                index = self.connection_count
                self.connection_count += 1
                self._socks.append(sock)
                thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket, index: int) -> None:
        sock: socket.socket = raw
        try:
            raw.settimeout(10.0)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(raw, server_side=True)
                with self._lock:
                    self._socks.append(sock)
            request = _read_request(sock, index) if self.read_request else Request("", "", {}, b"")
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            exchange = Exchange(sock, request, self, index)
            self.handler(exchange)
        except (OSError, ssl.SSLError, TimeoutError):
            pass  # the client went away or refused our certificate: part of many tests
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                sock.close()


def _read_request(sock: socket.socket, index: int) -> Request | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return Request(method, target, headers, rest[:length], index)
