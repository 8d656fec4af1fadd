"""``MockOptions``: what the built-in mock apps answer, and how fast."""

from __future__ import annotations

import math
from dataclasses import dataclass

from reactsse.mock.faults import parse_fault

__all__ = ["MockOptions"]


@dataclass(frozen=True)
class MockOptions:
    """How :class:`reactsse.mock.MockApp` answers. Every field has a sensible default.

    * ``rate``: tokens per second for the OpenAI-compatible streams; ``None`` or ``0`` sends as
      fast as the client reads (with backpressure).
    * ``chunk_tokens``: tokens per streamed event (at least 1).
    * ``reply_tokens``: ``None`` answers with one paragraph of the bundled text, chosen from the
      prompt; an integer answers with exactly that many tokens (the text repeated as needed).
    * ``api_key``: when set, the ``/v1`` endpoints answer 401 unless ``Authorization: Bearer
      <api_key>`` is sent; when ``None`` any bearer (or none) is accepted.
    * ``fault``: injected faults for every stream, same syntax as the ``X-Reactsse-Fault``
      header (see :func:`reactsse.mock.faults.parse_fault`), e.g. ``"error-after=3"``.
    * ``events_interval``/``events_retry_ms``: defaults of ``/events``' ``interval`` and
      ``retry`` query parameters.
    """

    rate: float | None = None
    chunk_tokens: int = 1
    reply_tokens: int | None = None
    api_key: str | None = None
    fault: str | None = None
    events_interval: float = 1.0
    events_retry_ms: int = 1000

    def __post_init__(self) -> None:
        if self.rate is not None and (self.rate < 0 or math.isnan(self.rate)):
            raise ValueError(f"rate must be >= 0 tokens/s or None, not {self.rate!r}")
        if self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be >= 1, not {self.chunk_tokens!r}")
        if self.reply_tokens is not None and self.reply_tokens < 0:
            raise ValueError(f"reply_tokens must be >= 0 or None, not {self.reply_tokens!r}")
        if self.fault is not None:
            parse_fault(self.fault)  # fail early, at construction
