"""``EventStreamDecoder``: the state of one event stream, and the order of the stages.

It owns the state kept between reads and runs each chunk through the stages: bytes into lines
(``reactsse.sse.lines``), then lines into events, by the fast paths (``reactsse.sse.fastpaths``)
where they apply and by the reference interpreter (``reactsse.sse.interpreter``) where tracing
is on or a limit could be hit.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from reactsse.errors import EventTooLarge, LocalProtocolError
from reactsse.sse.fastpaths import FastPaths
from reactsse.sse.lines import CR, LF, join_pending, normalise_line_ends, skip_bom, split_lines
from reactsse.sse.model import Line, MessageEvent
from reactsse.sse.policy import FastPathPolicy

__all__ = ["EventStreamDecoder"]


class _State(enum.Enum):
    START = "start"  # fewer than 3 bytes seen: whether they are a BOM is not decided yet
    OPEN = "open"
    CLOSED = "closed"  # close() was called
    BROKEN = "broken"  # a limit was hit after some events: the next call raises the error
    FAILED = "failed"  # EventTooLarge was raised; the stream cannot be resynchronised


_OPEN = _State.OPEN


class EventStreamDecoder(FastPaths):
    """Incremental decoder of a ``text/event-stream`` body (WHATWG HTML §9.2.5–9.2.6).

    ``max_event_size`` (bytes) bounds the memory a peer can make the decoder hold: any single
    line, and the data of one event (its ``data:`` values plus one LF each) together with the
    unterminated line being received. ``trace``, when given, is called with each line's
    interpretation (``Comment``, ``Field``, ``Dispatch``) as it happens. ``last_event_id``
    starts a reconnecting client from the previous ID.

    Readable at any time: ``last_event_id`` (as of the last blank line, what a reconnecting
    client sends as ``Last-Event-ID``), ``retry`` (the reconnection time in ms, ``None`` until a
    valid ``retry:`` field), ``comments_seen`` (number of comment lines so far: a client can tell
    that bytes arrived but only keep-alive comments), ``error`` (the ``EventTooLarge`` that
    broke the decoder, else ``None``).

    Errors (h11's convention: nothing received is lost to an error): a ``feed`` that passes
    ``max_event_size`` after completing some events returns those events and keeps the error,
    which the next call (``feed`` or ``close``) raises; with no event to return, it raises at
    once. The decoder stays broken: later calls raise ``LocalProtocolError``, as do calls
    after ``close()``. A caller that must not wait for more bytes checks ``error`` after a
    ``feed`` that returned events.

    ``feed`` is inherited from ``FastPaths``: it is the whole-event shortcut, which hands every
    chunk it declines to ``_feed_lines`` here (the shortcut is the method itself, so that the
    commonest call pays no second Python call).

    Raises ``ValueError`` if ``max_event_size`` is not positive.
    """

    __slots__ = ()  # the state is DecoderState's (reactsse.sse.state)

    def __init__(
        self,
        *,
        max_event_size: int = 8 * 1024 * 1024,
        trace: Callable[[Line], None] | None = None,
        last_event_id: str = "",
    ) -> None:
        if max_event_size < 1:
            raise ValueError(f"max_event_size must be positive, not {max_event_size}")
        self._max_event_size = max_event_size
        self._trace = trace
        self._state = _State.START
        self._idle = False  # see FastPathPolicy: the whole-event shortcut may run
        self._policy = FastPathPolicy()
        self._head = b""
        self._skip_lf = False
        self._parts: list[bytes] = []
        self._pending_size = 0
        self._first: bytes | bytearray | None = None
        self._more: list[bytes] = []
        self._data_size = 0
        self._data_counted = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self.last_event_id: str = last_event_id
        self.retry: int | None = None
        self.comments_seen = 0
        self.error: EventTooLarge | None = None

    def _feed_lines(self, data: bytes) -> list[MessageEvent]:
        # The general path of feed(): bytes into lines, then the regions, the line loop or
        # the reference interpreter, then the unterminated last line is kept.
        if self._state is not _OPEN:
            data = self._start(data)
            if not data:
                return []
        if self._skip_lf or CR in data:
            data, self._skip_lf = normalise_line_ends(data, self._skip_lf)
        if LF not in data:  # no line completed (reads inside a long event): keep the piece
            return self._keep_partial(data, []) if data else []
        events: list[MessageEvent] = []
        size = 0  # the size of a chunk that went through the line loop alone
        policy = self._policy
        rest = None
        if (
            policy.many  # (the find and rfind of a region pay only on chunks of many events)
            and not policy.cooldown
            and self._trace is None
            and self._data_size + self._pending_size + len(data) <= self._max_event_size
        ):
            rest = self._regions(data, events)
        if rest is None:
            size = len(data)
        else:
            data = rest
        lines = split_lines(data)
        partial = lines.pop()
        if self._parts:
            join_pending(self._parts, lines)
            self._parts = []
        if (
            self._trace is not None
            or self._data_size + self._pending_size + len(data) > self._max_event_size
        ):
            self._pending_size = 0
            fault = self._interpret(lines, events)  # traces and checks the limits
            if fault is not None:
                return self._fault(fault, events)
        else:
            self._pending_size = 0
            self._interpret_fast(lines, events)
        if partial:
            events = self._keep_partial(partial, events)
        policy.after_chunk(len(lines), len(events), size)
        return events

    def _keep_partial(self, piece: bytes, events: list[MessageEvent]) -> list[MessageEvent]:
        # Keep the start of the unterminated last line (the pieces are joined once, when the
        # line ends: a long line is never rescanned).
        self._idle = False
        self._parts.append(piece)
        self._pending_size += len(piece)
        if self._pending_size + self._data_size > self._max_event_size:
            fault = self._partial_fault()
            if fault is not None:
                return self._fault(fault, events)
        return events

    def _partial_fault(self) -> str | None:
        """What a line still being received breaks, if anything: ``"line"`` or ``"event"``.

        Counted as the whole line will be once it ends, so that where the stream was cut never
        changes the result: the line alone past the limit, or the data it adds for sure (a
        ``data:`` line adds at least what has arrived of its value, plus its LF) with the
        event's data held. Only called when the two together pass the limit.
        """
        pending = self._pending_size
        limit = self._max_event_size
        if pending > limit:
            return "line"
        parts = self._parts
        head = parts[0][:6] if len(parts[0]) >= 6 else b"".join(parts)[:6]
        if not head.startswith(b"data:"):
            return None  # another field, a comment, or a name still arriving: adds no data
        # The value so far (one leading space is not part of it) and its LF.
        added = pending - 5 if head == b"data: " else pending - 4
        return "event" if self._data_size + added > limit else None

    def _start(self, data: bytes) -> bytes:
        if self._state is _State.BROKEN:
            self._state = _State.FAILED
            assert self.error is not None
            raise self.error
        if self._state is not _State.START:
            raise LocalProtocolError(f"feed() on a {self._state.value} EventStreamDecoder")
        head = skip_bom(self._head + data)
        if head is None:
            self._head += data
            return b""
        self._head = b""
        self._state = _OPEN
        return head

    def _fault(self, what: str, events: list[MessageEvent]) -> list[MessageEvent]:
        # A line or an event passed max_event_size: the decoder is broken. The events decoded
        # before the fault are returned and the error kept for the next call; with none, the
        # error is raised now.
        limit = self._max_event_size
        self.error = EventTooLarge(
            f"event-stream {what} larger than max_event_size={limit} bytes", limit=limit
        )
        self._idle = False
        if events:
            self._state = _State.BROKEN
            return events
        self._state = _State.FAILED
        raise self.error

    def close(self) -> list[MessageEvent]:
        """End the stream: an unfinished block or line is discarded (§9.2.6). Returns ``[]``.

        Every complete event was already returned by ``feed`` (a lone CR completes a line at
        once), so nothing can be pending; the list is returned for symmetry with ``feed``.
        Raises the kept ``EventTooLarge`` if the last ``feed`` returned events before a fault
        (see the class docstring). Idempotent; after it, ``feed`` raises ``LocalProtocolError``.
        """
        broken = self._state is _State.BROKEN
        if self._state is not _State.FAILED:
            self._state = _State.FAILED if broken else _State.CLOSED
        self._idle = False
        self._head = b""
        self._parts = []
        self._pending_size = 0
        self._first = None
        self._more = []
        self._data_size = 0
        self._data_counted = 0
        self._event_type = ""
        if broken:
            assert self.error is not None
            raise self.error
        return []
