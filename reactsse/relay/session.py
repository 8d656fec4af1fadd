"""``RelaySession``: one upstream answer, its replay buffer, and the browsers reading it.

A session is created by a ``GET /chat?prompt=...`` and lives on after its answer ended, for
``replay_ttl`` seconds, so that a browser that reconnects with ``Last-Event-ID`` gets what it
missed. Each browser connection is a :class:`Reader` with its own
:class:`~reactsse.server.EventFeed`; every event goes to every reader, and into the replay
buffer (a ``deque`` with a ``maxlen``: old events fall off, and an id older than the oldest kept
is "too late").

The session's ids are ``KEY:N``: ``KEY`` names the session (random, so that nobody reads
another's answer by guessing) and ``N`` counts its events from 1. ``Last-Event-ID: KEY:N``
therefore says both which answer and where in it.
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from reactsse.errors import APIError, HTTPStatusError
from reactsse.loop import LoopInterface, TimerInterface
from reactsse.openai import ChatCompletion, ChatDelta, OpenAIClient, StreamHandle
from reactsse.relay.options import RelayOptions
from reactsse.server.app import BodyReply, Event, EventFeed, EventStream, Reply

__all__ = ["CUT_GRACE", "Reader", "RelaySession", "SessionState", "too_late"]

#: Seconds an upstream goes on after the relay itself cut its browser's connection (the
#: ``cut_after`` test hook): the browser is known to come back.
CUT_GRACE = 10.0


class SessionState(enum.Enum):
    LIVE = "live"  # the upstream is streaming
    DONE = "done"  # the answer is complete (the done event is the last one kept)
    FAILED = "failed"  # the upstream failed (the error event is the last one kept)
    CANCELLED = "cancelled"  # every reader left and the upstream was cancelled


def too_late(message: str) -> Event:
    """The ``expired`` event: the reconnect cannot be served; ask again."""
    return Event(json.dumps({"message": message}), event="expired")


class Reader:
    """One browser connection reading a session: its feed, and what was pushed to it."""

    __slots__ = ("cut_after", "feed", "pushed", "retry_ms")

    def __init__(self, feed: EventFeed, retry_ms: int, cut_after: int | None) -> None:
        self.feed = feed
        self.retry_ms: int | None = retry_ms  # sent once, on this connection's first event
        self.cut_after = cut_after
        self.pushed = 0

    def push(self, event: Event) -> None:
        if self.retry_ms is not None:
            event = event._replace(retry=self.retry_ms)
            self.retry_ms = None
        if self.feed.push(event):
            self.pushed += 1

    @property
    def was_cut(self) -> bool:
        """True when the relay's own ``cut_after`` closed this connection."""
        return self.cut_after is not None and self.pushed >= self.cut_after


