"""The contract between :class:`reactsse.server.SSEServer` and the app it serves.

An app is any callable ``app(request) -> BodyReply | EventStream``. The server owns the
sockets, HTTP/1.1, the clock and the pacing; the app only says what to answer:

* a :class:`BodyReply` is a whole response (status, extra headers, a body);
* an :class:`EventStream` is a ``200`` ``text/event-stream`` response whose events come from an
  iterator of :class:`Event`. Each event says when it is due (``at``, seconds after the stream
  started); the server writes every due event, waits on a loop timer for the next one, and
  closes the iterator (its ``finally`` runs) however the stream ends.
* an :class:`EncodedEvents` among the events is a run of events already encoded as SSE
  (an app that renders a whole answer at once, or replays recorded bytes), written as it is;
* an :class:`EventFeed` as the events of an :class:`EventStream` is for events that arrive later
  from another source on the same loop (an upstream stream): the app pushes them, the server
  writes them as they come, and the feed's ``on_close`` tells the app when nobody reads any more.

The app is called on the loop thread, once per request, and must not block. An exception from
the app is answered with a 500; an exception from the iterator cuts the response (there is no
status left to send once the events have started). Example (also in ``docs/server.md``)::

    def ticks(request: Request) -> BodyReply | EventStream:
        if request.path != "/ticks":
            return error_reply(404, f"no {request.path}")
        count = int(request.query.get("count", "3"))
        return EventStream(Event(f"tick {n}", id=str(n), at=n * 0.5) for n in range(count))
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl

__all__ = [
    "App",
    "BodyReply",
    "EncodedEvents",
    "Event",
    "EventFeed",
    "EventStream",
    "Reply",
    "Request",
    "error_reply",
]


@dataclass(frozen=True)
class Request:
    """A complete HTTP request as the server received it.

    ``headers`` has lower-case names (the last of repeated headers wins); ``target`` is the
    request target as sent (path and query). A ``HEAD`` request reaches the app as ``GET``:
    the server sends the head of the answer without its content (RFC 9110 §9.3.2).
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (the last of repeated names wins; blanks kept)."""
        return dict(parse_qsl(self.target.partition("?")[2], keep_blank_values=True))


# Compact separators and UTF-8 kept as is (what OpenAI's API sends). One encoder for all calls:
# json.dumps with options builds a new JSONEncoder every time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class BodyReply:
    """A whole response: ``status``, ``body`` and extra ``headers``.

    ``body`` is a JSON object (sent as ``application/json``), a ``str`` (``text/plain``),
    ``bytes`` (``application/octet-stream``) or ``None`` (empty). A ``content-type`` in
    ``headers`` replaces the default one. The server adds ``content-length``.
    """

    status: int
    body: Mapping[str, Any] | str | bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def encoded(self) -> tuple[bytes, str]:
        """The body bytes and their default Content-Type (``""`` for no body)."""
        body = self.body
        if body is None:
            return b"", ""
        if isinstance(body, bytes):
            return body, "application/octet-stream"
        if isinstance(body, str):
            return body.encode("utf-8"), "text/plain; charset=utf-8"
        return _ENCODER.encode(body).encode("utf-8"), "application/json"


class Event(NamedTuple):
    """One server-sent event, due ``at`` seconds after its stream started.

    The fields are those of ``reactsse.sse.encode_event``. A NamedTuple rather than a frozen
    dataclass: apps build one per token, and a frozen dataclass's ``__init__`` costs several
    times more.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    at: float = 0.0


class EncodedEvents(NamedTuple):
    """A run of events already encoded as SSE, due ``at`` seconds after the stream started.

    ``data`` is what ``reactsse.sse.encode_event`` returns for each of the ``event_count``
    events, concatenated. The server writes it as it is, in one piece, and counts
    ``event_count`` events (for the access log, ``disconnect_after`` and ``stall_after``). A
    threshold reached inside a run acts after the whole run: an app that wants a cut at an exact
    event yields its events one by one.
    """

    data: bytes
    event_count: int
    at: float = 0.0


