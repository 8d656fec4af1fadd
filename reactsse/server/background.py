"""``BackgroundServer``: an :class:`SSEServer` on its own loop in a daemon thread."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from reactsse.loop import StreamSelectLoop, ThreadWaker
from reactsse.server.app import App
from reactsse.server.options import ServerOptions
from reactsse.server.server import SSEServer

__all__ = ["BackgroundServer"]

logger = logging.getLogger("reactsse.server")

_T = TypeVar("_T")


class BackgroundServer:
    """An :class:`SSEServer` on its own ``StreamSelectLoop`` in a daemon thread.

    ``BackgroundServer(app=None, *, host="127.0.0.1", port=0, options=None)``: ``app`` and
    ``options`` are :class:`SSEServer`'s (``app=None`` serves the built-in mock). Use it as a
    context manager (or :meth:`start`/:meth:`stop`). The server is bound by :meth:`start` in
    the calling thread, so ``url`` and ``port`` are known as soon as it returns and bind errors
    (``OSError``) are raised there. :meth:`call` runs a function on the loop thread; that is the
    only safe way to touch :attr:`server` while it runs. Both go through a ``ThreadWaker`` of
    the loop; stopping closes the server, ends the loop and joins the thread.
    """

    def __init__(
        self,
        app: App | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: ServerOptions | None = None,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._options = options
        self._server: SSEServer | None = None
        self._loop: StreamSelectLoop | None = None
        self._thread: threading.Thread | None = None
        self._waker: ThreadWaker | None = None
        self.error: BaseException | None = None
        """An exception that escaped the loop (and ended the thread), if any."""

    @property
    def server(self) -> SSEServer:
        """The running server (touch it only through :meth:`call`). RuntimeError if not started."""
        if self._server is None:
            raise RuntimeError("BackgroundServer is not started")
        return self._server

    @property
    def url(self) -> str:
        """The server's ``http://host:port``."""
        return self.server.url

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    def start(self) -> BackgroundServer:
        """Bind, then run the loop in a daemon thread. Returns self. RuntimeError if started."""
        if self._thread is not None:
            raise RuntimeError("BackgroundServer already started")
        loop = StreamSelectLoop()
        try:
            server = SSEServer(
                loop, app=self._app, host=self._host, port=self._port, options=self._options
            )
        except BaseException:
            loop.close()
            raise
        self._waker = ThreadWaker(loop)
        self._loop, self._server = loop, server
        self._thread = threading.Thread(
            target=self._run, name=f"reactsse-server-{server.port}", daemon=True
        )
        self._thread.start()
        return self

    def call(self, function: Callable[[SSEServer], _T], timeout: float = 10.0) -> _T:
        """Run ``function(server)`` on the loop thread and return its result (or raise its error).

        Raises ``RuntimeError`` if the server is not running, ``TimeoutError`` after
        ``timeout`` seconds.
        """
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function(self.server))
            except BaseException as error:
                future.set_exception(error)

        waker, thread = self._waker, self._thread
        if waker is None or thread is None or not thread.is_alive():
            raise RuntimeError("BackgroundServer is not running")
        if not waker.call_soon_threadsafe(run):
            raise RuntimeError("BackgroundServer is not running")
        return future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the server, end the loop thread and release the loop. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        if self._waker is not None and thread.is_alive():
            self._waker.call_soon_threadsafe(self._shut_down)
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"BackgroundServer thread did not stop within {timeout} s")
        if self._waker is not None:
            self._waker.close()  # idempotent; the loop thread has ended, so safe from here
            self._waker = None
        if self._loop is not None:
            self._loop.close()
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._loop is not None
        try:
            self._loop.run()
        except BaseException as error:  # recorded for the owner; the thread must end cleanly
            logger.exception("the background loop failed")
            self.error = error
        finally:
            if self._server is not None:
                self._server.close()

    def _shut_down(self) -> None:
        """On the loop thread: close the server and the waker, and end ``run()``."""
        assert self._waker is not None and self._loop is not None
        self.server.close()
        self._waker.close()
        self._loop.stop()
