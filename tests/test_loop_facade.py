"""The static ``Loop`` facade (src/Loop.php; tests/LoopTest.php and tests/BinTest.php).

Autorun happens at interpreter exit, so it is tested in child processes
(``sys.executable -c ...``), as ReactPHP's BinTest runs ``tests/bin/*.php``. A timer that would
print ``never`` after 0.3 s tells whether autorun ran the loop.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from reactsse.loop import Loop, LoopInterface, StreamSelectLoop, TimerInterface


def _run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


PRELUDE = "import sys\nfrom reactsse.loop import Loop\nw = sys.stdout.write\n"


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        (
            "01 ticks through the facade, no run: autorun at exit",
            "Loop.future_tick(lambda: w('b'))\nLoop.future_tick(lambda: w('c'))\nw('a')\n",
            "abc",
        ),
        (
            "02 ticks through Loop.get()",
            "loop = Loop.get()\nloop.future_tick(lambda: w('b'))\n"
            "loop.future_tick(lambda: w('c'))\nw('a')\n",
            "abc",
        ),
        (
            "explicit run: autorun does not run it a second time",
            "Loop.future_tick(lambda: w('b'))\nLoop.future_tick(lambda: w('c'))\nw('a')\n"
            "Loop.run()\nLoop.add_timer(0.01, lambda _t: w('never'))\n",
            "abc",
        ),
        (
            "03 stop inside a tick, then a new tick: the later tick never runs",
            "def tick():\n    w('b')\n    Loop.stop()\n    Loop.future_tick(lambda: w('never'))\n"
            "Loop.future_tick(tick)\nw('a')\nLoop.run()\nw('c')\n",
            "abc",
        ),
        (
            "21 Loop.stop() before exit cancels autorun",
            "Loop.add_timer(0.3, lambda _t: w('never'))\nLoop.stop()\nw('a')\n",
            "a",
        ),
        (
            "Loop.stop() is sticky even before any loop exists",
            "Loop.stop()\nLoop.add_timer(0.3, lambda _t: w('never'))\nw('a')\n",
            "a",
        ),
        (
            "set() before get(): no autorun at all",
            "from reactsse.loop import StreamSelectLoop\nLoop.set(StreamSelectLoop())\n"
            "Loop.add_timer(0.3, lambda _t: w('never'))\nw('a')\n",
            "a",
        ),
        (
            "set() after get(): autorun runs the old loop",
            "from reactsse.loop import StreamSelectLoop\nold = Loop.get()\n"
            "old.future_tick(lambda: w('old'))\nLoop.set(StreamSelectLoop())\n"
            "Loop.add_timer(0.3, lambda _t: w('never'))\nw('a')\n",
            "aold",
        ),
        (
            "sys.exit() is not an uncaught error: autorun runs, as after PHP's exit()",
            "Loop.future_tick(lambda: w('b'))\nw('a')\nsys.exit(0)\n",
            "ab",
        ),
        (
            "a remove/cancel/stop proxy creates no loop (so no autorun)",
            "import socket\ns = socket.socket()\nLoop.remove_read_stream(s)\n"
            "Loop.remove_write_stream(s)\nLoop.remove_signal(2, print)\ns.close()\n"
            "w('none' if Loop._instance is None else 'created')\n",
            "none",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 80 else "",
)
def test_autorun(name: str, code: str, expected: str) -> None:
    result = _run_child(PRELUDE + code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected, name


@pytest.mark.parametrize(
    "code",
    [
        # 11-uncaught: an uncaught exception skips autorun.
        "Loop.add_timer(0.3, lambda _t: w('never'))\nraise RuntimeError('uncaught')\n",
        # 22-stop-uncaught: an excepthook that calls Loop.stop() (set_exception_handler).
        "def hook(*args):\n    Loop.stop()\n    sys.__excepthook__(*args)\n"
        "sys.excepthook = hook\nLoop.add_timer(0.3, lambda _t: w('never'))\n"
        "raise RuntimeError('uncaught')\n",
        # An uncaught KeyboardInterrupt is an uncaught exception too.
        "Loop.add_timer(0.3, lambda _t: w('never'))\nraise KeyboardInterrupt\n",
    ],
    ids=["uncaught", "stop-in-excepthook", "keyboard-interrupt"],
)
def test_uncaught_exception_skips_autorun(code: str) -> None:
    result = _run_child(PRELUDE + code)
    assert result.returncode != 0
    assert "never" not in result.stdout
    assert result.stdout == ""


def test_exception_escaping_an_explicit_run_does_not_autorun_again() -> None:
    code = (
        "def boom():\n    raise ValueError('from a tick')\n"
        "Loop.future_tick(boom)\nLoop.future_tick(lambda: w('left'))\n"
        "try:\n    Loop.run()\nexcept ValueError:\n    w('caught')\n"
    )
    result = _run_child(PRELUDE + code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "caught"  # the loop already ran: the queued tick stays queued


# -- in-process tests: Loop.set() first, so that no autorun is registered here ------------------


@pytest.fixture
def own_loop() -> Iterator[StreamSelectLoop]:
    Loop._reset()
    loop = StreamSelectLoop()
    Loop.set(loop)
    yield loop
    Loop._reset()
    loop.close()


def test_get_returns_the_same_instance_and_set_replaces_it(own_loop: StreamSelectLoop) -> None:
    assert Loop.get() is own_loop
    assert Loop.get() is own_loop
    other = StreamSelectLoop()
    try:
        Loop.set(other)
        assert Loop.get() is other
    finally:
        Loop.set(own_loop)
        other.close()
    with pytest.raises(TypeError):
        Loop.set("not a loop")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Loop()


def test_proxies_forward_arguments_and_results(own_loop: StreamSelectLoop) -> None:
    calls: list[object] = []
    timer = Loop.add_timer(0, calls.append)
    periodic = Loop.add_periodic_timer(0, lambda t: (calls.append("p"), Loop.cancel_timer(t)))
    assert isinstance(timer, TimerInterface) and not timer.is_periodic
    assert periodic.is_periodic
    cancelled = Loop.add_timer(0, lambda _t: calls.append("cancelled"))
    Loop.cancel_timer(cancelled)
    Loop.future_tick(lambda: calls.append("tick"))
    Loop.run()
    assert calls == ["tick", timer, "p"]
    assert isinstance(Loop.get(), LoopInterface)


def test_stop_proxy_stops_the_running_loop(own_loop: StreamSelectLoop) -> None:
    calls: list[str] = []
    Loop.future_tick(Loop.stop)
    Loop.future_tick(lambda: Loop.future_tick(lambda: calls.append("next iteration")))
    Loop.run()
    assert calls == []
    assert Loop._stopped  # sticky
    Loop.run()
    assert calls == ["next iteration"]
