"""``--trace`` for the commands: the ``TextTrace`` on stderr, sized and coloured for a terminal,
kept from gluing onto the tokens on stdout, and in the true order of what happened."""

from __future__ import annotations

import argparse
import os
import sys

from reactsse.eventsource import TextTrace
from reactsse.sse import Comment, Dispatch, Field

__all__ = ["CliTrace", "client_trace", "stdout_wrote"]

# The width of a trace line when stderr is not a terminal.
PIPE_WIDTH = 100


class _Stdout:
    """Whether the last thing written to stdout ended its line."""

    mid_line = False


def stdout_wrote(text: str) -> None:
    """Record what was written to stdout (the commands' ``write`` calls this)."""
    if text:
        _Stdout.mid_line = not text.endswith("\n")


class _Output:
    """The trace's file: stderr, after ending a stdout line that a token left open (on a
    terminal, both share the screen), or held while ``hold`` says events are not shown yet."""

    def __init__(self, trace: CliTrace) -> None:
        self._trace = trace
        # Lines that wait, each with the number of events delivered before it.
        self.held: list[tuple[int, str]] = []

    def write(self, text: str) -> None:
        after = self._trace.behind()
        if after is not None:
            self.held.append((after, text))
            return
        self.put(text)

    def put(self, text: str) -> None:
        if _Stdout.mid_line and sys.stdout.isatty():
            sys.stdout.write("\n")
            sys.stdout.flush()
            _Stdout.mid_line = False
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class CliTrace(TextTrace):
    """The commands' ``TextTrace``.

    The order of its lines is the order of what happened, also for a consumer that shows events
    later than the loop delivered them (``get`` reads a blocking iterator: the rest of a read,
    even a reconnect, is handled before the script sees the read's events). Such a consumer
    calls ``shown()`` after each event it shows; the lines that came after an event not yet
    shown wait for it. A callback consumer shows each event as it is delivered and never waits.
    """

    def __init__(self, *, width: int | None, color: bool, ordered: bool = False) -> None:
        self._output = _Output(self)
        super().__init__(self._output, width=width, color=color)  # type: ignore[arg-type]
        self._ordered = ordered
        self._dispatched = 0
        self._shown = 0

    def behind(self) -> int | None:
        """The number of events delivered, when some are not shown yet (a line must wait)."""
        if self._ordered and self._dispatched > self._shown:
            return self._dispatched
        return None

    def sse(self, record: Comment | Field | Dispatch) -> None:
        super().sse(record)
        if isinstance(record, Dispatch) and record.event is not None:
            self._dispatched += 1

    def shown(self) -> None:
        """The consumer showed the next event: the lines that followed it may go out."""
        self._shown += 1
        self._release()

    def finish(self) -> None:
        """The consumer is done: whatever waits goes out."""
        self._ordered = False
        self._release()

    def _release(self) -> None:
        held = self._output.held
        shown = self._shown if self._ordered else self._dispatched
        count = 0
        for after, text in held:
            if after > shown:
                break
            self._output.put(text)
            count += 1
        if count:
            del held[:count]
            self._output.flush()


def client_trace(args: argparse.Namespace, *, ordered: bool = False) -> CliTrace | None:
    """The trace ``--trace`` asks for: None, lines as wide as the terminal, or (``--trace=full``)
    everything. Colours on a terminal only, never with ``NO_COLOR`` set (https://no-color.org)."""
    if not args.trace:
        return None
    terminal = sys.stderr.isatty()
    width: int | None = PIPE_WIDTH
    if args.trace == "full":
        width = None
    elif terminal:
        try:
            width = os.get_terminal_size(sys.stderr.fileno()).columns
        except (OSError, ValueError):
            width = PIPE_WIDTH
    color = terminal and "NO_COLOR" not in os.environ
    return CliTrace(width=width, color=color, ordered=ordered)