class EventFeed:
    """Events pushed by the app as they arrive, for an :class:`EventStream`'s ``events``.

    An iterator cannot say "nothing yet, more later": the server would take its end for the
    end of the stream. A feed can. The app keeps the feed, returns
    ``EventStream(feed, timed=True)`` and, later, on the loop thread (from an upstream
    stream's callbacks, a timer...):

    * ``push(event)`` queues one event; the server writes it on its next loop turn (pushes made
      in one turn go out together, in one write). Returns False once the feed is closed (the
      event is dropped: nobody reads any more).
    * ``end()``: no more events; the server ends the response once the queued ones are written.
    * ``on_close``: called once when the server stops reading the feed, for whatever reason
      (the client went away or was too slow, the response ended, ``disconnect_after``, the
      server closed). Cancel the source there.

    Pushed events are due at once (leave ``at`` at 0). ``timed=True`` is what a feed wants: the
    source sets the pace, so a client that falls ``max_client_buffer`` behind is dropped rather
    than letting the feed's queue grow. Not thread-safe: push from the loop thread only.
    """

    def __init__(self, on_close: Callable[[], object] | None = None) -> None:
        self.on_close = on_close
        self._queue: deque[Event | EncodedEvents] = deque()
        self._ended = False
        self._closed = False
        self._wake: Callable[[], object] | None = None

    @property
    def closed(self) -> bool:
        """True once the server stopped reading (``on_close`` has been called)."""
        return self._closed

    @property
    def exhausted(self) -> bool:
        """True once ``end()`` was called and every pushed event was taken."""
        return self._ended and not self._queue

    def push(self, event: Event | EncodedEvents) -> bool:
        """Queue ``event`` for the client; False (and dropped) if the feed is closed or ended."""
        if self._closed or self._ended:
            return False
        self._queue.append(event)
        if self._wake is not None:
            self._wake()
        return True

    def end(self) -> None:
        """No more events: the response ends after the queued ones. Idempotent."""
        if self._closed or self._ended:
            return
        self._ended = True
        if self._wake is not None:
            self._wake()

    def set_waker(self, wake: Callable[[], object] | None) -> None:
        """For the server: ``wake()`` is called on every push and on ``end()``."""
        self._wake = wake

    def __iter__(self) -> EventFeed:
        return self

    def __next__(self) -> Event | EncodedEvents:
        # Empty is not the end: the server asks `exhausted` before it ends the response.
        if self._queue:
            return self._queue.popleft()
        raise StopIteration

    def close(self) -> None:
        """For the server: stop; drop what is queued; call ``on_close`` once. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._wake = None
        if self.on_close is not None:
            self.on_close()


@dataclass(frozen=True)
class EventStream:
    """A stream reply: the server paces ``events`` onto the connection.

    * ``events``: the events, in order; the server takes one iterator of it and closes that
      iterator (if it has ``close()``) when the stream ends for any reason. An
      :class:`EventFeed` here is read as its events are pushed, and the stream ends only
      after its ``end()``.
    * ``timed``: True when the events carry real schedule times. A client that falls behind a
      timed stream is dropped at the server's buffer limit (the schedule is kept); an untimed
      stream (every ``at`` is 0) is written as fast as the client reads, no faster.
    * ``disconnect_after``: after that many events, flush and close the connection without
      ending the response (the client sees a cut body; for testing reconnection).
    * ``stall_after``: after that many events, send nothing more but keep-alive comments
      until the client leaves or the server closes (for testing clients' event timeouts).
    * ``status`` and ``headers``: the status (an EventSource accepts only 200) and extra
      response headers, sent after the event-stream ones.
    """

    events: Iterable[Event | EncodedEvents]
    timed: bool = False
    disconnect_after: int | None = None
    stall_after: int | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


Reply = BodyReply | EventStream
"""What an app returns."""


class App(Protocol):
    """What :class:`reactsse.server.SSEServer` serves: ``app(request) -> Reply``."""

    def __call__(self, request: Request, /) -> Reply: ...


def error_reply(
    status: int,
    message: str,
    type_: str | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> BodyReply:
    """A JSON error body ``{"error": {"message", "type", "param", "code"}}``.

    The shape OpenAI's API uses; the server sends it for its own errors (400, 413, 500).
    ``type_`` defaults to ``server_error`` for 5xx and ``invalid_request_error`` otherwise.
    """
    if type_ is None:
        type_ = "server_error" if status >= 500 else "invalid_request_error"
    return BodyReply(
        status, {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
