"""``SSEServer``: an HTTP/1.1 server of event streams on the event loop, serving any app.

``SSEServer(loop, app=...)`` listens (127.0.0.1, a free port by default) with
``add_read_stream`` on the listening socket; each accepted client is a
:class:`~reactsse.server.connection.Connection` (h11 in the server role) writing through a
``reactsse.connector.SocketTransport`` (which flushes with ``add_write_stream``). What is
answered comes from the app (``reactsse.server.app``); ``serve()`` runs a server forever.

Without an app, the server serves the built-in OpenAI-compatible mock
(``reactsse.mock.MockApp``). That is the one place this package reaches the mock, through a
lazy import in :func:`default_app`: the mock is an app above the server, and the server's
modules import nothing of it.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import Final, TextIO

from reactsse.connector import SocketTransport
from reactsse.http.url import format_address
from reactsse.loop import Loop, LoopInterface, Stream, TimerInterface
from reactsse.server.app import App
from reactsse.server.connection import Connection
from reactsse.server.options import ServerOptions
from reactsse.sse import encode_comment

__all__ = ["SSEServer", "default_app", "serve"]

logger = logging.getLogger("reactsse.server")

#: Seconds the server stops accepting after ``accept()`` failed for want of a resource.
#: CPython's asyncio does the same (``ACCEPT_RETRY_DELAY = 1`` in ``Lib/asyncio/constants.py``,
#: used by ``selector_events.BaseSelectorEventLoop._accept_connection``): the listening socket
#: stays readable while the backlog holds clients, so retrying at once would spin.
ACCEPT_RETRY_DELAY = 1.0

#: How many connections the kernel may hold complete before they are accepted (Linux caps it at
#: ``net.core.somaxconn``, 4096 by default since Linux 5.4). A load test opens its connections
#: all at once: past the backlog, Linux drops the SYN, and the client waits a second or more for
#: its retransmission (docs/server.md has the measurement). asyncio's default is 100 and
#: aiohttp's 128; nginx and Node.js use 511, uvicorn 2048.
DEFAULT_BACKLOG = 4096

#: ``accept()`` errors that say "no resource now" (descriptors, buffers, memory): the ones
#: asyncio's ``_accept_connection`` backs off on.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def default_app() -> App:
    """A new ``reactsse.mock.MockApp()``: what a server without an app serves.

    Imported when called (not when this module is), so that the server does not depend on
    the mock; a server given its own app never loads it.
    """
    from reactsse.mock import MockApp  # lazy: see the module docstring

    return MockApp()


class SSEServer:
    """An HTTP/1.1 server of event streams on a ``LoopInterface``; it listens on creation.

    ``SSEServer(loop=None, *, app=None, host="127.0.0.1", port=0, options=None, backlog=4096)``:
    binds and listens at once (like ReactPHP's ``SocketServer``); ``port=0`` picks a free port,
    see :attr:`port` and :attr:`url`. ``loop=None`` uses the global ``Loop.get()``. ``app`` is
    any ``app(request) -> BodyReply | EventStream`` (``reactsse.server.app``); ``None`` serves
    the built-in mock (:func:`default_app`). ``options`` is a :class:`ServerOptions`. Raises
    ``OSError`` when the address cannot be bound. Call :meth:`close` (or use ``with``) to stop
    listening and drop every connection. Use it only from the loop's thread.

    What it was made with are plain attributes: ``options`` and ``app``, and ``loop``,
    ``host`` and ``port`` (the bound one), which are ``Final`` (a type checker rejects a write);
    the properties are what it computes.
    """

    def __init__(
        self,
        loop: LoopInterface | None = None,
        *,
        app: App | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        options: ServerOptions | None = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        if loop is None:
            loop = Loop.get()
        self.loop: Final[LoopInterface] = loop
        self.options = options if options is not None else ServerOptions()
        self.app: App = app if app is not None else default_app()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=backlog)
        self._sock.setblocking(False)
        self.host: Final[str] = host
        self.port: Final[int] = self._sock.getsockname()[1]
        self._connections: set[Connection] = set()
        self._closed = False
        self._accept_retry: TimerInterface | None = None  # set while accepting is paused
        self._accept_failing = False  # logged once per run of failures, until one succeeds
        loop.add_read_stream(self._sock, self._on_acceptable)

    # -- public ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets), without a trailing slash."""
        return f"http://{format_address(self.host, self.port)}"

    @property
    def connection_count(self) -> int:
        """Open client connections."""
        return len(self._connections)

    @property
    def stream_count(self) -> int:
        """Event streams in progress (each holds its timers and iterator)."""
        return sum(1 for c in self._connections if c.stream is not None)

    @property
    def timer_count(self) -> int:
        """Loop timers the server holds right now (0 when it has no connection)."""
        return sum(c.timer_count for c in self._connections)

    @property
    def buffered_size(self) -> int:
        """Bytes written for clients and not yet sent, over every connection."""
        return sum(c.transport.buffered_size for c in self._connections)

    def close(self) -> None:
        """Stop listening and close every connection (streams stopped, timers cancelled).

        Idempotent; returns at once (no callback is called afterwards).
        """
        self._stop_listening()
        for connection in list(self._connections):
            connection.abort()

    def shutdown(self, comment: str = "server shutting down") -> None:
        """Stop listening and close every connection gracefully.

        Each open stream gets a last ``: comment`` and its response is ended (the terminating
        chunk), so that clients see a clean end rather than a reset; idle connections are
        closed. Connections go once their bytes are sent (watch :attr:`connection_count`);
        :meth:`close` drops whatever is left at once.
        """
        self._stop_listening()
        final = encode_comment(f" {comment}") + b"\n"
        for connection in list(self._connections):
            connection.shut_down(final)

    def _stop_listening(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._accept_retry is not None:
            self.loop.cancel_timer(self._accept_retry)
            self._accept_retry = None
        self.loop.remove_read_stream(self._sock)
        self._sock.close()

    def __enter__(self) -> SSEServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "listening"
        return f"<SSEServer {state} {self.url} connections={len(self._connections)}>"

    # -- accepting ---------------------------------------------------------------------------------

    def _on_acceptable(self, _stream: Stream) -> None:
        # Several connections per readiness, up to a bound, so that a burst of clients does not
        # cost one loop iteration each, and one busy listener cannot starve the connections.
        options = self.options
        for _ in range(max(1, options.accept_batch)):
            try:
                sock, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client left before we took it (ECONNABORTED): take the next
            except OSError as error:  # EMFILE, ENFILE, ENOBUFS ...: keep the server up
                self._pause_accepting(error)
                return
            if self._accept_failing:
                self._accept_failing = False
                logger.info("accept() works again; accepting clients")
            if options.send_buffer_size is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.send_buffer_size)
            transport = SocketTransport(self.loop, sock)
            connection = Connection(options, self.app, transport, self._forget)
            self._connections.add(connection)
            connection.start()

    def _pause_accepting(self, error: OSError) -> None:
        """Stop watching the listening socket for ``ACCEPT_RETRY_DELAY`` s (loop clock).

        The clients waiting in the backlog keep it readable, so without the pause the loop
        would call accept() again at once, and fail again, at full CPU. The failure is logged
        once; further ones while it lasts are logged at DEBUG; the first success after it says
        so. Connections already open carry on, and may free descriptors meanwhile.
        """
        if not self._accept_failing:
            self._accept_failing = True
            what = "out of resources" if error.errno in _RESOURCE_ERRORS else "failed"
            logger.warning(
                "accept() %s (%s); not accepting clients for %g s, and retrying every %g s",
                what,
                error,
                ACCEPT_RETRY_DELAY,
                ACCEPT_RETRY_DELAY,
            )
        else:
            logger.debug("accept() still fails: %s", error)
        self.loop.remove_read_stream(self._sock)
        self._accept_retry = self.loop.add_timer(ACCEPT_RETRY_DELAY, self._resume_accepting)

    def _resume_accepting(self, _timer: TimerInterface) -> None:
        self._accept_retry = None
        if not self._closed:
            self.loop.add_read_stream(self._sock, self._on_acceptable)

    def _forget(self, connection: Connection) -> None:
        self._connections.discard(connection)


def serve(
    app: App | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    options: ServerOptions | None = None,
    loop: LoopInterface | None = None,
    file: TextIO | None = None,
    on_listening: Callable[[SSEServer], object] | None = None,
) -> None:
    """Run an :class:`SSEServer` until the loop stops, printing its URL first.

    Ctrl-C ends it at once (``KeyboardInterrupt``); SIGTERM gracefully: open streams get a
    final comment and are ended (:meth:`SSEServer.shutdown`), then, once every connection is
    closed (or after ``SHUTDOWN_GRACE`` seconds), the loop stops and ``serve`` returns, after
    one ``reactsse server stopped`` line. ``app``, ``host``, ``port`` and ``options`` are
    :class:`SSEServer`'s (``app=None``: the built-in mock). ``loop`` defaults to
    ``Loop.get()``; ``file`` (default ``sys.stdout``) receives the lines;
    ``on_listening(server)`` is called once listening (the CLI prints the mock's endpoints
    with it). Raises ``OSError`` if the address cannot be bound.
    """
    if loop is None:
        loop = Loop.get()
    server = SSEServer(loop, app=app, host=host, port=port, options=options)
    out = file if file is not None else sys.stdout
    stop = _stop_on_sigterm(server, out)  # before the line: a reader may signal right after it
    print(f"reactsse server listening on {server.url}", file=out, flush=True)
    try:
        if on_listening is not None:
            on_listening(server)
        loop.run()
    finally:
        if stop is not None:
            loop.remove_signal(signal.SIGTERM, stop)
        server.close()


SHUTDOWN_GRACE = 5.0
"""Seconds ``serve`` waits after SIGTERM for the last bytes to reach the clients."""


def _stop_on_sigterm(server: SSEServer, out: TextIO) -> Callable[[int], None] | None:
    loop = server.loop
    started: list[float] = []

    def check(timer: TimerInterface) -> None:
        if server.connection_count == 0 or loop.now() - started[0] > SHUTDOWN_GRACE:
            loop.cancel_timer(timer)
            loop.stop()

    def terminate(_signal: int) -> None:
        loop.remove_signal(signal.SIGTERM, terminate)
        streams = server.stream_count
        server.shutdown()
        noun = "stream" if streams == 1 else "streams"
        print(f"reactsse server stopped (SIGTERM; {streams} open {noun} ended)", file=out)
        out.flush()
        started.append(loop.now())
        loop.add_periodic_timer(0.02, check)

    try:
        loop.add_signal(signal.SIGTERM, terminate)
    except (ValueError, OSError, RuntimeError, NotImplementedError):  # not the main thread
        return None
    return terminate
