"""``Loop``: the static facade of ReactPHP's ``src/Loop.php``, autorun at exit included.

Rules kept from Loop.php (see docs/loop.md):

* ``Loop.get()`` creates one ``StreamSelectLoop`` the first time and returns it every time after.
  On creation it queues a future tick that records "the loop ran", and registers an ``atexit``
  function that runs the loop at interpreter exit unless (a) the program ended with an uncaught
  exception, (b) the loop already ran at least one iteration, or (c) ``Loop.stop()`` was called,
  at any time.
* ``Loop.stop()`` sets a process-wide flag that nothing resets, even when no loop exists yet.
* ``Loop.set(loop)`` before any ``get()`` means no autorun at all; after ``get()``, the old loop
  (captured at creation) is the one autorun runs.
* The ``add_*``, ``future_tick``, ``add_signal`` and ``run`` proxies create the loop when there is
  none; ``remove_*``, ``cancel_timer``, ``remove_signal`` and ``stop`` never create it (no-ops).
"""

from __future__ import annotations

import atexit
import dataclasses
import sys
from collections.abc import Callable
from typing import ClassVar

from reactsse.loop.interface import LoopInterface, Stream, TimerInterface
from reactsse.loop.select_loop import StreamSelectLoop

__all__ = ["Loop"]


# eq=False: atexit.unregister() finds a function by ==, and each autorun is only itself.
@dataclasses.dataclass(slots=True, eq=False)
class _Autorun:
    """The ``register_shutdown_function`` closure of ``Loop::get()``, as an object."""

    loop: LoopInterface
    has_run: bool = False

    def mark_ran(self) -> None:
        self.has_run = True

    def __call__(self) -> None:
        # Loop.php skips a fatal error (an uncaught exception); Python records an uncaught
        # exception in sys.last_exc (3.12+) / sys.last_value before atexit functions run.
        if (
            getattr(sys, "last_exc", None) is not None
            or getattr(sys, "last_value", None) is not None
        ):
            return
        if not self.has_run and not Loop._stopped:
            self.loop.run()


class Loop:
    """The process-wide default loop, reached through static methods (``React\\EventLoop\\Loop``).

    Every method is static; the class is not instantiated. ``Loop.get()`` returns the loop; the
    other methods forward their arguments to it and return its result.
    """

    _instance: ClassVar[LoopInterface | None] = None
    _stopped: ClassVar[bool] = False
    _autoruns: ClassVar[list[_Autorun]] = []

    def __init__(self) -> None:
        raise TypeError("Loop is a static facade: use Loop.get() or its static methods")

    @staticmethod
    def get() -> LoopInterface:
        """Return the default loop, creating a ``StreamSelectLoop`` (and its autorun) if needed."""
        instance = Loop._instance
        if instance is not None:
            return instance
        loop = StreamSelectLoop()
        Loop._instance = loop
        autorun = _Autorun(loop)
        loop.future_tick(autorun.mark_ran)
        atexit.register(autorun)
        Loop._autoruns.append(autorun)
        return loop

    @staticmethod
    def set(loop: LoopInterface) -> None:
        """Make ``loop`` the default loop (internal in ReactPHP; for tests and embedding).

        Raises ``TypeError`` if ``loop`` is not a ``LoopInterface``.
        """
        if not isinstance(loop, LoopInterface):
            raise TypeError(f"Loop.set() takes a LoopInterface, not {loop!r}")
        Loop._instance = loop

    @staticmethod
    def add_read_stream(stream: Stream, listener: Callable[[Stream], object]) -> None:
        """``Loop.get().add_read_stream(stream, listener)``."""
        Loop.get().add_read_stream(stream, listener)

    @staticmethod
    def add_write_stream(stream: Stream, listener: Callable[[Stream], object]) -> None:
        """``Loop.get().add_write_stream(stream, listener)``."""
        Loop.get().add_write_stream(stream, listener)

    @staticmethod
    def remove_read_stream(stream: Stream) -> None:
        """``remove_read_stream`` on the default loop; without one, does nothing."""
        if Loop._instance is not None:
            Loop._instance.remove_read_stream(stream)

    @staticmethod
    def remove_write_stream(stream: Stream) -> None:
        """``remove_write_stream`` on the default loop; does nothing without one."""
        if Loop._instance is not None:
            Loop._instance.remove_write_stream(stream)

    @staticmethod
    def add_timer(interval: float, callback: Callable[[TimerInterface], object]) -> TimerInterface:
        """``Loop.get().add_timer(interval, callback)``; returns the timer."""
        return Loop.get().add_timer(interval, callback)

    @staticmethod
    def add_periodic_timer(
        interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """``Loop.get().add_periodic_timer(interval, callback)``; returns the timer."""
        return Loop.get().add_periodic_timer(interval, callback)

    @staticmethod
    def cancel_timer(timer: TimerInterface) -> None:
        """``cancel_timer`` on the default loop; does nothing without one."""
        if Loop._instance is not None:
            Loop._instance.cancel_timer(timer)

    @staticmethod
    def future_tick(listener: Callable[[], object]) -> None:
        """``Loop.get().future_tick(listener)``."""
        Loop.get().future_tick(listener)

    @staticmethod
    def add_signal(signal: int, listener: Callable[[int], object]) -> None:
        """``Loop.get().add_signal(signal, listener)``."""
        Loop.get().add_signal(signal, listener)

    @staticmethod
    def remove_signal(signal: int, listener: Callable[[int], object]) -> None:
        """``remove_signal`` on the default loop; does nothing without one."""
        if Loop._instance is not None:
            Loop._instance.remove_signal(signal, listener)

    @staticmethod
    def now() -> float:
        """``Loop.get().now()``: the default loop's clock, in seconds."""
        return Loop.get().now()

    @staticmethod
    def run() -> None:
        """``Loop.get().run()``."""
        Loop.get().run()

    @staticmethod
    def stop() -> None:
        """Stop the default loop if there is one, and cancel autorun for good (sticky flag)."""
        Loop._stopped = True
        if Loop._instance is not None:
            Loop._instance.stop()

    @staticmethod
    def _reset() -> None:
        """Forget the default loop, its autorun and the stop flag (tests only)."""
        for autorun in Loop._autoruns:
            atexit.unregister(autorun)
        Loop._autoruns.clear()
        Loop._instance = None
        Loop._stopped = False
