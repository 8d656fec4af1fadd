"""``StreamSelectLoop``: ReactPHP's ``src/StreamSelectLoop.php`` on ``selectors.DefaultSelector``.

``DefaultSelector`` is epoll on Linux (kqueue on BSD/macOS), so more than 1024 descriptors work
and one select costs O(ready), not O(registered) as PHP's ``stream_select`` does.

One iteration of ``run()`` (reactphp/event-loop ``src/StreamSelectLoop.php``, ``run`` and
``waitForStreamActivity``), written down once, here:

1. the future ticks queued when the phase starts, FIFO (``FutureTickQueue.tick``);
2. the timers strictly past due, in due order (``Timers.tick``);
3. the timeout: 0 if ``stop()`` was called or ticks or signals are pending; else until the next
   timer; else forever if any stream or signal listener is left; else ``run()`` returns;
4. select; then pending signals are dispatched, then the read listeners of the ready streams,
   then their write listeners. Each listener is looked up again just before its call, so one
   removed earlier in the iteration is not called and one replaced meanwhile is the new one.

Invariants of the stream tables:

* ``_watches[fd]`` exists exactly when ``fd`` is registered with the selector for a user stream,
  and its events are ``READ`` iff it has a reader, ``WRITE`` iff it has a writer;
* ``_read_fds[id(stream)] == fd`` iff ``_watches[fd].reader is stream`` (same for writing): the
  registration is keyed by identity, and the watch holds a strong reference, so the id is not
  reused while registered and a socket is not garbage-collected (and closed) under the loop;
* the signal wake-up socket is registered with the selector but is never in ``_watches``.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable

from reactsse.loop.interface import LoopInterface, Stream, TimerInterface
from reactsse.loop.signals import SignalsHandler
from reactsse.loop.tick import FutureTickQueue
from reactsse.loop.timer import Timer, Timers

__all__ = ["StreamSelectLoop"]

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE

# select() overflows for huge timeouts (a 1e15 s timer): wake up once a day at most and look
# again, as asyncio does (base_events.py MAXIMUM_SELECT_TIMEOUT). Not a busy loop.
_MAX_TIMEOUT = 24 * 3600.0

# A wait shorter than this is done by polling (timeout 0) instead of sleeping: epoll rounds
# timeouts up to whole milliseconds and Linux timer slack adds ~50 µs to any sleep, so a short
# sleep would turn a chain of 1 µs timers into a chain of 1 ms waits.
_SPIN_BELOW = 50e-6


def timer_wait(delay: float, spin_below: float) -> float:
    """Step 3's wait for the first timer, ``delay`` seconds away: ``0`` below ``spin_below``
    (poll rather than sleep), at most a day (``_MAX_TIMEOUT``), else ``delay`` itself.

    One rule for every loop that iterates like ``StreamSelectLoop``: ``AnyioLoop`` takes it too,
    so that a 1e15 s timer overflows no host deadline either.
    """
    if delay < spin_below:
        return 0.0
    if delay > _MAX_TIMEOUT:
        return _MAX_TIMEOUT
    return delay


_Listener = Callable[[Stream], object]


class _Watch:
    """The user streams of one descriptor: at most one reader and one writer."""

    __slots__ = ("fd", "on_readable", "on_writable", "reader", "writer")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reader: Stream | None = None
        self.on_readable: _Listener | None = None
        self.writer: Stream | None = None
        self.on_writable: _Listener | None = None

    def events(self) -> int:
        return (_READ if self.reader is not None else 0) | (
            _WRITE if self.writer is not None else 0
        )


def _fileno(stream: object) -> int:
    """The descriptor of ``stream``; ``TypeError``/``ValueError`` if it has none usable."""
    fileno = getattr(stream, "fileno", None)
    if fileno is None or not callable(fileno):
        raise TypeError(f"a stream must be a socket or have a fileno() method, not {stream!r}")
    try:
        fd = fileno()
    except (ValueError, OSError) as exc:  # io objects raise ValueError once closed
        raise ValueError(f"stream {stream!r} is closed or has no descriptor: {exc}") from exc
    if isinstance(fd, bool) or not isinstance(fd, int):
        raise TypeError(f"{stream!r}.fileno() returned {fd!r}, not an int")
    if fd < 0:
        raise ValueError(f"stream {stream!r} is closed (fileno() is {fd})")
    return fd


def _is_stale(stream: Stream, fd: int) -> bool:
    """True if ``stream`` no longer owns ``fd`` (it was closed and the number reused)."""
    try:
        return bool(stream.fileno() != fd)
    except (ValueError, OSError):
        return True


class StreamSelectLoop(LoopInterface):
    """ReactPHP's ``StreamSelectLoop``: one thread, one selector, ticks, timers, signals.

    Not thread-safe: call it from the thread that runs it (like PHP, which has one thread).
    See ``LoopInterface`` for the contract of each method and docs/loop.md for deviations.
    """

    #: A wait shorter than this is done by polling instead of sleeping (see ``_SPIN_BELOW``).
    _spin_below = _SPIN_BELOW

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Create a loop with its own selector; ``close()`` releases it.

        ``clock`` returns monotonic seconds; every timer and ``now()`` read it. Tests pass a
        ``VirtualClock`` through ``VirtualTimeLoop``.
        """
        self._clock = clock
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self._watches: dict[int, _Watch] = {}
        self._read_fds: dict[int, int] = {}
        self._write_fds: dict[int, int] = {}
        self._ticks = FutureTickQueue()
        self._timers = Timers(clock)
        self._signals = SignalsHandler(self._register_wakeup, self._selector.unregister)
        self._running = False

    # -- streams ------------------------------------------------------------------------------

    def add_read_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """See ``LoopInterface.add_read_stream``.

        Raises ``TypeError`` (listener not callable, no ``fileno()``), ``ValueError`` (closed
        stream, a descriptor epoll refuses such as a regular file, or a descriptor already
        watched for reading through another live object).
        """
        self._add_stream(stream, listener, reading=True)

    def add_write_stream(self, stream: Stream, listener: Callable[[Stream], object]) -> None:
        """See ``LoopInterface.add_write_stream``; same errors as ``add_read_stream``."""
        self._add_stream(stream, listener, reading=False)

    def remove_read_stream(self, stream: Stream) -> None:
        """See ``LoopInterface.remove_read_stream``. Works after the stream was closed."""
        self._remove_stream(stream, reading=True)

    def remove_write_stream(self, stream: Stream) -> None:
        """See ``LoopInterface.remove_write_stream``. Works after the stream was closed."""
        self._remove_stream(stream, reading=False)

    def _add_stream(self, stream: Stream, listener: _Listener, *, reading: bool) -> None:
        if not callable(listener):
            raise TypeError(f"stream listener must be callable, not {listener!r}")
        fds = self._read_fds if reading else self._write_fds
        if id(stream) in fds:
            return  # ReactPHP: a second add of the same stream is ignored, the first listener wins
        fd = _fileno(stream)
        watch = self._watches.get(fd)
        if watch is not None:
            held = watch.reader if watch.reader is not None else watch.writer
            if held is not None and held is not stream and _is_stale(held, fd):
                # The stream registered under this number was closed without being removed
                # and the OS reused the number: forget it (epoll already dropped it).
                self._forget(watch)
                watch = None
        if watch is None:
            self._register(fd, _READ if reading else _WRITE)
            watch = self._watches[fd] = _Watch(fd)
        else:
            current = watch.reader if reading else watch.writer
            if current is not None:
                what = "reading" if reading else "writing"
                raise ValueError(
                    f"descriptor {fd} is already watched for {what} through {current!r}; "
                    f"remove that stream first"
                )
            try:
                self._selector.modify(fd, watch.events() | (_READ if reading else _WRITE))
            except (OSError, ValueError, KeyError) as exc:
                raise ValueError(f"cannot watch stream {stream!r}: {exc}") from exc
        if reading:
            watch.reader, watch.on_readable = stream, listener
        else:
            watch.writer, watch.on_writable = stream, listener
        fds[id(stream)] = fd

    def _remove_stream(self, stream: Stream, *, reading: bool) -> None:
        fd = (self._read_fds if reading else self._write_fds).pop(id(stream), None)
        if fd is None:
            return
        watch = self._watches[fd]
        if reading:
            watch.reader = watch.on_readable = None
        else:
            watch.writer = watch.on_writable = None
        self._update(watch)

    def _register(self, fd: int, events: int) -> None:
        try:
            self._selector.register(fd, events)
        except (OSError, ValueError) as exc:
            # epoll refuses regular files (EPERM): stream_select would report them always
            # ready; see "Deviations".
            raise ValueError(f"cannot watch descriptor {fd}: {exc}") from exc

    def _update(self, watch: _Watch) -> None:
        """Bring the selector in line with ``watch`` after a removal."""
        events = watch.events()
        try:
            if events:
                self._selector.modify(watch.fd, events)
            else:
                del self._watches[watch.fd]
                self._selector.unregister(watch.fd)
        except (OSError, KeyError, ValueError):
            # The descriptor was closed before being removed: epoll forgot it already, and the
            # selector dropped its key when modify() failed. Nothing is left to undo.
            pass

    def _forget(self, watch: _Watch) -> None:
        if watch.reader is not None:
            self._read_fds.pop(id(watch.reader), None)
        if watch.writer is not None:
            self._write_fds.pop(id(watch.writer), None)
        watch.reader = watch.on_readable = watch.writer = watch.on_writable = None
        self._update(watch)

    # -- timers and ticks ---------------------------------------------------------------------

    def add_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """See ``LoopInterface.add_timer``; returns the ``Timer``."""
        return self._timers.add(Timer(interval, callback, False))

    def add_periodic_timer(
        self, interval: float, callback: Callable[[TimerInterface], object]
    ) -> TimerInterface:
        """See ``LoopInterface.add_periodic_timer``; returns the ``Timer``."""
        return self._timers.add(Timer(interval, callback, True))

    def cancel_timer(self, timer: TimerInterface) -> None:
        """See ``LoopInterface.cancel_timer``. Raises ``TypeError`` for a non-timer."""
        if not isinstance(timer, TimerInterface):
            raise TypeError(f"cancel_timer() takes a timer, not {timer!r}")
        self._timers.cancel(timer)

    def future_tick(self, listener: Callable[[], object]) -> None:
        """See ``LoopInterface.future_tick``. Raises ``TypeError`` for a non-callable."""
        if not callable(listener):
            raise TypeError(f"tick listener must be callable, not {listener!r}")
        self._ticks.add(listener)

    # -- signals ------------------------------------------------------------------------------

    def add_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """See ``LoopInterface.add_signal``.

        Raises ``RuntimeError`` outside the main thread, ``TypeError`` for a non-callable
        listener, ``ValueError`` for a signal that cannot be caught (``SIGKILL``, out of range).
        """
        self._signals.add(signal, listener)

    def remove_signal(self, signal: int, listener: Callable[[int], object]) -> None:
        """See ``LoopInterface.remove_signal``: the last removal restores the previous handler."""
        self._signals.remove(signal, listener)

    def _register_wakeup(self, wakeup: socket.socket) -> None:
        # The signal wake-up socket is watched, but not in _watches: it keeps the loop alive
        # only through the signal listeners, and dispatch skips it (SignalsHandler drains it).
        self._selector.register(wakeup, _READ)

    # -- time -----------------------------------------------------------------------------------

    def now(self) -> float:
        """See ``LoopInterface.now``: the loop's clock (``time.monotonic`` unless injected)."""
        return self._clock()

    def _sleep(self, timeout: float) -> None:
        """Wait ``timeout`` seconds with nothing to watch (only timers are left)."""
        time.sleep(timeout)

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> None:
        """See ``LoopInterface.run``.

        An exception from a listener propagates unwrapped and leaves the loop stopped with the
        remaining work queued; ``run()`` may then be called again. Raises ``RuntimeError`` if
        the loop is already running (ReactPHP: "MUST NOT be called while running").
        """
        if self._running:
            raise RuntimeError("run() called while the loop is already running")
        self._running = True
        # The hot path (measured with bench/loop.py --profile): one iteration is a handful of
        # truth tests on containers bound to locals here (their identity never changes: they are
        # only mutated in place), the phases are entered only when they have work, and the
        # select and the dispatch are inline rather than in a method of their own.
        ticks = self._ticks
        tick_queue = ticks.queue
        timers = self._timers
        timer_heap = timers.heap
        signals = self._signals
        signal_listeners = signals.listeners
        pending_signals = signals.pending
        watches = self._watches
        select = self._waiter()
        spin_below = self._spin_below
        clock = self._clock
        try:
            while self._running:
                # 1. Future ticks queued before this point (FutureTickQueue::tick).
                if tick_queue:
                    ticks.tick()
                # 2. Timers strictly past due (Timers::tick).
                if timer_heap:
                    timers.tick()
                # 3. The timeout (StreamSelectLoop::run).
                timeout: float | None
                if not self._running or tick_queue or pending_signals:
                    timeout = 0.0
                else:
                    first = timers.get_first() if timer_heap else None
                    if first is not None:
                        timeout = timer_wait(first - clock(), spin_below)
                    elif watches or signal_listeners:
                        timeout = None
                    else:
                        break  # nothing left to do: no tick, timer, stream or signal
                # 4. Select (StreamSelectLoop::waitForStreamActivity), then dispatch.
                if watches or signal_listeners:
                    ready = select(timeout)
                else:
                    # Nothing to watch, only timers (or a stop): sleep, which is finer than
                    # epoll's milliseconds. timeout is not None on this path.
                    if timeout:
                        self._sleep(timeout)
                    ready = None
                if pending_signals:
                    signals.dispatch()  # SSL calls pcntl_signal_dispatch() here too
                if ready:
                    self._dispatch(ready)
        finally:
            self._running = False

    def _waiter(self) -> Callable[[float | None], list[tuple[selectors.SelectorKey, int]]]:
        """The select of step 4, bound once per ``run()``; ``VirtualTimeLoop`` wraps it."""
        return self._selector.select

    def _dispatch(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        """Call the listeners of the ready streams: all readers, then all writers (SSL order).

        The watch and its listener are looked up again for every call: an earlier listener may
        have removed or replaced them (``testIgnoreRemovedCallback``).
        """
        watches = self._watches
        writable: list[int] | None = None
        for key, events in ready:
            if events & _READ:
                watch = watches.get(key.fd)
                if watch is not None:
                    on_readable = watch.on_readable
                    if on_readable is not None:
                        on_readable(watch.reader)  # type: ignore[arg-type]
            if events & _WRITE:
                if writable is None:
                    writable = [key.fd]
                else:
                    writable.append(key.fd)
        if writable is not None:
            for fd in writable:
                watch = watches.get(fd)
                if watch is not None:
                    on_writable = watch.on_writable
                    if on_writable is not None:
                        on_writable(watch.writer)  # type: ignore[arg-type]

    def stop(self) -> None:
        """See ``LoopInterface.stop``: the current iteration finishes, including its select."""
        self._running = False

    def close(self) -> None:
        """Release the selector and restore every signal handler; the loop is unusable after.

        Not part of ``LoopInterface`` (ReactPHP has no equivalent): tests and long-lived
        programs that create many loops call it so no descriptor leaks. Raises
        ``RuntimeError`` if called while running.
        """
        if self._running:
            raise RuntimeError("close() called while the loop is running")
        self._signals.clear()
        self._watches.clear()
        self._read_fds.clear()
        self._write_fds.clear()
        self._ticks.clear()
        self._timers.clear()
        self._selector.close()
