"""``SignalsHandler``: signal listeners, OS handlers, the wake-up socket (src/SignalsHandler.php).

Internal building block shared by every loop implementation. ``SignalListeners`` is the part
that does not depend on how a signal is received (the listener lists, the checks, dispatching),
also the base of ``reactsse.aio``'s ``HostSignals``, which receives signals through its host.

How a signal reaches a listener (ReactPHP with ``pcntl_async_signals`` calls listeners at once,
between opcodes; this port lets the loop call them, right after its select, as SSL does without
async signals: see "Deviations"):

1. Python's C-level handler writes a byte to the wake-up socket (``signal.set_wakeup_fd``), so a
   ``select`` blocked in the loop returns. Without it PEP 475 would retry the ``select`` after the
   Python handler ran, and the loop would stay blocked.
2. The Python-level handler (``_record``) appends the signal number to ``pending``.
3. The loop sees ``pending`` non-empty after its select and calls ``dispatch()``, which drains the
   socket and calls each listener of each pending signal with the signal number. While ``pending``
   is non-empty the loop must not block (a signal may arrive after the drain).

Invariants: ``listeners`` holds only non-empty lists; the wake-up socket exists exactly when
``listeners`` is non-empty; ``_previous[sig]`` is the handler that was installed before ours.

Python allows one wake-up fd and one handler per signal per process: two loops using the same
signal at the same time do not both receive it.
"""

from __future__ import annotations

import signal as _signal
import socket
import threading
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import TypeAlias

__all__ = ["SignalsHandler"]

_Handler: TypeAlias = "Callable[[int, FrameType | None], object] | int | _signal.Handlers | None"


