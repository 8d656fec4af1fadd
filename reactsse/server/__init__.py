"""An SSE server on the event loop that serves any app (``docs/server.md``).

``SSEServer(loop, app=...)`` listens and answers each request with what ``app(request)``
returns: a :class:`BodyReply` or an :class:`EventStream` of :class:`Event` objects (or
:class:`EncodedEvents`, runs already encoded), which the server paces with loop timers and
writes with backpressure. ``BackgroundServer`` runs one on
its own loop in a daemon thread (for synchronous code and tests); ``serve()`` runs one forever.
Without an app, the server serves the built-in OpenAI-compatible mock (``reactsse.mock``).
"""

from __future__ import annotations

from reactsse.server import app
from reactsse.server.access import AccessRecord, format_access
from reactsse.server.app import *  # noqa: F403 - the app contract, listed once in app.__all__
from reactsse.server.background import BackgroundServer
from reactsse.server.options import ServerOptions
from reactsse.server.server import SSEServer, serve

__all__ = [
    "AccessRecord",
    "BackgroundServer",
    "SSEServer",
    "ServerOptions",
    "format_access",
    "serve",
]
__all__ += app.__all__
