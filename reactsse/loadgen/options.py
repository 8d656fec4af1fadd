"""``LoadOptions``: the shape of a load run, checked once, and carried to worker processes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LoadOptions"]


@dataclass(frozen=True)
class LoadOptions:
    """What to request and how hard; every duration in seconds.

    * ``connections``: concurrent streams. Closed loop (no ``rate``): exactly this many are
      kept open, each finished stream replaced at once. Open loop (``rate``): at most this many
      at a time (``None``: no cap); an arrival finding none free waits, and its latencies still
      count from when it was due (no coordinated omission).
    * ``duration``: the measured window, after ``warmup``; ``streams``: stop after this many
      measured streams have started (and finished). At least one of the two is given.
    * ``rate``: new streams per second (an open loop).
    * ``openai``: count tokens (events whose ``choices[0].delta`` has content) besides events.
    * ``read_timeout``: a stream with no byte for that long fails as ``timeout`` (``None``: never).
    * ``keep_alive``: the next stream reuses a connection the server kept open (as wrk does);
      False opens a new connection for every stream.
    """

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    connections: int | None = 10
    duration: float | None = 10.0
    streams: int | None = None
    rate: float | None = None
    warmup: float = 0.0
    openai: bool = False
    connect_timeout: float | None = 10.0
    read_timeout: float | None = 30.0
    keep_alive: bool = True

    def __post_init__(self) -> None:
        if self.connections is not None and self.connections < 1:
            raise ValueError(f"connections must be at least 1, not {self.connections}")
        if self.rate is None and self.connections is None:
            raise ValueError("a closed loop (no rate) needs a number of connections")
        if self.duration is None and self.streams is None:
            raise ValueError("give a duration or a number of streams")
        for name in ("duration", "rate", "connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if not (self.warmup >= 0 and math.isfinite(self.warmup)):
            raise ValueError(f"warmup must be >= 0 seconds, not {self.warmup!r}")
        if self.streams is not None and self.streams < 1:
            raise ValueError(f"streams must be at least 1, not {self.streams}")

    @property
    def mode(self) -> str:
        """``"open"`` with a ``rate``, else ``"closed"``."""
        return "open" if self.rate is not None else "closed"

    def split(self, parts: int, index: int) -> LoadOptions:
        """The share of worker ``index`` of ``parts``: connections, streams and rate divided."""

        def share(total: int) -> int:
            return total // parts + (1 if index < total % parts else 0)

        return dataclasses.replace(
            self,
            connections=None if self.connections is None else max(1, share(self.connections)),
            streams=None if self.streams is None else max(1, share(self.streams)),
            rate=None if self.rate is None else self.rate / parts,
        )

    def to_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["headers"] = [list(pair) for pair in self.headers]
        data["body"] = None if self.body is None else self.body.decode("latin-1")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LoadOptions:
        values = dict(data)
        headers = values.get("headers") or []
        assert isinstance(headers, list)
        values["headers"] = tuple((str(name), str(value)) for name, value in headers)
        body = values.get("body")
        values["body"] = None if body is None else str(body).encode("latin-1")
        return cls(**values)  # type: ignore[arg-type]
