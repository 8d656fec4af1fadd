"""``LoopInterface`` and ``TimerInterface``: ReactPHP's event-loop contract, in snake_case.

Port of reactphp/event-loop ``src/LoopInterface.php`` and ``src/TimerInterface.php``.
Every implementation (``StreamSelectLoop``, ``VirtualTimeLoop``) passes the same contract
suite, ``tests/test_loop_contract.py``.

What listeners receive (ReactPHP's contract):

* a read or write stream listener: the stream, as its only argument;
* a timer callback: the timer (the object ``add_timer`` returned);
* a future-tick listener: nothing;
* a signal listener: the signal number.

Deviation: PHP drops extra arguments silently, so ReactPHP accepts a zero-parameter closure
anywhere. Python does not, and reactsse does not guess by introspection: a listener must accept
the argument it is documented to receive (``lambda _stream: ...``). See README "Deviations".
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["LoopInterface", "Stream", "TimerInterface"]


@runtime_checkable
class Stream(Protocol):
    """Anything the loop can watch: a socket, a pipe end, any object with ``fileno()``."""

    def fileno(self) -> int: ...


class TimerInterface(abc.ABC):
    """A timer returned by ``add_timer``/``add_periodic_timer`` (``src/TimerInterface.php``)."""

    @property
    @abc.abstractmethod
    def interval(self) -> float:
        """The interval in seconds, clamped to at least 1 µs."""

    @property
    @abc.abstractmethod
    def callback(self) -> Callable[[TimerInterface], object]:
        """The callback; it is called with this timer."""

    @property
    @abc.abstractmethod
    def is_periodic(self) -> bool:
        """True for ``add_periodic_timer`` timers."""


class LoopInterface(abc.ABC):
    """ReactPHP's ``LoopInterface``: streams, timers, future ticks, signals, run and stop."""

    @abc.abstractmethod
    def add_read_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """Call ``listener(stream)`` whenever ``stream`` is readable.

        A stream already registered for reading keeps its first listener (the second add is
        ignored). The loop keeps a strong reference to the stream while it is registered.
        Raises ``TypeError`` for a non-callable listener or an object without ``fileno()``, and
        ``ValueError`` for a closed stream.
        """

    @abc.abstractmethod
    def add_write_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """Call ``listener(stream)`` whenever ``stream`` is writable. Same rules as reading."""

    @abc.abstractmethod
    def remove_read_stream(self, stream: Stream) -> None:
        """Stop watching ``stream`` for reading. Removing what was never added does nothing."""

    @abc.abstractmethod
    def remove_write_stream(self, stream: Stream) -> None:
        """Stop watching ``stream`` for writing. Removing what was never added does nothing."""

    @abc.abstractmethod
    def add_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """Call ``callback(timer)`` once, ``interval`` seconds from now (at least 1 µs).

        Raises ``TypeError`` for a non-callable callback, ``ValueError`` for a NaN interval.
        """

    @abc.abstractmethod
    def add_periodic_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """Call ``callback(timer)`` every ``interval`` seconds until the timer is cancelled."""

    @abc.abstractmethod
    def cancel_timer(self, timer: TimerInterface) -> None:
        """Cancel ``timer``. A timer that is not active on this loop is ignored."""

    @abc.abstractmethod
    def future_tick(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` at the start of the next iteration, in FIFO order."""

    @abc.abstractmethod
    def add_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """Call ``listener(signal)`` when the process receives ``signal``.

        Adding the same listener twice for one signal is ignored. Signal listeners keep the loop
        running. Raises ``RuntimeError`` outside the main thread.
        """

    @abc.abstractmethod
    def remove_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """Remove a signal listener; removing the last restores the previous OS handler."""

    @abc.abstractmethod
    def now(self) -> float:
        """The loop's monotonic clock, in seconds: the time its timers are scheduled on.

        Not in ReactPHP (PHP code calls ``hrtime()``); asyncio's ``loop.time()`` and trio's
        ``current_time()`` play this role. Everything above the loop asks the loop for the time,
        so a loop on a virtual clock (``VirtualTimeLoop``) runs timeouts without waiting.
        """

    @abc.abstractmethod
    def run(self) -> None:
        """Run until there is nothing left to do, or ``stop()`` is called."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End ``run()`` after the current iteration. No effect on a loop that is not running."""
