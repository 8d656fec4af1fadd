"""``RelayOptions``: what the relay asks of its upstream and how long it keeps a stream."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RelayOptions"]


@dataclass(frozen=True)
class RelayOptions:
    """How :class:`reactsse.relay.RelayApp` relays (every field has a default).

    * ``upstream``: the base URL of an OpenAI-compatible API (``https://api.openai.com/v1``).
      ``None``: the server's own built-in mock, set with ``RelayApp.use_server(server)``.
    * ``api_key``: the upstream's key; ``None`` reads ``OPENAI_API_KEY``, ``""`` sends none.
      It goes upstream only, never to a browser.
    * ``model``: the model asked for.
    * ``retry_ms``: the ``retry:`` sent on each connection's first event (the browser's
      reconnection delay).
    * ``replay_events``: events kept per stream for a browser that reconnects with
      ``Last-Event-ID``; an older id is too late.
    * ``replay_ttl``: seconds a stream's events are kept after it ended (or was cancelled).
    * ``linger``: seconds an upstream request goes on after its last browser left, for a
      reconnect to pick it up. ``0`` cancels it at once.
    * ``max_streams``: streams held at once (live or kept for replay); more get a 503.
    * ``max_prompt``: characters a prompt may have.
    * ``allow_faults``: pass a ``fault=`` query parameter upstream as ``X-Reactsse-Fault``
      (only useful with the built-in mock).
    """

    upstream: str | None = None
    api_key: str | None = None
    model: str = "reactsse-alice-1"
    retry_ms: int = 1000
    replay_events: int = 4096
    replay_ttl: float = 60.0
    linger: float = 0.0
    max_streams: int = 1000
    max_prompt: int = 4000
    allow_faults: bool = False

    def __post_init__(self) -> None:
        for name in ("retry_ms", "replay_events", "max_streams", "max_prompt"):
            if getattr(self, name) < 1:
                raise ValueError(f"RelayOptions.{name} must be at least 1")
        for name in ("replay_ttl", "linger"):
            if getattr(self, name) < 0:
                raise ValueError(f"RelayOptions.{name} must not be negative")
