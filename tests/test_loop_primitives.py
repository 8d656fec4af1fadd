"""The primitives of ``reactsse.loop`` that the layers above share.

``Deferred`` (settles once, never after cancel), ``OneShotTimer`` (one pending timer at most),
``ThreadWaker`` (other threads wake a real loop through a real socketpair), ``BlockingIterator``
(ordering of items, errors and the end) and ``VirtualTimeLoop`` (timers on a virtual clock, real
sockets still real).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from reactsse.loop import (
    BlockingIterator,
    Deferred,
    OneShotTimer,
    Stream,
    StreamSelectLoop,
    ThreadWaker,
    TimerInterface,
    VirtualClock,
    VirtualTimeLoop,
)


@pytest.fixture
def loop() -> Iterator[StreamSelectLoop]:
    instance = StreamSelectLoop()
    yield instance
    instance.close()


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    instance = VirtualTimeLoop()
    yield instance
    instance.close()


# -- Deferred ----------------------------------------------------------------------------------


def test_deferred_settles_once_and_calls_handlers_added_before_and_after() -> None:
    seen: list[object] = []
    deferred: Deferred[int] = Deferred()
    deferred.then(lambda value: seen.append(("early", value)))
    assert not deferred.settled
    deferred.resolve(1)
    deferred.resolve(2)
    deferred.reject(ValueError("late"))
    deferred.then(lambda value: seen.append(("late", value)))
    assert seen == [("early", 1), ("late", 1)]
    assert deferred.settled and not deferred.cancelled


def test_deferred_rejection_reaches_only_rejection_handlers() -> None:
    seen: list[object] = []
    deferred: Deferred[int] = Deferred()
    deferred.then(seen.append)  # no on_rejected: this pair ignores the error
    deferred.then(lambda _v: seen.append("fulfilled"), lambda error: seen.append(str(error)))
    deferred.reject(ValueError("refused"))
    deferred.resolve(5)
    deferred.then(lambda _v: seen.append("fulfilled"), lambda error: seen.append(repr(error)))
    assert seen == ["refused", "ValueError('refused')"]


def test_deferred_cancel_runs_the_canceller_once_and_no_handler_ever() -> None:
    calls: list[str] = []
    deferred: Deferred[int] = Deferred(canceller=lambda: calls.append("cancelled"))
    deferred.then(lambda _v: calls.append("fulfilled"), lambda _e: calls.append("rejected"))
    deferred.cancel()
    deferred.cancel()
    deferred.resolve(1)
    deferred.reject(ValueError("x"))
    deferred.then(lambda _v: calls.append("fulfilled"), lambda _e: calls.append("rejected"))
    assert calls == ["cancelled"]
    assert deferred.cancelled and deferred.settled


def test_deferred_cancel_after_settling_does_nothing() -> None:
    calls: list[str] = []
    deferred: Deferred[str] = Deferred(canceller=lambda: calls.append("cancelled"))
    deferred.resolve("done")
    deferred.cancel()
    assert calls == [] and not deferred.cancelled


def test_deferred_handler_exception_propagates_to_the_settler() -> None:
    deferred: Deferred[int] = Deferred()

    def boom(_value: int) -> None:
        raise RuntimeError("handler")

    deferred.then(boom)
    with pytest.raises(RuntimeError, match="handler"):
        deferred.resolve(1)
    assert deferred.settled


# -- ThreadWaker -------------------------------------------------------------------------------


def test_thread_waker_runs_callables_from_threads_on_the_loop_thread(
    loop: StreamSelectLoop,
) -> None:
    waker = ThreadWaker(loop)
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []
    threads_count, per_thread = 4, 50
    guard = loop.add_timer(10, lambda _t: pytest.fail("the waker never woke the loop"))

    def on_loop(worker: int, index: int) -> None:
        assert threading.get_ident() == loop_thread
        seen.append((worker, index))
        if len(seen) == threads_count * per_thread:
            waker.close()  # the last one: nothing is left, so run() returns
            loop.cancel_timer(guard)

    def worker(number: int) -> None:
        for index in range(per_thread):
            assert waker.call_soon_threadsafe(lambda i=index: on_loop(number, i))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    loop.run()  # the open waker keeps the loop running until the last callable closes it
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == threads_count * per_thread
    for number in range(threads_count):  # each thread's callables ran in the order it queued them
        assert [index for worker, index in seen if worker == number] == list(range(per_thread))


def test_thread_waker_refuses_after_close_and_drops_what_was_queued(
    loop: StreamSelectLoop,
) -> None:
    waker = ThreadWaker(loop)
    ran: list[int] = []
    assert waker.call_soon_threadsafe(lambda: ran.append(1))
    waker.close()
    waker.close()
    assert not waker.call_soon_threadsafe(lambda: ran.append(2))
    loop.run()  # the waker's stream is gone: run() returns at once
    assert ran == []


def test_thread_waker_keeps_the_loop_running_until_closed(loop: StreamSelectLoop) -> None:
    waker = ThreadWaker(loop)
    order: list[str] = []
    guard = loop.add_timer(10, lambda _t: pytest.fail("never woken"))

    def woken() -> None:
        order.append("woken")
        waker.close()
        loop.cancel_timer(guard)

    # The thread starts once the loop runs, and the loop has no other reason to keep running.
    loop.future_tick(
        lambda: threading.Thread(target=waker.call_soon_threadsafe, args=(woken,)).start()
    )
    loop.run()
    assert order == ["woken"]


# -- BlockingIterator --------------------------------------------------------------------------


def _socket_producer(
    loop: StreamSelectLoop, items: list[bytes], error: Exception | None
) -> tuple[BlockingIterator[bytes], socket.socket, list[str]]:
    """An iterator fed by a real socket: each readable event pushes what was read."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    closed: list[str] = []

    def on_close() -> None:
        closed.append("closed")
        loop.remove_read_stream(reader)
        reader.close()

    iterator: BlockingIterator[bytes] = BlockingIterator(loop, on_close)

    def on_readable(_stream: Stream) -> None:
        data = reader.recv(4096)
        if data == b"":
            if error is not None:
                iterator.fail(error)
            else:
                iterator.finish()
            loop.remove_read_stream(reader)
            return
        iterator.push_all(data.split(b","))

    loop.add_read_stream(reader, on_readable)
    writer.sendall(b",".join(items))
    writer.close()
    return iterator, reader, closed


