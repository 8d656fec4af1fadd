"""A raw TCP server on 127.0.0.1 run by the test's own loop (internal helper, not a test module).

A server in a thread lives in real time; this one lives on the loop under test, so on a
``VirtualTimeLoop`` its timers (a byte a second, a ``102`` every half second, closing after a
minute) pass in virtual time, exactly, like the client's. ``on_request(conn)`` is called when a
request head has arrived on a connection; the script then writes raw bytes with ``conn.send``,
schedules more with ``conn.after``/``conn.every``, and ends with ``conn.close()``/``conn.reset()``.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from reactsse.loop import LoopInterface, TimerInterface

__all__ = ["LoopConnection", "LoopServer"]


class LoopConnection:
    """One accepted connection: what it received, raw writes, timers tied to it."""

    def __init__(self, server: LoopServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.loop = server.loop
        self.sock = sock
        self.index = index
        self.accepted_at = self.loop.now()
        self.received = bytearray()
        self.requests = 0
        self.last_request = b""
        """The last request head received (without its blank line)."""
        self.closed = False
        self._timers: list[TimerInterface] = []

    def header(self, name: str) -> str | None:
        """A header of the last request (the first one of that name), or None."""
        prefix = name.lower().encode("latin-1") + b":"
        for line in self.last_request.split(b"\r\n")[1:]:
            if line.lower().startswith(prefix):
                return line[len(prefix) :].strip().decode("latin-1")
        return None

    def send(self, data: bytes) -> None:
        """Write all of ``data`` now (small writes: the kernel buffer takes them at once)."""
        if self.closed:
            return
        self.sock.setblocking(True)
        self.sock.settimeout(5.0)
        try:
            self.sock.sendall(data)
        except OSError:
            self.close()
            return
        self.sock.setblocking(False)

    def after(self, delay: float, action: Callable[[], object]) -> None:
        """Run ``action()`` after ``delay`` seconds of the loop's clock, unless closed by then."""

        def fire(_timer: TimerInterface) -> None:
            if not self.closed:
                action()

        self._timers.append(self.loop.add_timer(delay, fire))

    def every(self, interval: float, action: Callable[[], object]) -> None:
        """Run ``action()`` every ``interval`` seconds until the connection closes."""

        def fire(_timer: TimerInterface) -> None:
            if not self.closed:
                action()

        self._timers.append(self.loop.add_periodic_timer(interval, fire))

    def close(self) -> None:
        """A clean close (FIN), idempotent."""
        if self.closed:
            return
        self.closed = True
        for timer in self._timers:
            self.loop.cancel_timer(timer)
        self._timers.clear()
        self.loop.remove_read_stream(self.sock)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0)."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.close()

    def _readable(self, _stream: object) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self.received += data
        while b"\r\n\r\n" in self.received:  # requests without a body (GET)
            head, _, rest = bytes(self.received).partition(b"\r\n\r\n")
            self.received = bytearray(rest)
            self.last_request = head
            self.requests += 1
            self.server.on_request(self)


class LoopServer:
    """Listens on 127.0.0.1 on ``loop``; ``on_request(conn)`` scripts each request's answer."""

    def __init__(self, loop: LoopInterface, on_request: Callable[[LoopConnection], object]) -> None:
        self.loop = loop
        self.on_request = on_request
        self.connections: list[LoopConnection] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1024)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        loop.add_read_stream(self._listener, self._accept)

    @property
    def accept_times(self) -> list[float]:
        """The loop's clock at each accepted connection."""
        return [conn.accepted_at for conn in self.connections]

    def _accept(self, _stream: object) -> None:
        while True:
            try:
                sock, _address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            conn = LoopConnection(self, sock, len(self.connections))
            self.connections.append(conn)
            self.loop.add_read_stream(sock, conn._readable)

    def close(self) -> None:
        """Stop listening and close every connection."""
        with contextlib.suppress(Exception):
            self.loop.remove_read_stream(self._listener)
        self._listener.close()
        for conn in self.connections:
            conn.close()

    def __enter__(self) -> LoopServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
