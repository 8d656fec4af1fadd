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

Invariants: ``listeners`` holds only non-empty lists; ``_previous[sig]`` exists from the first
listener of ``sig`` until the handler found then is put back; a signal has at most one watcher
task, and ``_scopes[sig]`` is its cancel scope while it runs.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Callable

import anyio
import anyio.abc

from reactsse.loop.signals import SignalListeners

__all__ = ["HostSignals"]


class HostSignals(SignalListeners):
    """``SignalListeners`` watched by tasks of the host while it runs."""

    def __init__(self, wake: Callable[[], None]) -> None:
        """``wake()`` ends the loop's current wait in the host, so it dispatches at once."""
        super().__init__()
        self._wake = wake
        self._scopes: dict[int, anyio.CancelScope] = {}
        self._task_group: anyio.abc.TaskGroup | None = None

    def _install(self, signal: int) -> None:
        # Until a watcher runs, the recording handler receives the signal. A watcher still
        # shutting down holds the handler found before it: keep that one.
        self._previous.setdefault(signal, self._take_signal(signal))
        if self._task_group is not None and signal not in self._scopes:
            self._task_group.start_soon(self._watch, signal)

    def _uninstall(self, signal: int) -> None:
        # No watcher runs: put the old handler back now; else the watcher does as it ends.
        scope = self._scopes.get(signal)
        if scope is not None:
            scope.cancel()  # the watcher restores the handler on its way out
        else:
            self._restore(signal)

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Watch every signal with listeners from tasks of ``task_group``; returns once each
        receiver is installed, so no signal sent after this reaches the recording handler."""
        self._task_group = task_group
        for signal in list(self.listeners):
            if signal not in self._scopes:
                await task_group.start(self._watch, signal)

    def stop(self) -> None:
        """Start no more watchers: the loop's task group is being cancelled, ending them."""
        self._task_group = None

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
            if signal not in self.listeners:
                self._restore(signal)
            else:
                _signal.signal(signal, self._record)
                if self._task_group is not None:  # removed, then added again meanwhile
                    self._task_group.start_soon(self._watch, signal)
