"""An SSE server on the event loop (the module moves into a package; split next)."""

from __future__ import annotations

from reactsse.server.server import MODEL_ID, BackgroundServer, ServerOptions, SSEServer, serve

__all__ = ["MODEL_ID", "BackgroundServer", "SSEServer", "ServerOptions", "serve"]
