"""``StreamSelectLoop`` specifics and the ``Timers`` heap against a model of ReactPHP's Timers.php.

The behaviour every loop shares is in test_loop_contract.py; this file holds what only this
implementation promises (epoll, descriptor reuse, ``close()``, the wake-up fd) and a hypothesis
property test of ``Timers`` (heap + lazy cancel + pruning) against a plain sorted-list model.
"""

from __future__ import annotations

import bisect
import os
import selectors
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.loop import StreamSelectLoop, TimerInterface
from reactsse.loop.timer import MIN_INTERVAL, Timer, Timers


@pytest.fixture
def loop() -> Iterator[StreamSelectLoop]:
    instance = StreamSelectLoop()
    yield instance
    instance.close()


def _pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
    client.setblocking(False)
    accepted.setblocking(False)
    return client, accepted


@pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="Linux only")
def test_the_selector_is_epoll(loop: StreamSelectLoop) -> None:
    assert isinstance(loop._selector, selectors.EpollSelector)


def test_a_closed_stream_whose_number_is_reused_does_not_block_the_new_one(
    loop: StreamSelectLoop,
) -> None:
    """Closing a registered socket without removing it, then opening another on the same fd."""
    old_a, old_b = _pair()
    loop.add_read_stream(old_a, lambda _s: pytest.fail("stale listener called"))
    fd = old_a.fileno()
    old_a.close()
    old_b.close()
    reused = None
    opened: list[socket.socket] = []
    try:
        for _ in range(50):  # the kernel hands out the lowest free number: usually at once
            sock = socket.socket()
            opened.append(sock)
            if sock.fileno() == fd:
                reused = sock
                break
        if reused is None:
            pytest.skip("the descriptor number was not reused")
        got: list[object] = []
        loop.add_read_stream(reused, got.append)  # no ValueError: the stale entry is dropped
        loop.remove_read_stream(old_a)  # a no-op now, and no error
        assert loop._watches[fd].reader is reused
        loop.remove_read_stream(reused)
        assert fd not in loop._watches
    finally:
        for sock in opened:
            sock.close()


def test_two_live_objects_on_one_descriptor_are_refused(loop: StreamSelectLoop) -> None:
    a, b = _pair()
    try:

        class Alias:
            def fileno(self) -> int:
                return a.fileno()

        loop.add_read_stream(a, lambda _s: None)
        with pytest.raises(ValueError, match="already watched"):
            loop.add_read_stream(Alias(), lambda _s: None)
        loop.add_write_stream(Alias(), lambda _s: None)  # the other direction is free
        loop.remove_read_stream(a)
        assert set(loop._watches) == {a.fileno()}
    finally:
        a.close()
        b.close()


def test_remove_after_close_is_harmless(loop: StreamSelectLoop) -> None:
    a, b = _pair()
    loop.add_read_stream(a, lambda _s: None)
    loop.add_write_stream(a, lambda _s: None)
    a.close()
    b.close()
    loop.remove_read_stream(a)
    loop.remove_write_stream(a)
    assert not loop._watches and not loop._read_fds and not loop._write_fds
    loop.run()


def test_a_regular_file_is_refused_with_value_error(loop: StreamSelectLoop, tmp_path: Path) -> None:
    if not isinstance(loop._selector, selectors.EpollSelector):
        pytest.skip("only epoll refuses regular files")
    with open(tmp_path / "file", "wb") as handle, pytest.raises(ValueError):
        loop.add_read_stream(handle, lambda _s: None)
    closed = open(tmp_path / "file", "rb")  # noqa: SIM115 - closed on purpose, then added
    closed.close()
    with pytest.raises(ValueError):
        loop.add_read_stream(closed, lambda _s: None)
    assert not loop._watches
    loop.run()


