"""``ServerOptions``: how :class:`reactsse.server.SSEServer` treats its connections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reactsse.server.access import AccessRecord

__all__ = ["ServerOptions"]


@dataclass(frozen=True)
class ServerOptions:
    """Transport settings of an :class:`reactsse.server.SSEServer`; every field has a default.

    What the built-in apps answer is set apart, by ``reactsse.mock.MockOptions``.

    * ``keepalive_interval``: seconds of silence on a stream after which a ``: keep-alive``
      comment is sent; ``None`` or ``0`` disables it.
    * ``max_client_buffer``: bytes the server may hold for one client that does not read fast
      enough; beyond it the client is dropped (and logged).
    * ``high_water``: bytes buffered for a client above which an as-fast-as-possible stream
      waits for the client to drain (and so does the next pipelined request).
    * ``max_request_body``: largest request body accepted (413 beyond).
    * ``send_buffer_size``: if set, ``SO_SNDBUF`` of accepted sockets (tests use it to make a
      slow client visible quickly).
    * ``accept_batch``: most connections accepted per readiness of the listening socket.
    * ``idle_timeout``: seconds a connection may take to send a complete request (counted from
      accept, or from the end of the previous response); then it is closed. ``None``/``0``: never.
    * ``send_timeout``: seconds an as-fast-as-possible stream may wait for a client that does
      not read at all before the client is dropped. ``None``/``0``: wait forever.
    * ``access_log``: called with an :class:`~reactsse.server.access.AccessRecord` when each
      request's response is over (``format_access`` makes it a line). ``None``: no log.
    """

    keepalive_interval: float | None = 15.0
    max_client_buffer: int = 1 << 20
    high_water: int = 64 * 1024
    max_request_body: int = 1 << 20
    send_buffer_size: int | None = None
    accept_batch: int = 16
    idle_timeout: float | None = 60.0
    send_timeout: float | None = 30.0
    access_log: Callable[[AccessRecord], object] | None = None

    def __post_init__(self) -> None:
        if self.max_client_buffer < 1 or self.high_water < 1:
            raise ValueError("max_client_buffer and high_water must be positive")
