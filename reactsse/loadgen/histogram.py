"""``Histogram``: an HDR-style log-linear histogram of durations, fixed memory, mergeable.

The layout is HdrHistogram's (Gil Tene, <https://github.com/HdrHistogram/HdrHistogram>): values
(integer microseconds) below ``2**SUB_BITS`` each have their own bucket; above that, every power
of two is split into ``2**(SUB_BITS-1)`` equal buckets, so a bucket is never wider than
``1/2**(SUB_BITS-1)`` of the values it holds (about 0.1 %). Memory is one counter per bucket
(a fixed list, whatever the number of samples), and two histograms of the same layout merge
exactly by adding their counters: that is what lets ``--processes`` report the percentiles of
every sample of every process without shipping the samples.

Count, minimum, maximum and sum are kept exactly beside the buckets, so ``max`` and ``mean`` are
exact; percentiles are exact to the bucket (see :meth:`Histogram.percentile`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["MAX_VALUE_US", "SUB_BITS", "Histogram"]

SUB_BITS = 11
"""Buckets per power of two above 2**SUB_BITS: 2**(SUB_BITS-1), i.e. 3 significant digits."""

MAX_VALUE_US = (1 << 36) - 1
"""The largest value kept (about 19 hours in microseconds); larger values are clamped to it."""

_SUB = 1 << SUB_BITS
_HALF = _SUB >> 1
_BUCKETS = _SUB + (MAX_VALUE_US.bit_length() - SUB_BITS) * _HALF


def bucket_index(value: int) -> int:
    """The bucket of ``value`` (an integer >= 0, at most ``MAX_VALUE_US``)."""
    if value < _SUB:
        return value
    shift = value.bit_length() - SUB_BITS
    return _SUB + (shift - 1) * _HALF + (value >> shift) - _HALF


def bucket_range(index: int) -> tuple[int, int]:
    """The lowest and highest value (inclusive) that land in bucket ``index``."""
    if index < _SUB:
        return index, index
    shift = (index - _SUB) // _HALF + 1
    low = ((index - _SUB) % _HALF + _HALF) << shift
    return low, low + (1 << shift) - 1


class Histogram:
    """Durations in integer microseconds; :meth:`record` takes seconds (a float)."""

    __slots__ = ("_counts", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._counts = [0] * _BUCKETS
        self.count = 0
        self.total = 0  # sum of the recorded values, microseconds
        self.min = 0
        self.max = 0

    def record(self, seconds: float, times: int = 1) -> None:
        """Record ``seconds`` (negative values count as 0) ``times`` times."""
        if times <= 0:
            return
        value = int(seconds * 1_000_000 + 0.5) if seconds > 0 else 0
        if value > MAX_VALUE_US:
            value = MAX_VALUE_US
        self._counts[value if value < _SUB else bucket_index(value)] += times
        if self.count == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.count += times
        self.total += value * times

    def merge(self, other: Histogram) -> None:
        """Add every sample of ``other`` to this histogram (exactly)."""
        if other.count == 0:
            return
        counts = self._counts
        for index, number in enumerate(other._counts):
            if number:
                counts[index] += number
        if self.count == 0 or other.min < self.min:
            self.min = other.min
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    def percentile(self, percent: float) -> int:
        """The value (microseconds) at ``percent`` (0-100), 0 when empty.

        The sample of rank ``ceil(percent/100 * count)`` (at least 1) in sorted order, as the
        highest value of its bucket, never above the exact maximum: so the result is never below
        the exact sample and above it by less than one bucket width (0.1 % of the value).
        """
        if self.count == 0:
            return 0
        rank = max(1, math.ceil(percent / 100.0 * self.count))
        seen = 0
        for index, number in enumerate(self._counts):
            if number:
                seen += number
                if seen >= rank:
                    return min(bucket_range(index)[1], self.max)
        return self.max

    @property
    def mean(self) -> float:
        """The exact mean in microseconds (0.0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, float | int]:
        """``count``, then ``min``/``mean``/``p50``/``p90``/``p99``/``p999``/``max`` in ms."""
        out: dict[str, float | int] = {"count": self.count}
        out["min"] = _ms(self.min)
        out["mean"] = round(self.mean / 1000.0, 3)
        for name, percent in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)):
            out[name] = _ms(self.percentile(percent))
        out["max"] = _ms(self.max)
        return out

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: the non-empty buckets only, as ``[index, count]`` pairs."""
        buckets = [[index, number] for index, number in enumerate(self._counts) if number]
        return {
            "sub_bits": SUB_BITS,
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
            "buckets": buckets,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Histogram:
        """The histogram :meth:`to_dict` described; ``ValueError`` for another layout."""
        if data.get("sub_bits") != SUB_BITS:
            raise ValueError(f"histogram layout {data.get('sub_bits')!r} is not {SUB_BITS}")
        histogram = cls()
        buckets = data.get("buckets", [])
        assert isinstance(buckets, Iterable)
        for index, number in buckets:
            histogram._counts[int(index)] += int(number)
        histogram.count = _int(data, "count")
        histogram.total = _int(data, "total")
        histogram.min = _int(data, "min")
        histogram.max = _int(data, "max")
        return histogram


def _int(data: Mapping[str, object], key: str) -> int:
    value = data.get(key, 0)
    if not isinstance(value, int):
        raise ValueError(f"histogram field {key!r} is not an integer: {value!r}")
    return value


def _ms(microseconds: int | float) -> float:
    return round(microseconds / 1000.0, 3)