def test_blocking_iterator_hands_out_every_item_then_ends(loop: StreamSelectLoop) -> None:
    iterator, _reader, closed = _socket_producer(loop, [b"a", b"b", b"c"], None)
    assert list(iterator) == [b"a", b"b", b"c"]
    assert closed == ["closed"]
    assert iterator.ended
    with pytest.raises(StopIteration):
        next(iterator)


def test_blocking_iterator_raises_the_error_after_the_items_before_it(
    loop: StreamSelectLoop,
) -> None:
    iterator, _reader, closed = _socket_producer(loop, [b"x", b"y"], ValueError("cut"))
    assert next(iterator) == b"x"
    assert next(iterator) == b"y"
    with pytest.raises(ValueError, match="cut"):
        next(iterator)
    with pytest.raises(StopIteration):
        next(iterator)
    assert closed == ["closed"]


def test_blocking_iterator_close_runs_on_close_once_and_closes_the_loop() -> None:
    private = StreamSelectLoop()
    calls: list[str] = []
    iterator: BlockingIterator[int] = BlockingIterator(private, lambda: calls.append("close"))
    iterator.push(1)
    with iterator:
        assert next(iterator) == 1
    iterator.close()
    assert calls == ["close"]
    with pytest.raises(StopIteration):
        next(iterator)
    a, b = socket.socketpair()
    with pytest.raises((ValueError, OSError)):  # the selector is closed
        private.add_read_stream(a, lambda _s: None)
    a.close()
    b.close()


def test_blocking_iterator_does_not_hang_when_the_loop_runs_out_of_work(
    loop: StreamSelectLoop,
) -> None:
    iterator: BlockingIterator[int] = BlockingIterator(loop, lambda: None)
    loop.add_timer(0.001, lambda _t: None)  # some work, but nothing that will ever push
    with pytest.raises(RuntimeError, match="ran out of work"):
        next(iterator)


def test_blocking_iterator_stops_the_loop_once_per_batch(vloop: VirtualTimeLoop) -> None:
    iterator: BlockingIterator[int] = BlockingIterator(vloop, lambda: None)
    runs: list[float] = []

    def produce(_t: TimerInterface) -> None:
        runs.append(vloop.now())
        iterator.push_all([1, 2])
        iterator.push(3)
        if len(runs) == 2:
            iterator.finish()

    timer = vloop.add_periodic_timer(1.0, produce)
    assert [next(iterator) for _ in range(3)] == [1, 2, 3]
    assert len(runs) == 1  # one run() gave the whole batch
    assert list(iterator) == [1, 2, 3]
    vloop.cancel_timer(timer)
    assert runs[1] - runs[0] == pytest.approx(1.0, abs=1e-9)


# -- VirtualTimeLoop ---------------------------------------------------------------------------


def test_virtual_clock_moves_only_forward() -> None:
    clock = VirtualClock(5.0)
    clock.advance(1.5)
    clock.jump_to(2.0)  # the past: ignored
    assert clock() == 6.5
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)


