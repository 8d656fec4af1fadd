"""``Stats``: everything one load run measures, in a form that merges exactly across processes.

Counters are integers, the latencies are :class:`~reactsse.loadgen.histogram.Histogram`, and the
timeline holds events and bytes per second of the measured window (second 0 starts when the
warm-up ends). ``to_dict``/``from_dict`` carry a ``Stats`` from a worker process to the parent,
and ``merge`` adds one into another: sums for counters and timelines, bucket sums for the
histograms. Nothing here reads a clock: the engine passes the times in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from reactsse.loadgen.histogram import Histogram

__all__ = ["COUNTERS", "HISTOGRAMS", "Stats"]

HISTOGRAMS = ("ttfb", "ttfe", "gap", "duration", "ttft", "tpot")
"""Time to first byte, to first event, between events of a stream, whole stream; for OpenAI
streams time to first token and time per output token after the first."""

COUNTERS = (
    "events",
    "bytes",
    "tokens",
    "started",
    "completed",
    "failed",
    "cut",
    "reconnections",
    "delayed",
    "connections_opened",
    "connections_reused",
    "keepalive_retries",
)
"""``started``/``completed``/``failed`` streams; ``cut``: still open when the run ended;
``reconnections``: streams started in place of one that failed; ``delayed``: open-loop arrivals
that waited for a free connection; ``connections_opened``: streams started on a new connection
(a connect attempt), ``connections_reused``: on a kept-alive one; ``keepalive_retries``: streams
whose kept connection closed before answering, sent again on a new one (counted in
``connections_opened`` too): so opened + reused = started + retried."""


class Stats:
    """The measurements of one run (or of several merged)."""

    def __init__(self) -> None:
        self.ttfb = Histogram()
        self.ttfe = Histogram()
        self.gap = Histogram()
        self.duration = Histogram()
        self.ttft = Histogram()
        self.tpot = Histogram()
        # The counters of COUNTERS, grouped: volume, what became of the streams, connections.
        self.events = self.bytes = self.tokens = 0
        self.started = self.completed = self.failed = self.cut = 0
        self.reconnections = self.delayed = 0
        self.connections_opened = self.connections_reused = self.keepalive_retries = 0
        self.errors: dict[str, int] = {}
        self.timeline_events: list[int] = []
        self.timeline_bytes: list[int] = []

    def error(self, kind: str) -> None:
        """Count one failed stream of ``kind`` (``refused``, ``reset``, ``http_503``, ...)."""
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.failed += 1

    def add_timeline(self, second: int, events: int, size: int) -> None:
        """Add ``events`` and ``size`` bytes to second ``second`` of the measured window."""
        timeline = self.timeline_events
        if second >= len(timeline):
            grow = second + 1 - len(timeline)
            timeline.extend([0] * grow)
            self.timeline_bytes.extend([0] * grow)
        timeline[second] += events
        self.timeline_bytes[second] += size

    def merge(self, other: Stats) -> None:
        """Add ``other``'s measurements to these (exactly)."""
        for name in HISTOGRAMS:
            cast(Histogram, getattr(self, name)).merge(getattr(other, name))
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, number in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + number
        for second, (events, size) in enumerate(
            zip(other.timeline_events, other.timeline_bytes, strict=True)
        ):
            self.add_timeline(second, events, size)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (see :meth:`from_dict`)."""
        data: dict[str, object] = {name: getattr(self, name) for name in COUNTERS}
        data["histograms"] = {name: getattr(self, name).to_dict() for name in HISTOGRAMS}
        data["errors"] = dict(self.errors)
        data["timeline_events"] = list(self.timeline_events)
        data["timeline_bytes"] = list(self.timeline_bytes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Stats:
        """The ``Stats`` that :meth:`to_dict` described."""
        stats = cls()
        for name in COUNTERS:
            setattr(stats, name, int(cast(int, data[name])))
        histograms = cast(Mapping[str, Mapping[str, object]], data["histograms"])
        for name in HISTOGRAMS:
            setattr(stats, name, Histogram.from_dict(histograms[name]))
        stats.errors = {str(k): int(v) for k, v in cast(Mapping[str, int], data["errors"]).items()}
        stats.timeline_events = [int(v) for v in cast(list[int], data["timeline_events"])]
        stats.timeline_bytes = [int(v) for v in cast(list[int], data["timeline_bytes"])]
        return stats
