"""``RelayApp``: ``GET /chat?prompt=...`` relays an upstream chat stream to browsers as SSE.

The relay is an app of :class:`reactsse.server.SSEServer` on the server's own loop: the upstream
request is an :class:`~reactsse.openai.OpenAIClient` stream in callback style, whose deltas are
pushed into the browser's :class:`~reactsse.server.EventFeed` as they arrive; nothing blocks.
``GET /`` is the teaching page (``reactsse/relay/page.html``); anything else goes to the
``fallback`` app (the built-in mock in ``reactsse serve``), or gets a 404.

What a browser receives on ``/chat`` (``docs/browser.md`` has the whole contract):

* ``event: token`` per upstream delta (``data:`` the text), ``id: KEY:N`` counting from 1,
  and a ``retry:`` on each connection's first event;
* ``event: done`` (finish reason, usage) or ``event: error`` (the upstream's error, typed),
  after which the response ends;
* ``event: expired`` for a ``Last-Event-ID`` whose events are no longer kept;
* ``: keep-alive`` comments from the server during silences.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from reactsse.openai import OpenAIClient
from reactsse.relay.options import RelayOptions
from reactsse.relay.page import page_reply
from reactsse.relay.session import RelaySession, SessionState, too_late
from reactsse.server.app import App, BodyReply, EventStream, Reply, Request, error_reply

if TYPE_CHECKING:
    from reactsse.loop import LoopInterface
    from reactsse.server import SSEServer

__all__ = ["RelayApp"]


class RelayApp:
    """The relay and its page: ``app(request) -> Reply``, for one :class:`SSEServer`.

    ``RelayApp(options=None, *, fallback=None)``; then ``use_server(server)`` once the server
    exists (the relay runs its upstream streams on the server's loop, and without
    ``options.upstream`` it relays the server's own ``/v1``). Until then ``/chat`` is a 503.
    """

    def __init__(self, options: RelayOptions | None = None, *, fallback: App | None = None) -> None:
        self.options = options if options is not None else RelayOptions()
        self.fallback = fallback
        self._loop: LoopInterface | None = None
        self._upstream = self.options.upstream
        self._sessions: dict[str, RelaySession] = {}
        self.resumes = 0
        """Connections that came back with a ``Last-Event-ID`` (for tests and curiosity)."""

    def __repr__(self) -> str:
        return f"RelayApp(upstream={self._upstream!r}, streams={len(self._sessions)})"

    def use_server(self, server: SSEServer) -> None:
        """Run on ``server``'s loop; without ``options.upstream``, relay ``server.url + /v1``."""
        self._loop = server.loop
        if self.options.upstream is None:
            self._upstream = server.url + "/v1"

    @property
    def live_count(self) -> int:
        """Upstream requests streaming now."""
        return sum(s.state is SessionState.LIVE for s in self._sessions.values())

    @property
    def session_count(self) -> int:
        """Streams held: live, or kept for replay."""
        return len(self._sessions)

    def close(self) -> None:
        """Cancel every upstream request and forget every stream."""
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.close()

    def __call__(self, request: Request, /) -> Reply:
        path = request.path
        if path == "/" and request.method == "GET":
            return page_reply()
        if path == "/chat":
            return self._chat(request)
        if self.fallback is not None:
            return self.fallback(request)
        return error_reply(404, f"Invalid URL ({request.method} {path})")

    def _chat(self, request: Request) -> Reply:
        if request.method != "GET":
            error = error_reply(405, f"Method {request.method} not allowed for /chat; use GET.")
            return BodyReply(error.status, error.body, (("Allow", "GET"),))
        query = request.query
        try:
            cut_after = int(query["cut_after"]) if "cut_after" in query else None
        except ValueError:
            return error_reply(400, "cut_after must be an integer")
        if cut_after is not None and cut_after < 1:
            return error_reply(400, "cut_after must be at least 1")
        last_id = request.headers.get("last-event-id")
        if last_id:
            self.resumes += 1
            return self._resume(last_id, cut_after)
        return self._start(request, cut_after)

    def _start(self, request: Request, cut_after: int | None) -> Reply:
        prompt = request.query.get("prompt", "").strip()
        if not prompt:
            return error_reply(400, "Ask something: GET /chat?prompt=...", param="prompt")
        if len(prompt) > self.options.max_prompt:
            return error_reply(
                400, f"The prompt is over {self.options.max_prompt} characters.", param="prompt"
            )
        if self._loop is None or self._upstream is None:
            return error_reply(503, "The relay is not attached to a server (use_server).")
        if len(self._sessions) >= self.options.max_streams:
            return error_reply(503, "Too many streams at once; try again shortly.")
        headers = {}
        fault = request.query.get("fault")
        if fault and self.options.allow_faults:
            headers["X-Reactsse-Fault"] = fault
        client = OpenAIClient(
            api_key=self.options.api_key,
            base_url=self._upstream,
            loop=self._loop,
            headers=headers,
        )
        key = secrets.token_hex(4)
        while key in self._sessions:
            key = secrets.token_hex(4)
        session = RelaySession(key, self._loop, self.options, self._forget)
        self._sessions[key] = session
        session.start(client, prompt)
        return session.attach(0, cut_after=cut_after)

    def _resume(self, last_id: str, cut_after: int | None) -> Reply:
        key, _, number = last_id.rpartition(":")
        session = self._sessions.get(key)
        if session is None or not number.isdigit():
            # Expired (or never ours): the browser must ask again; the page says so.
            message = f"the stream of {last_id!r} is no longer kept; ask again"
            return EventStream(iter([too_late(message)]))
        return session.attach(int(number), cut_after=cut_after)

    def _forget(self, session: RelaySession) -> None:
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]
