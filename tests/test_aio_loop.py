"""``AnyioLoop`` inside async programs: what the contract suite (sync ``run()``) cannot show.

The contract suite (tests/test_loop_contract.py) runs ``AnyioLoop`` through ``run()``, which
starts its backend itself. These tests embed it in a host that is already running
(``anyio.run`` on asyncio, uvloop and trio): the reactsse code runs unchanged, the host's other
tasks keep running, work given by another task wakes the loop, and cancelling the task that
awaits ``run_async()`` leaves nothing behind. Real sockets on 127.0.0.1; every run is bounded by
``anyio.fail_after``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from reactsse.aio import AnyioLoop
from reactsse.eventsource import EventSource
from reactsse.loop import TimerInterface
from reactsse.server import BackgroundServer
from reactsse.sse import MessageEvent

HOSTS: list[Any] = [
    pytest.param("asyncio", {}, id="asyncio"),
    pytest.param("trio", {}, id="trio"),
]
if importlib.util.find_spec("uvloop") is not None:
    HOSTS.append(pytest.param("asyncio", {"use_uvloop": True}, id="uvloop"))

BOUND = 10.0  # seconds: every run in a host is bounded by this


def _host(backend: str, options: dict[str, Any], main: Callable[[], Awaitable[object]]) -> Any:
    return anyio.run(main, backend=backend, backend_options=options)


@pytest.mark.parametrize(("backend", "options"), HOSTS)
def test_eventsource_runs_unchanged_while_the_host_keeps_running(
    backend: str, options: dict[str, Any]
) -> None:
    count = 10
    with BackgroundServer() as server:
        url = f"{server.url}/events?count={count}&interval=0.02"

        async def main() -> tuple[list[MessageEvent], list[float], list[float]]:
            loop = AnyioLoop()
            messages: list[MessageEvent] = []
            arrivals: list[float] = []
            ticks: list[float] = []
            source = EventSource(url, loop=loop)

            def on_message(event: MessageEvent) -> None:
                messages.append(event)
                arrivals.append(anyio.current_time())
                if len(messages) == count:
                    source.close()  # the last registration: run_async() returns

            source.on("message", on_message)

            async def ticker() -> None:
                while True:
                    ticks.append(anyio.current_time())
                    await anyio.sleep(0.01)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(ticker)
                with anyio.fail_after(BOUND):
                    await loop.run_async()
                tasks.cancel_scope.cancel()
            loop.close()
            return messages, arrivals, ticks

        messages, arrivals, ticks = _host(backend, options, main)
    assert [m.data for m in messages] == [f"event {n}" for n in range(1, count + 1)]
    assert [m.last_event_id for m in messages] == [str(n) for n in range(1, count + 1)]
    # The host was not blocked: its ticker kept ticking between the first and the last event
    # (about 18 times in 0.18 s; a blocked host would tick at most once).
    during = [t for t in ticks if arrivals[0] < t < arrivals[-1]]
    assert len(during) >= 3, (len(during), arrivals[-1] - arrivals[0])


def _new_fds(before: set[str]) -> set[int]:
    return {int(fd) for fd in set(os.listdir("/proc/self/fd")) - before}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
@pytest.mark.parametrize(("backend", "options"), HOSTS)
def test_cancelling_run_async_leaves_nothing_registered_and_no_warning(
    backend: str, options: dict[str, Any]
) -> None:
    a, b = socket.socketpair()
    handler_before = signal.getsignal(signal.SIGUSR1)
    calls: list[str] = []

    loops: list[AnyioLoop] = []

    def on_signal(_signum: int) -> None:
        calls.append("signal")
        loops[0].stop()

    def host_state() -> object:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            import trio

            statistics = trio.lowlevel.current_statistics()
            io = statistics.io_statistics
            return statistics.tasks_living, io.tasks_waiting_read, io.tasks_waiting_write
        return asyncio.all_tasks()

    async def main() -> None:
        await anyio.sleep(0)  # let the host's own system tasks settle (trio's wake-up reader)
        state_before = host_state()
        fds_before = set(os.listdir("/proc/self/fd"))
        loop = AnyioLoop()
        loops.append(loop)
        loop_fds = _new_fds(fds_before)
        loop.add_read_stream(a, lambda _s: calls.append("read"))  # never readable
        loop.add_timer(60, lambda _t: calls.append("timer"))
        loop.add_signal(signal.SIGUSR1, on_signal)
        with anyio.move_on_after(0.05) as scope:
            await loop.run_async()
        assert scope.cancelled_caught
        # Nothing of the loop is left in the host: no task (trio: none waiting for I/O either),
        # no reader or writer on the loop's descriptors (asyncio), no signal receiver.
        assert host_state() == state_before
        if isinstance(state_before, set):
            host = asyncio.get_running_loop()
            for fd in loop_fds:
                assert not host.remove_reader(fd) and not host.remove_writer(fd)
        assert signal.getsignal(signal.SIGUSR1) is not handler_before  # the recording handler
        # The loop's own work stays, and the loop runs again: the signal gets there.
        assert calls == []
        loop.future_tick(lambda: os.kill(os.getpid(), signal.SIGUSR1))  # its listener stops
        with anyio.fail_after(BOUND):
            await loop.run_async()
        assert calls == ["signal"]
        loop.remove_signal(signal.SIGUSR1, on_signal)
        loop.remove_read_stream(a)
        loop.close()

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _host(backend, options, main)
    finally:
        a.close()
        b.close()
    assert [str(w.message) for w in caught] == []
    assert signal.getsignal(signal.SIGUSR1) is handler_before


@pytest.mark.parametrize(("backend", "options"), HOSTS)
def test_work_from_another_task_wakes_the_loop(backend: str, options: dict[str, Any]) -> None:
    """A tick, a timer, a stream or stop() given by another task of the host while the loop
    waits is taken at once, not when the loop's own wait ends."""
    a, b = socket.socketpair()
    order: list[str] = []

    async def main() -> float:
        loop = AnyioLoop()
        keep = loop.add_timer(30, lambda _t: order.append("never"))  # the loop's own long wait

        def on_read(stream: Any) -> None:
            order.append(stream.recv(10).decode())
            loop.remove_read_stream(stream)
            loop.stop()

        async def other_task() -> None:
            await anyio.sleep(0.02)
            loop.future_tick(lambda: order.append("tick"))
            await anyio.sleep(0.02)
            loop.add_timer(0, lambda _t: order.append("timer"))
            await anyio.sleep(0.02)
            loop.add_read_stream(a, on_read)
            b.send(b"read")

        start = time.monotonic()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(other_task)
            with anyio.fail_after(BOUND):
                await loop.run_async()
        elapsed = time.monotonic() - start
        loop.cancel_timer(keep)
        loop.future_tick(lambda: order.append("after"))

        async def stopper() -> None:
            await anyio.sleep(0.02)
            loop.stop()

        loop.add_timer(30, lambda _t: order.append("never"))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stopper)
            with anyio.fail_after(BOUND):
                await loop.run_async()  # ends by stop() from the other task
        loop.close()
        return elapsed

    try:
        elapsed = _host(backend, options, main)
    finally:
        a.close()
        b.close()
    assert order == ["tick", "timer", "read", "after"]
    assert elapsed < BOUND


