"""A relay from an OpenAI-compatible stream to browsers, and the page that shows it.

``RelayApp`` answers ``GET /chat?prompt=...`` by opening an upstream chat-completion stream on
the server's loop and re-emitting it as SSE with ids, ``retry``, a final ``done`` event and
typed ``error`` events; browsers that reconnect with ``Last-Event-ID`` resume from a bounded
replay buffer. ``GET /`` is a dependency-free page that shows the answer and the raw frames.
See ``docs/browser.md``.
"""

from __future__ import annotations

from reactsse.relay.app import RelayApp
from reactsse.relay.options import RelayOptions

__all__ = ["RelayApp", "RelayOptions"]