class SignalListeners:
    """Signal listeners per signal number, no duplicates (``in_array`` in SignalsHandler.php).

    The bookkeeping every loop shares; a subclass decides how a signal is received:
    ``_install(signal)`` runs before the first listener of a signal is stored (it raises
    ``ValueError`` for a signal that cannot be caught), ``_uninstall(signal)`` after the last
    one is removed. A received signal's number waits in ``pending`` until ``dispatch()``.
    """

    __slots__ = ("_previous", "listeners", "pending")

    def __init__(self) -> None:
        #: signal number -> its listeners (never an empty list). Only this class changes it;
        #: the loop's hot path tests its truth.
        self.listeners: dict[int, list[Callable[[int], object]]] = {}
        #: the handler each signal had before its first listener, until it is put back.
        self._previous: dict[int, _Handler] = {}
        #: signal numbers received and not dispatched yet, oldest first.
        self.pending: deque[int] = deque()

    def is_empty(self) -> bool:
        """True when no signal has a listener."""
        return not self.listeners

    def add(self, signal: int, listener: Callable[[int], object]) -> None:
        """Call ``listener(signal)`` for every ``signal`` received; a duplicate is ignored.

        The first listener of a signal installs the OS handler (remembering the previous one).
        Raises ``RuntimeError`` outside the main thread, ``TypeError`` for a non-callable listener
        or a signal that is not an int, ``ValueError`` for a signal that cannot be caught
        (``SIGKILL``, out of range).
        """
        _check_main_thread("add_signal")
        if not callable(listener):
            raise TypeError(f"signal listener must be callable, not {listener!r}")
        if isinstance(signal, bool) or not isinstance(signal, int):
            raise TypeError(f"signal must be an int signal number, not {signal!r}")
        listeners = self.listeners.get(signal)
        if listeners is not None:
            if listener not in listeners:
                listeners.append(listener)
            return
        self._install(signal)
        self.listeners[signal] = [listener]

    def remove(self, signal: int, listener: Callable[[int], object]) -> None:
        """Remove ``listener`` of ``signal``; an unknown pair is ignored.

        Removing the last listener of a signal restores the handler that was installed before
        (ReactPHP sets ``SIG_DFL``: see "Deviations"). Raises ``RuntimeError`` outside the main
        thread when that would change an OS handler.
        """
        listeners = self.listeners.get(signal)
        if listeners is None or listener not in listeners:
            return
        if len(listeners) == 1:
            _check_main_thread("remove_signal")
        listeners.remove(listener)
        if listeners:
            return
        del self.listeners[signal]
        self._uninstall(signal)

    def dispatch(self) -> None:
        """Call the listeners of every pending signal.

        The listeners of one signal are called from a copy of their list, as ReactPHP's
        ``foreach`` does. An exception from a listener propagates; later signals stay pending.
        """
        pending = self.pending
        while pending:
            signal = pending.popleft()
            for listener in list(self.listeners.get(signal, ())):
                listener(signal)

    def clear(self) -> None:
        """Remove every listener and restore every handler (main thread only)."""
        for signal in list(self.listeners):
            for listener in list(self.listeners.get(signal, ())):
                self.remove(signal, listener)
        self.pending.clear()

    def _install(self, signal: int) -> None:
        raise NotImplementedError

    def _uninstall(self, signal: int) -> None:
        raise NotImplementedError

    def _take_signal(self, signal: int) -> _Handler:
        """Make ``_record`` the handler of ``signal``; return the handler it replaced.

        Installing it is also the check that the signal can be caught.
        """
        try:
            return _signal.signal(signal, self._record)
        except (ValueError, OSError) as exc:
            raise ValueError(f"cannot listen to signal {signal!r}: {exc}") from exc

    def _record(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between bytecodes: only record, never call listeners here.
        self.pending.append(signum)

    def _restore(self, signal: int) -> None:
        previous = self._previous.pop(signal, None)
        # A handler installed from C (not Python) reads back as None: SIG_DFL is the best guess.
        _signal.signal(signal, _signal.SIG_DFL if previous is None else previous)


class SignalsHandler(SignalListeners):
    """``SignalListeners`` received through Python handlers and the process' wake-up socket."""

    __slots__ = (
        "_on_wakeup_close",
        "_on_wakeup_open",
        "_previous_wakeup_fd",
        "_wakeup_reader",
        "_wakeup_writer",
    )

    def __init__(
        self,
        on_wakeup_open: Callable[[socket.socket], object] = lambda _socket: None,
        on_wakeup_close: Callable[[socket.socket], object] = lambda _socket: None,
    ) -> None:
        """``on_wakeup_open(sock)`` is called when the wake-up socket is created (the loop
        registers it with its selector); ``on_wakeup_close(sock)`` just before it is closed."""
        super().__init__()
        self._on_wakeup_open = on_wakeup_open
        self._on_wakeup_close = on_wakeup_close
        self._wakeup_reader: socket.socket | None = None
        self._wakeup_writer: socket.socket | None = None
        self._previous_wakeup_fd = -1

    @property
    def wakeup_socket(self) -> socket.socket | None:
        """The socket that becomes readable when a signal arrives; None while no listener exists."""
        return self._wakeup_reader

    def dispatch(self) -> None:
        """Drain the wake-up socket, then call the listeners of every pending signal."""
        reader = self._wakeup_reader
        if reader is not None:
            try:
                while reader.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        super().dispatch()

    def _install(self, signal: int) -> None:
        opened = self._open_wakeup() if not self.listeners else False
        try:
            self._previous[signal] = self._take_signal(signal)
        except ValueError:
            if opened:
                self._close_wakeup()
            raise

    def _uninstall(self, signal: int) -> None:
        self._restore(signal)
        if not self.listeners:
            self._close_wakeup()

    def _open_wakeup(self) -> bool:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        try:
            # warn_on_full_buffer=False: a full buffer only means a wake-up is already queued.
            self._previous_wakeup_fd = _signal.set_wakeup_fd(
                writer.fileno(), warn_on_full_buffer=False
            )
        except BaseException:
            reader.close()
            writer.close()
            raise
        self._wakeup_reader, self._wakeup_writer = reader, writer
        try:
            self._on_wakeup_open(reader)
        except BaseException:
            self._close_wakeup(notify=False)
            raise
        return True

    def _close_wakeup(self, *, notify: bool = True) -> None:
        reader, writer = self._wakeup_reader, self._wakeup_writer
        if reader is None or writer is None:
            return
        if notify:
            self._on_wakeup_close(reader)  # while it is still open: the selector can find it
        current = _signal.set_wakeup_fd(self._previous_wakeup_fd)
        if current != writer.fileno():
            # Someone else replaced our wake-up fd meanwhile: leave theirs in place.
            _signal.set_wakeup_fd(current)
        self._wakeup_reader = self._wakeup_writer = None
        self._previous_wakeup_fd = -1
        reader.close()
        writer.close()


def _check_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"{what}() must be called from the main thread (Python signal rule)")