@pytest.mark.parametrize(("backend", "options"), HOSTS)
def test_timers_keep_their_wait_across_the_host_clock(
    backend: str, options: dict[str, Any]
) -> None:
    """trio's own clock counts from a random origin: a timer added outside the host still waits
    its interval inside it, and ``now()`` inside is the host's clock."""
    loop = AnyioLoop()
    fired: list[float] = []
    loop.add_timer(0.05, lambda _t: fired.append(time.monotonic()))
    added = time.monotonic()
    seen: list[tuple[float, float]] = []

    async def main() -> None:
        seen.append((loop.now(), anyio.current_time()))
        with anyio.fail_after(BOUND):
            await loop.run_async()
        loop.add_timer(0.01, lambda _t: seen.append((loop.now(), anyio.current_time())))
        with anyio.fail_after(BOUND):
            await loop.run_async()

    _host(backend, options, main)
    loop.close()
    assert 0.05 <= fired[0] - added < BOUND
    # Inside the host, now() reads the host's clock (uvloop's to a millisecond; trio's own clock
    # is 10,000 s or more away from time.monotonic), and time.monotonic() outside. The margin
    # only allows for a preemption between the two readings.
    assert all(abs(ours - host) < 0.05 for ours, host in seen[1:]), seen
    assert abs(loop.now() - time.monotonic()) < 0.05


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
@pytest.mark.parametrize(("backend", "options"), HOSTS)
def test_signal_listener_removed_and_added_again_while_running(
    backend: str, options: dict[str, Any]
) -> None:
    got: list[str] = []
    before = signal.getsignal(signal.SIGUSR2)

    def first(_signum: int) -> None:
        got.append("first")

    def second(_signum: int) -> None:
        got.append("second")
        loop.remove_signal(signal.SIGUSR2, second)  # the last listener: run_async() returns

    loop = AnyioLoop()

    async def main() -> None:
        loop.add_signal(signal.SIGUSR2, first)

        def swap() -> None:
            loop.remove_signal(signal.SIGUSR2, first)  # the watcher task starts to end...
            loop.add_signal(signal.SIGUSR2, second)  # ...and is asked to go on

        loop.future_tick(swap)
        loop.add_timer(0.05, lambda _t: os.kill(os.getpid(), signal.SIGUSR2))
        with anyio.fail_after(BOUND):
            await loop.run_async()

    _host(backend, options, main)
    loop.close()
    assert got == ["second"]
    assert signal.getsignal(signal.SIGUSR2) is before


def test_bad_backend_is_rejected() -> None:
    with pytest.raises(ValueError):
        AnyioLoop("curio")


def test_run_async_while_running_raises() -> None:
    loop = AnyioLoop()
    caught: list[BaseException] = []

    async def main() -> None:
        async def nested() -> None:
            try:
                await loop.run_async()
            except RuntimeError as exc:
                caught.append(exc)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(nested)
            loop.add_timer(0.05, lambda _t: None)
            with anyio.fail_after(BOUND):
                await loop.run_async()

    anyio.run(main)
    loop.close()
    assert len(caught) == 1


def test_timer_callback_gets_its_timer_in_a_host() -> None:
    loop = AnyioLoop("trio")
    got: list[TimerInterface] = []
    timer = loop.add_timer(0, got.append)
    loop.run()
    loop.close()
    assert got == [timer]


def test_the_benchmark_runs_every_contestant() -> None:
    """bench/aio_loop.py at a tiny scale (no timing asserted: speed is measured by the script)."""
    script = Path(__file__).resolve().parent.parent / "bench" / "aio_loop.py"
    result = subprocess.run(
        [sys.executable, str(script), "--scale", "0.005", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = ["StreamSelectLoop", "AnyioLoop asyncio", "AnyioLoop asyncio, anyio wait"]
    names.append("AnyioLoop trio")
    for name in names:
        assert f"| {name} |" in result.stdout, result.stdout