def test_a_pipe_is_a_stream(loop: StreamSelectLoop) -> None:
    read_fd, write_fd = os.pipe()
    with open(read_fd, "rb", buffering=0) as reader, open(write_fd, "wb", buffering=0) as writer:
        got: list[bytes] = []

        def on_read(stream: object) -> None:
            got.append(reader.read(10) or b"")
            loop.remove_read_stream(reader)

        loop.add_read_stream(reader, on_read)
        writer.write(b"pipe")
        loop.run()
    assert got == [b"pipe"]


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_close_restores_signal_handlers_and_the_wakeup_fd() -> None:
    before_handler = signal.getsignal(signal.SIGUSR1)
    before_fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before_fd)
    loop = StreamSelectLoop()
    loop.add_signal(signal.SIGUSR1, lambda _n: None)
    assert signal.getsignal(signal.SIGUSR1) is not before_handler
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) is before_handler
    current = signal.set_wakeup_fd(before_fd)
    assert current == before_fd


def test_close_while_running_raises(loop: StreamSelectLoop) -> None:
    caught: list[BaseException] = []

    def tick() -> None:
        try:
            loop.close()
        except RuntimeError as exc:
            caught.append(exc)

    loop.future_tick(tick)
    loop.run()
    assert len(caught) == 1


def test_timer_repr_says_what_it_is(loop: StreamSelectLoop) -> None:
    timer = loop.add_periodic_timer(1, lambda _t: None)
    assert "periodic" in repr(timer) and "scheduled" in repr(timer)
    loop.cancel_timer(timer)
    assert "idle" in repr(timer)


# -- Timers against a model of Timers.php -----------------------------------------------------


@dataclass
class _Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _ModelTimer:
    number: int
    interval: float
    periodic: bool
    cancels: int | None  # the number of the timer its callback cancels, if any


@dataclass
class _Model:
    """Timers.php ``tick()`` on a list kept sorted by (scheduled, seq): the reference."""

    clock: _Clock
    schedule: list[tuple[float, int, int]] = field(default_factory=list)  # (when, seq, number)
    live: dict[int, tuple[float, int]] = field(default_factory=dict)  # number -> (when, seq)
    timers: dict[int, _ModelTimer] = field(default_factory=dict)
    seq: int = 0

    def _schedule(self, number: int, when: float) -> None:
        self.seq += 1
        bisect.insort(self.schedule, (when, self.seq, number))
        self.live[number] = (when, self.seq)

    def add(self, timer: _ModelTimer) -> None:
        self.timers[timer.number] = timer
        self._schedule(timer.number, self.clock.now + max(timer.interval, MIN_INTERVAL))

    def cancel(self, number: int) -> None:
        self.live.pop(number, None)

    def tick(self, fired: list[int]) -> None:
        now = self.clock.now
        for when, seq, number in list(self.schedule):  # a snapshot, as PHP's foreach
            if when >= now:
                break
            if self.live.get(number) != (when, seq):
                continue
            self.schedule.remove((when, seq, number))
            timer = self.timers[number]
            if timer.periodic:
                self._schedule(number, max(timer.interval, MIN_INTERVAL) + now)
            else:
                del self.live[number]
            fired.append(number)
            if timer.cancels is not None:
                self.cancel(timer.cancels)

    def first(self) -> float | None:
        due = [when for when, _seq in self.live.values()]
        return min(due) if due else None


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from([0.0, 0.001, 0.002, 0.005, 0.01, 1.0, -1.0]),
            st.booleans(),
            st.one_of(st.none(), st.integers(0, 150)),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 150)),
        st.tuples(st.just("advance"), st.sampled_from([0.0, 0.0005, 0.001, 0.003, 0.02])),
        st.tuples(st.just("tick")),
    ),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_timers_heap_matches_the_timers_php_model(ops: list[tuple[object, ...]]) -> None:
    clock = _Clock()
    timers = Timers(clock)
    model = _Model(clock)
    real: list[Timer] = []
    fired_real: list[int] = []
    fired_model: list[int] = []
    peak_live = 0

    def make_callback(number: int, cancels: int | None) -> object:
        def callback(_timer: TimerInterface) -> None:
            fired_real.append(number)
            if cancels is not None and cancels < len(real):
                timers.cancel(real[cancels])

        return callback

    for op in ops:
        if op[0] == "add":
            _, interval, periodic, cancels = op
            assert isinstance(interval, float) and isinstance(periodic, bool)
            number = len(real)
            target = cancels if isinstance(cancels, int) and cancels <= number else None
            timer = Timer(interval, make_callback(number, target), periodic)  # type: ignore[arg-type]
            real.append(timer)
            timers.add(timer)
            model.add(_ModelTimer(number, interval, periodic, target))
        elif op[0] == "cancel":
            index = op[1]
            assert isinstance(index, int)
            if index < len(real):
                timers.cancel(real[index])
                model.cancel(index)
        elif op[0] == "advance":
            step = op[1]
            assert isinstance(step, float)
            clock.now += step
        else:
            timers.tick()
            model.tick(fired_model)
            assert fired_real == fired_model
        assert timers.get_first() == model.first()
        assert timers.is_empty() == (not model.live)
        assert [timers.contains(t) for t in real] == [i in model.live for i in range(len(real))]
        # Pruning bounds the stale entries by the most timers ever live at once (or 64).
        peak_live = max(peak_live, len(model.live))
        assert len(timers.heap) - len(model.live) <= max(peak_live, 64)