class RelaySession:
    """One upstream chat stream relayed to any number of browser connections."""

    def __init__(
        self,
        key: str,
        loop: LoopInterface,
        options: RelayOptions,
        on_gone: Callable[[RelaySession], object],
    ) -> None:
        self.key = key
        self.loop = loop
        self.options = options
        self._on_gone = on_gone
        self._kept: deque[tuple[int, Event]] = deque(maxlen=options.replay_events)
        self._next = 1
        self._readers: list[Reader] = []
        self._handle: StreamHandle[ChatDelta, ChatCompletion] | None = None
        self._timer: TimerInterface | None = None
        self.state = SessionState.LIVE
        self.tokens = 0

    @property
    def reader_count(self) -> int:
        return len(self._readers)

    def start(self, client: OpenAIClient, prompt: str) -> None:
        """Open the upstream stream (it runs on the loop; nothing blocks)."""
        self._handle = client.start_chat(
            prompt,
            model=self.options.model,
            on_delta=self._on_delta,
            on_done=self._on_done,
            on_error=self._on_error,
        )

    # -- upstream -------------------------------------------------------------------------------

    def _on_delta(self, delta: ChatDelta) -> None:
        if delta.content:  # the role chunk and the finish chunk carry no text
            self.tokens += 1
            self._emit(delta.content, "token")

    def _on_done(self, result: ChatCompletion) -> None:
        usage = result.usage
        done: dict[str, Any] = {
            "finish_reason": result.finish_reason,
            "model": result.model,
            "tokens": self.tokens,
            "usage": None
            if usage is None
            else {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
        self._emit(json.dumps(done), "done")
        self._finish(SessionState.DONE)

    def _on_error(self, error: Exception) -> None:
        # The client has already scrubbed the key out of every message.
        body: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
        if isinstance(error, APIError):
            body.update(type=error.type or "api_error", code=error.code)
        elif isinstance(error, HTTPStatusError):
            body["status"] = error.status
        self._emit(json.dumps(body), "error")
        self._finish(SessionState.FAILED)

    def _emit(self, data: str, type_: str) -> None:
        n = self._next
        self._next = n + 1
        event = Event(data, event=type_, id=f"{self.key}:{n}")
        self._kept.append((n, event))
        for reader in self._readers:
            reader.push(event)

    def _finish(self, state: SessionState) -> None:
        self.state = state
        self._handle = None
        readers, self._readers = self._readers, []
        for reader in readers:
            reader.feed.end()
        self._expire_later()

    # -- browsers -------------------------------------------------------------------------------

    def attach(self, after: int, *, cut_after: int | None = None) -> Reply:
        """A browser reading every event after number ``after`` (0: from the start)."""
        oldest = self._kept[0][0] if self._kept else self._next
        if after >= self._next:
            return EventStream(iter([too_late(f"event {self.key}:{after} was never sent")]))
        if after + 1 < oldest:
            return EventStream(
                iter([too_late(f"events after {self.key}:{after} are no longer kept")])
            )
        missing = [event for n, event in self._kept if n > after]
        if not missing and self.state in (SessionState.DONE, SessionState.FAILED):
            # Nothing left to send: 204 tells an EventSource to stop (WHATWG HTML §9.2.3).
            return BodyReply(204)
        feed = EventFeed()
        reader = Reader(feed, self.options.retry_ms, cut_after)
        feed.on_close = lambda: self._detach(reader)
        for event in missing:
            reader.push(event)
        if self.state is SessionState.LIVE:
            self._readers.append(reader)
            self._cancel_timer()
        else:
            if self.state is SessionState.CANCELLED:
                reader.push(too_late("the answer was cancelled when its last reader left"))
            feed.end()
        return EventStream(feed, timed=True, disconnect_after=cut_after)

    def _detach(self, reader: Reader) -> None:
        if reader not in self._readers:
            return
        self._readers.remove(reader)
        if self._readers or self.state is not SessionState.LIVE:
            return
        grace = max(self.options.linger, CUT_GRACE) if reader.was_cut else self.options.linger
        if grace:
            self._timer = self.loop.add_timer(grace, self._on_linger_end)
        else:
            self.cancel()

    def _on_linger_end(self, _timer: TimerInterface) -> None:
        self._timer = None
        if not self._readers:
            self.cancel()

    def cancel(self) -> None:
        """Cancel the upstream request now (its connection is released at once)."""
        if self.state is not SessionState.LIVE:
            return
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
        self._finish(SessionState.CANCELLED)

    # -- expiry ---------------------------------------------------------------------------------

    def _expire_later(self) -> None:
        self._cancel_timer()
        self._timer = self.loop.add_timer(self.options.replay_ttl, self._on_expired)

    def _on_expired(self, _timer: TimerInterface) -> None:
        self._timer = None
        self._on_gone(self)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self.loop.cancel_timer(self._timer)
            self._timer = None

    def close(self) -> None:
        """Release everything now: the upstream, the timers, the readers' feeds."""
        self.cancel()
        self._cancel_timer()
        self._kept.clear()
