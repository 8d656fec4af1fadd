"""``HostSignals``: the signal listeners of an ``AnyioLoop``, received through anyio.

A hosted loop must not take the process' wake-up descriptor (``signal.set_wakeup_fd``) from its
host: asyncio and trio both use it for their own signal handling. So, while the host runs, each
signal that has listeners is watched by one task of the host, inside anyio's
``open_signal_receiver``; the task queues the signal number and wakes the loop, which calls the
listeners after its wait, as ``StreamSelectLoop`` does after its select.

While the loop is not running there is no host to receive signals: the first listener of a
signal installs a Python handler that only records the number, and the next run dispatches it
(as ``StreamSelectLoop`` does for a signal received between runs). Removing the last listener
restores the handler that was there before the first one.

Invariants: ``_listeners`` holds only non-empty lists; ``_previous[sig]`` exists from the first
listener of ``sig`` until the handler found then is put back; a signal has at most one watcher
task, and ``_scopes[sig]`` is its cancel scope while it runs.
"""

from __future__ import annotations

import signal as _signal
import threading
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import TypeAlias

import anyio
import anyio.abc

__all__ = ["HostSignals"]

_Handler: TypeAlias = "Callable[[int, FrameType | None], object] | int | _signal.Handlers | None"


class HostSignals:
    """Signal listeners per signal number, no duplicates, watched by tasks of the host."""

    def __init__(self, wake: Callable[[], None]) -> None:
        """``wake()`` ends the loop's current wait in the host, so it dispatches at once."""
        self._wake = wake
        self._listeners: dict[int, list[Callable[[int], object]]] = {}
        self._previous: dict[int, _Handler] = {}
        self._scopes: dict[int, anyio.CancelScope] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        #: signal numbers received and not dispatched yet, oldest first.
        self.pending: deque[int] = deque()

    def is_empty(self) -> bool:
        """True when no signal has a listener."""
        return not self._listeners

    def add(self, signal: int, listener: Callable[[int], object]) -> None:
        """Call ``listener(signal)`` for every ``signal`` received; a duplicate is ignored.

        Raises ``RuntimeError`` outside the main thread, ``TypeError`` for a non-callable
        listener or a signal that is not an int, ``ValueError`` for a signal that cannot be
        caught (``SIGKILL``, out of range).
        """
        _check_main_thread("add_signal")
        if not callable(listener):
            raise TypeError(f"signal listener must be callable, not {listener!r}")
        if isinstance(signal, bool) or not isinstance(signal, int):
            raise TypeError(f"signal must be an int signal number, not {signal!r}")
        listeners = self._listeners.get(signal)
        if listeners is not None:
            if listener not in listeners:
                listeners.append(listener)
            return
        try:
            # Installing the recording handler is also the check that the signal can be caught.
            previous = _signal.signal(signal, self._record)
        except (ValueError, OSError) as exc:
            raise ValueError(f"cannot listen to signal {signal!r}: {exc}") from exc
        # A watcher still shutting down holds the handler found before it: keep that one.
        self._previous.setdefault(signal, previous)
        self._listeners[signal] = [listener]
        if self._task_group is not None and signal not in self._scopes:
            self._task_group.start_soon(self._watch, signal)

    def remove(self, signal: int, listener: Callable[[int], object]) -> None:
        """Remove ``listener`` of ``signal``; an unknown pair is ignored.

        Removing the last listener restores the handler installed before the first one (at once
        when the loop is not running, when its watcher task ends otherwise). Raises
        ``RuntimeError`` outside the main thread when that would change an OS handler.
        """
        listeners = self._listeners.get(signal)
        if listeners is None or listener not in listeners:
            return
        if len(listeners) == 1:
            _check_main_thread("remove_signal")
        listeners.remove(listener)
        if listeners:
            return
        del self._listeners[signal]
        scope = self._scopes.get(signal)
        if scope is not None:
            scope.cancel()  # the watcher restores the handler on its way out
        else:
            self._restore(signal)

    def dispatch(self) -> None:
        """Call the listeners of every pending signal (from a copy of each list, as ReactPHP's
        ``foreach`` does). An exception from a listener propagates; later signals stay pending.
        """
        pending = self.pending
        while pending:
            signal = pending.popleft()
            for listener in list(self._listeners.get(signal, ())):
                listener(signal)

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Watch every signal with listeners from tasks of ``task_group``; returns once each
        receiver is installed, so no signal sent after this reaches the recording handler."""
        self._task_group = task_group
        for signal in list(self._listeners):
            if signal not in self._scopes:
                await task_group.start(self._watch, signal)

    def stop(self) -> None:
        """Start no more watchers: the loop's task group is being cancelled, ending them."""
        self._task_group = None

    def clear(self) -> None:
        """Remove every listener and restore every handler (main thread, loop not running)."""
        for signal in list(self._listeners):
            for listener in list(self._listeners.get(signal, ())):
                self.remove(signal, listener)
        self.pending.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between bytecodes while no host receives the signal.
        self.pending.append(signum)

    def _restore(self, signal: int) -> None:
        previous = self._previous.pop(signal, None)
        # A handler installed from C (not Python) reads back as None: SIG_DFL is the best guess.
        _signal.signal(signal, _signal.SIG_DFL if previous is None else previous)

    async def _watch(
        self, signal: int, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        scope = anyio.CancelScope()
        self._scopes[signal] = scope
        try:
            with scope, anyio.open_signal_receiver(_signal.Signals(signal)) as receiver:
                task_status.started()
                if self.pending:  # recorded before the receiver was installed
                    self._wake()
                async for signum in receiver:
                    self.pending.append(int(signum))
                    self._wake()
        finally:
            del self._scopes[signal]
            # The receiver put back what it found (trio) or the default handler (asyncio).
            if signal not in self._listeners:
                self._restore(signal)
            else:
                _signal.signal(signal, self._record)
                if self._task_group is not None:  # removed, then added again meanwhile
                    self._task_group.start_soon(self._watch, signal)


def _check_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"{what}() must be called from the main thread (Python signal rule)")
