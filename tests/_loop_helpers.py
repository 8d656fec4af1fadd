"""Running a loop in a test until it has nothing left to do, with a watchdog."""

from __future__ import annotations

import threading
from collections.abc import Callable

from reactsse.loop import LoopInterface

LIMIT = 10.0


def run_until_idle(
    loop: LoopInterface, *cleanups: Callable[[], object], limit: float = LIMIT
) -> None:
    """Run ``loop`` until ``run()`` returns by itself (no timer, stream or listener left), then
    run ``cleanups`` and close the loop. A watchdog thread stops the loop after ``limit``
    seconds; the test then fails, saying that something was left running."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        loop.stop()

    watchdog = threading.Timer(limit, stop)
    watchdog.start()
    try:
        loop.run()
    finally:
        watchdog.cancel()
        for cleanup in cleanups:
            cleanup()
        loop.close()
    assert not fired.is_set(), f"loop.run() did not return within {limit} s: something was left"