def test_virtual_loop_runs_timers_at_their_exact_virtual_times(vloop: VirtualTimeLoop) -> None:
    fired: list[tuple[str, float]] = []
    start = vloop.now()
    vloop.add_timer(30.0, lambda _t: fired.append(("30s", vloop.now() - start)))
    vloop.add_timer(0.25, lambda _t: fired.append(("0.25s", vloop.now() - start)))
    vloop.add_timer(3600.0, lambda _t: fired.append(("1h", vloop.now() - start)))
    vloop.run()
    assert [name for name, _ in fired] == ["0.25s", "30s", "1h"]
    for (_, elapsed), expected in zip(fired, (0.25, 30.0, 3600.0), strict=True):
        assert elapsed == pytest.approx(expected, abs=1e-6)


def test_virtual_loop_delivers_real_io_before_jumping(vloop: VirtualTimeLoop) -> None:
    """A reply a thread sends at once arrives before a 10 s virtual timeout fires."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    order: list[str] = []
    timeout = vloop.add_timer(10.0, lambda _t: order.append("timeout"))

    def on_readable(_stream: Stream) -> None:
        order.append(reader.recv(16).decode())
        vloop.remove_read_stream(reader)
        vloop.cancel_timer(timeout)

    vloop.add_read_stream(reader, on_readable)
    threading.Thread(target=writer.send, args=(b"reply",)).start()
    vloop.run()
    assert order == ["reply"]
    assert vloop.now() < 10.0
    reader.close()
    writer.close()


def test_virtual_loop_jumps_when_a_peer_stays_silent(vloop: VirtualTimeLoop) -> None:
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    order: list[str] = []

    def on_timeout(_t: TimerInterface) -> None:
        order.append(f"timeout at {vloop.now():.6f}")
        vloop.remove_read_stream(reader)

    vloop.add_read_stream(reader, lambda _s: order.append("data"))
    vloop.add_timer(10.0, on_timeout)
    vloop.run()
    assert order == ["timeout at 10.000000"]
    reader.close()
    writer.close()


def test_virtual_loop_does_not_jump_past_pending_ticks(vloop: VirtualTimeLoop) -> None:
    order: list[str] = []
    countdown = [3]

    def tick() -> None:
        order.append(f"tick at {vloop.now()}")
        countdown[0] -= 1
        if countdown[0]:
            vloop.future_tick(tick)

    vloop.add_timer(5.0, lambda _t: order.append(f"timer at {round(vloop.now(), 6)}"))
    vloop.future_tick(tick)
    vloop.run()
    assert order == ["tick at 0.0", "tick at 0.0", "tick at 0.0", "timer at 5.0"]


def test_virtual_loop_rejects_a_negative_threshold() -> None:
    with pytest.raises(ValueError, match="autojump_threshold"):
        VirtualTimeLoop(autojump_threshold=-1)


# -- OneShotTimer ------------------------------------------------------------------------------


def test_one_shot_timer_fires_once_at_the_armed_time(vloop: VirtualTimeLoop) -> None:
    fired: list[float] = []
    start = vloop.now()
    timer = OneShotTimer(vloop, lambda: fired.append(vloop.now() - start))
    assert not timer.armed
    timer.arm(2.5)
    assert timer.armed
    vloop.run()
    assert fired == [pytest.approx(2.5, abs=1e-6)]
    assert not timer.armed


def test_one_shot_timer_arm_replaces_the_pending_timer(vloop: VirtualTimeLoop) -> None:
    fired: list[float] = []
    start = vloop.now()
    timer = OneShotTimer(vloop, lambda: fired.append(vloop.now() - start))
    timer.arm(1.0)
    timer.arm(5.0)
    vloop.run()
    assert fired == [pytest.approx(5.0, abs=1e-6)]


def test_one_shot_timer_cancel_is_idempotent_and_leaves_no_timer(vloop: VirtualTimeLoop) -> None:
    fired: list[str] = []
    timer = OneShotTimer(vloop, lambda: fired.append("fired"))
    timer.cancel()  # nothing pending: nothing happens
    timer.arm(1.0)
    timer.cancel()
    timer.cancel()
    assert not timer.armed
    vloop.run()  # returns at once: the loop holds no timer
    assert fired == []


def test_one_shot_timer_callback_may_arm_it_again(vloop: VirtualTimeLoop) -> None:
    seen: list[tuple[bool, float]] = []
    start = vloop.now()

    def again() -> None:
        seen.append((timer.armed, vloop.now() - start))
        if len(seen) < 3:
            timer.arm(1.0)

    timer = OneShotTimer(vloop, again)
    timer.arm(1.0)
    vloop.run()
    assert [armed for armed, _ in seen] == [False, False, False]
    assert [at for _, at in seen] == [pytest.approx(t, abs=1e-6) for t in (1.0, 2.0, 3.0)]