def test_timers_prune_when_most_entries_are_stale() -> None:
    clock = _Clock()
    timers = Timers(clock)
    keep = Timer(10, lambda _t: None, False)
    timers.add(keep)
    for _ in range(10_000):
        timer = Timer(1, lambda _t: None, False)
        timers.add(timer)
        timers.cancel(timer)
    assert len(timers.heap) <= 66
    assert timers.contains(keep) and timers.get_first() == clock.now + 10


def test_far_future_timers_are_exact_floats() -> None:
    assert Timer(sys.float_info.max, lambda _t: None, False).interval == sys.float_info.max


def test_a_prune_triggered_inside_tick_loses_no_timer() -> None:
    """A callback that cancels most timers rebuilds the heap while tick() is walking it."""
    clock = _Clock()
    timers = Timers(clock)
    fired: list[str] = []
    idle = [Timer(100, lambda _t: None, False) for _ in range(100)]

    def canceller(_t: TimerInterface) -> None:
        fired.append("canceller")
        for timer in idle:
            timers.cancel(timer)  # crosses "most entries stale": the heap is rebuilt here

    timers.add(Timer(0.001, canceller, False))
    timers.add(Timer(0.002, lambda _t: fired.append("periodic"), True))
    for timer in idle:
        timers.add(timer)
    clock.now += 0.003
    timers.tick()  # canceller, then the periodic timer is rescheduled into the live heap
    clock.now += 0.003
    timers.tick()
    assert fired == ["canceller", "periodic", "periodic"]
    assert len(timers.heap) <= 64  # pruned once, then too small to be worth rebuilding


def test_set_clock_keeps_every_remaining_wait_and_the_order() -> None:
    """A hosted loop moves its timers to the host's clock, whose origin is another one."""
    first, second = _Clock(), _Clock()
    first.now, second.now = 100.0, 25_000.0
    timers = Timers(first)
    fired: list[float] = []
    for interval in (0.003, 0.001, 0.002, 0.001):
        timers.add(Timer(interval, lambda t: fired.append(t.interval), False))
    gone = Timer(0.0015, lambda _t: fired.append(-1.0), False)
    timers.add(gone)
    timers.cancel(gone)
    timers.set_clock(second)
    assert timers.get_first() == pytest.approx(25_000.001)
    second.now += 0.0025
    timers.tick()
    assert fired == [0.001, 0.001, 0.002]
    timers.set_clock(second)  # the same clock: nothing moves
    timers.set_clock(first)
    first.now += 0.001  # 100.001 on the first clock: the last timer is 0.0005 past due
    timers.tick()
    assert fired == [0.001, 0.001, 0.002, 0.003]
