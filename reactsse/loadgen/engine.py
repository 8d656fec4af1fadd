"""``LoadEngine``: keeps streams open against a target on a loop, and measures them.

Closed loop (no ``rate``): ``connections`` streams are open at all times; each one that ends,
well or not, is replaced at once. Open loop (``rate``): a stream is due every ``1/rate``
seconds, at ``start + k/rate`` (absolute times, so a late timer does not drift the schedule);
when ``connections`` caps the concurrency, a due stream waits for a free slot, and its
latencies still count from when it was due. Measuring from the due time rather than from the
actual start is what avoids "coordinated omission" (Gil Tene's term): a slow server must not
be able to slow down the arrivals that would have shown how slow it is.

Timing is ``loop.now()`` only. The run has three phases: warm-up (everything runs, nothing is
kept: the stats are replaced when it ends), the measured window (``duration`` seconds, or until
``streams`` measured streams have finished), and the end, where open streams are cut (counted
as ``cut``, their events kept) and every timer is cancelled, so ``loop.run()`` returns.

With keep-alive (the default, as in wrk), a stream that ended well leaves its connection
``idle`` when the server allows it; the next stream to start takes the most recently idled
connection instead of connecting (in the closed loop that is at once the same one).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from reactsse.connector.resolve import Resolution, ResolveResult, ip_literal
from reactsse.errors import ReactSSEError, ReadTimeout
from reactsse.http import parse_url
from reactsse.loadgen.options import LoadOptions
from reactsse.loadgen.stats import Stats
from reactsse.loadgen.stream import StreamRun, StreamSink, Target, error_kind
from reactsse.loop import LoopInterface, TimerInterface

__all__ = ["LoadEngine", "Progress"]


@dataclass(frozen=True)
class Progress:
    """A snapshot for the live progress line: seconds since the start (warm-up included)."""

    elapsed: float
    warming_up: bool
    open_streams: int
    events: int
    events_per_s: float


class LoadEngine:
    """Runs ``options`` on ``loop``: ``start()``, then ``loop.run()``; then read ``stats``.

    ``on_progress(Progress)`` is called every ``progress_interval`` seconds; ``on_finish()``
    once, when the run has ended (e.g. to close a server that shares the loop).
    """

    def __init__(
        self,
        loop: LoopInterface,
        options: LoadOptions,
        *,
        on_progress: Callable[[Progress], object] | None = None,
        progress_interval: float = 1.0,
        on_finish: Callable[[], object] | None = None,
    ) -> None:
        self.loop = loop
        self.options = options
        self.target = Target(
            url=parse_url(options.url),
            method=options.method.upper(),
            headers=options.headers,
            body=options.body,
            openai=options.openai,
            connect_timeout=options.connect_timeout,
            keep_alive=options.keep_alive,
        )
        self.stats = Stats()
        self._sink = StreamSink(self._record, self._first_byte, self._finished, self._retry)
        self._resolution: Resolution | None = None
        self.elapsed = 0.0  # length of the measured window, set when the run ends
        self._on_progress = on_progress
        self._on_finish = on_finish
        self._progress_interval = progress_interval
        self._streams: set[StreamRun] = set()
        self._idle: list[StreamRun] = []  # runs whose connection is kept for the next stream
        self._waiting: collections.deque[float] = collections.deque()
        self._timers: list[TimerInterface] = []
        self._arrival_timer: TimerInterface | None = None
        self._arrivals = 0
        self._measured_started = 0
        self._started_at = 0.0
        self._measure_from = 0.0
        self._measuring = False
        self._running = False
        self._last_progress = (0.0, 0)

    # -- the run ---------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the run on the loop (it happens in ``loop.run()``)."""
        loop, options = self.loop, self.options
        now = loop.now()
        self._started_at = now
        self._last_progress = (now, 0)
        self._measure_from = now + options.warmup
        self._running = True
        self._measuring = options.warmup == 0
        if not self._measuring:
            self._timers.append(loop.add_timer(options.warmup, self._end_warmup))
        if options.duration is not None:
            self._timers.append(loop.add_timer(options.warmup + options.duration, self._stop))
        if options.read_timeout is not None:
            sweep = min(1.0, options.read_timeout / 4)
            self._timers.append(loop.add_periodic_timer(sweep, self._sweep))
        if self._on_progress is not None:
            self._timers.append(
                loop.add_periodic_timer(self._progress_interval, self._report_progress)
            )
        host, port = self.target.url.host, self.target.url.port
        if ip_literal(host) is None:
            # A name is resolved once for the run, as wrk does, not once per connection (a
            # thread and a lookup each): the streams start when it is done.
            self._resolution = Resolution(loop, host, port, self._resolved)
            return
        self._begin_streams()

    def _resolved(self, result: ResolveResult) -> None:
        self._resolution = None
        if isinstance(result, list) and result:
            self.target = dataclasses.replace(self.target, addresses=tuple(result))
        # Else every stream resolves on its own, and its failure is counted by kind.
        if self._running:
            self._begin_streams()

    def _begin_streams(self) -> None:
        if self.options.rate is None:
            assert self.options.connections is not None
            for _ in range(self.options.connections):
                self._launch(self._started_at, replacing_failed=False)
        else:
            self._schedule_arrival()

    @property
    def running(self) -> bool:
        """True from ``start()`` until the run has ended."""
        return self._running

    def stop(self) -> None:
        """End the run now (Ctrl-C): cut the open streams, cancel the timers."""
        if self._running:
            self._stop(None)

    def _end_warmup(self, _timer: TimerInterface | None) -> None:
        self.stats = Stats()
        self._measuring = True
        # The window starts when counting does. A loop busy with a wave of ready streams runs
        # this timer late (by as long as one turn takes), and so does the stop timer: the rates
        # divide by the window as it was, not as it was scheduled.
        self._measure_from = self.loop.now()

    def _stop(self, _timer: TimerInterface | None) -> None:
        self._running = False
        now = self.loop.now()
        self.elapsed = max(0.0, now - self._measure_from)
        for timer in self._timers:
            self.loop.cancel_timer(timer)
        self._timers.clear()
        if self._resolution is not None:
            self._resolution.cancel()
            self._resolution = None
        if self._arrival_timer is not None:
            self.loop.cancel_timer(self._arrival_timer)
            self._arrival_timer = None
        for stream in list(self._streams):
            stream.close()
            if self._measuring:
                self.stats.cut += 1
        self._streams.clear()
        for stream in self._idle:
            stream.close()
        self._idle.clear()
        self._waiting.clear()
        if self._on_finish is not None:
            self._on_finish()

    # -- starting streams ------------------------------------------------------------------

    def _budget_left(self) -> bool:
        streams = self.options.streams
        return streams is None or not self._measuring or self._measured_started < streams

    def _launch(self, due: float, *, replacing_failed: bool) -> None:
        if not self._budget_left():
            if not self._streams:
                self._stop(None)
            return
        measuring = self._measuring
        if measuring:
            self._measured_started += 1
            self.stats.started += 1
            if replacing_failed:
                self.stats.reconnections += 1
        idle = self._idle
        while idle:
            stream = idle.pop()
            if stream.idle:  # else the server closed it while it waited
                if measuring:
                    self.stats.connections_reused += 1
                self._streams.add(stream)
                stream.reuse(due)
                return
        if measuring:
            self.stats.connections_opened += 1
        stream = StreamRun(self.loop, self.target, due, self._sink)
        self._streams.add(stream)
        stream.start()

    def _schedule_arrival(self) -> None:
        assert self.options.rate is not None
        due = self._started_at + self._arrivals / self.options.rate
        self._arrival_timer = self.loop.add_timer(max(0.0, due - self.loop.now()), self._arrive)

    def _arrive(self, _timer: TimerInterface) -> None:
        self._arrival_timer = None
        assert self.options.rate is not None
        now = self.loop.now()
        # Every arrival due by now starts now (a late timer catches up; none is skipped).
        while self._running and self._started_at + self._arrivals / self.options.rate <= now:
            due = self._started_at + self._arrivals / self.options.rate
            self._arrivals += 1
            if not self._budget_left():
                return
            cap = self.options.connections
            if cap is not None and len(self._streams) >= cap:
                self._waiting.append(due)
                if self._measuring:
                    self.stats.delayed += 1
            else:
                self._launch(due, replacing_failed=False)
        if self._running:
            self._schedule_arrival()

    # -- what the streams report -----------------------------------------------------------

    def _record(self, stream: StreamRun, now: float, events: int, size: int, tokens: int) -> None:
        if not self._measuring:
            return
        stats = self.stats
        stats.bytes += size
        if events:
            stats.events += events
            stats.tokens += tokens
            if stream.events == events:  # the stream's first events
                stats.ttfe.record(now - stream.scheduled)
                stats.gap.record(0.0, events - 1)
            else:
                stats.gap.record(now - stream.last_event)
                stats.gap.record(0.0, events - 1)
        if tokens and stream.first_token == now and stream.tokens == tokens:
            stats.ttft.record(now - stream.scheduled)
        stats.add_timeline(int(now - self._measure_from), events, size)

    def _first_byte(self, stream: StreamRun, now: float) -> None:
        if self._measuring:
            self.stats.ttfb.record(now - stream.scheduled)

    def _retry(self, _stream: StreamRun) -> None:
        if self._measuring:
            self.stats.connections_opened += 1
            self.stats.keepalive_retries += 1

    def _finished(self, stream: StreamRun, error: ReactSSEError | None) -> None:
        self._streams.discard(stream)
        if stream.idle:
            self._idle.append(stream)
        now = self.loop.now()
        if self._measuring:
            stats = self.stats
            if error is None:
                stats.completed += 1
                stats.duration.record(now - stream.scheduled)
                if stream.tokens > 1 and stream.first_token is not None:
                    stats.tpot.record(
                        (stream.last_event - stream.first_token) / (stream.tokens - 1)
                    )
            else:
                stats.error(error_kind(error))
        if not self._running:
            return
        if self.options.rate is None:
            self._launch(now, replacing_failed=error is not None)
        elif self._waiting:
            self._launch(self._waiting.popleft(), replacing_failed=False)
        elif not self._budget_left() and not self._streams:
            self._stop(None)

    def _sweep(self, _timer: TimerInterface) -> None:
        timeout = self.options.read_timeout
        assert timeout is not None
        limit = self.loop.now() - timeout
        for stream in [s for s in self._streams if s.last_read < limit]:
            stream.fail(ReadTimeout(f"no byte for {timeout:g} s", timeout=timeout))

    def _report_progress(self, _timer: TimerInterface) -> None:
        assert self._on_progress is not None
        now = self.loop.now()
        last_time, last_events = self._last_progress
        events = self.stats.events
        if events < last_events:  # the warm-up just ended: the counter restarted
            last_events = 0
        rate = (events - last_events) / (now - last_time) if now > last_time else 0.0
        self._last_progress = (now, events)
        self._on_progress(
            Progress(
                elapsed=now - self._started_at,
                warming_up=not self._measuring,
                open_streams=len(self._streams),
                events=events,
                events_per_s=rate,
            )
        )
