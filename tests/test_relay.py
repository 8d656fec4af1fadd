"""The relay (``reactsse.relay``) over real sockets: a raw HTTP/1.1 browser stand-in reads
``/chat`` from a server whose upstream is the built-in mock on the same server and loop."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator

import h11
import pytest

from reactsse.mock import MockApp, MockOptions
from reactsse.openai import OpenAIClient
from reactsse.relay import RelayApp, RelayOptions
from reactsse.server import BackgroundServer, ServerOptions
from reactsse.sse import EventStreamDecoder, MessageEvent

TIMEOUT = 10.0
PROMPT = "Tell me how Alice's adventure begins."


class Browser:
    """One GET on one connection, read as SSE (what an EventSource does, minus reconnecting)."""

    def __init__(self, port: int, target: str, headers: list[tuple[str, str]] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn = h11.Connection(h11.CLIENT)
        request = h11.Request(
            method="GET", target=target, headers=[("host", "127.0.0.1"), *(headers or [])]
        )
        self.sock.sendall(self.conn.send(request) + self.conn.send(h11.EndOfMessage()))
        self.response = self._next()
        assert isinstance(self.response, h11.Response)
        self.decoder = EventStreamDecoder()
        self.raw = b""
        self.cut = False  # the body ended without its terminating chunk

    def _next(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(self.sock.recv(65536))

    def events(self) -> Iterator[MessageEvent]:
        while True:
            try:
                event = self._next()
            except h11.RemoteProtocolError:
                self.cut = True
                return
            if isinstance(event, h11.EndOfMessage):
                return
            assert isinstance(event, h11.Data), event
            self.raw += bytes(event.data)
            yield from self.decoder.feed(bytes(event.data))

    def body(self) -> bytes:
        data = b""
        while not isinstance(event := self._next(), h11.EndOfMessage):
            assert isinstance(event, h11.Data)
            data += bytes(event.data)
        return data

    def close(self) -> None:
        self.sock.close()


def start(
    mock: MockOptions | None = None,
    relay: RelayOptions | None = None,
    server: ServerOptions | None = None,
) -> tuple[BackgroundServer, RelayApp]:
    app = RelayApp(
        relay or RelayOptions(api_key="", allow_faults=True),
        fallback=MockApp(mock or MockOptions()),
    )
    background = BackgroundServer(app, options=server or ServerOptions(keepalive_interval=None))
    background.start()
    background.call(app.use_server)
    return background, app


@pytest.fixture
def relay() -> Iterator[tuple[BackgroundServer, RelayApp]]:
    background, app = start()
    yield background, app
    background.stop()


def upstream_text(background: BackgroundServer, prompt: str = PROMPT) -> str:
    client = OpenAIClient(base_url=background.url + "/v1", api_key="")
    with client.iter_chat(prompt, model="m") as deltas:
        return "".join(delta.content or "" for delta in deltas)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def target(prompt: str = PROMPT, **params: str) -> str:
    from urllib.parse import urlencode

    return "/chat?" + urlencode({"prompt": prompt, **params})


def test_tokens_ids_retry_and_the_done_event(relay: tuple[BackgroundServer, RelayApp]) -> None:
    background, _ = relay
    browser = Browser(background.port, target())
    assert browser.response.status_code == 200
    events = list(browser.events())
    browser.close()
    *tokens, done = events
    key = tokens[0].last_event_id.split(":")[0]
    assert [e.last_event_id for e in events] == [f"{key}:{n}" for n in range(1, len(events) + 1)]
    assert {e.type for e in tokens} == {"token"}
    assert "".join(e.data for e in tokens) == upstream_text(background)
    assert browser.raw.count(b"retry: 1000\n") == 1 and browser.raw.index(b"retry:") < 100
    assert done.type == "done"
    info = json.loads(done.data)
    assert info["finish_reason"] == "stop" and info["tokens"] == len(tokens)
    assert info["usage"]["completion_tokens"] == len(tokens)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("error-after=3", {"type": "server_error", "message": "Injected fault: error mid-stream."}),
        ("status=429", {"type": "HTTPStatusError", "status": 429}),
    ],
)
def test_an_upstream_error_is_a_typed_error_event(
    relay: tuple[BackgroundServer, RelayApp], fault: str, expected: dict[str, object]
) -> None:
    background, app = relay
    browser = Browser(background.port, target(fault=fault))
    events = list(browser.events())
    browser.close()
    assert not browser.cut  # the response ended cleanly after the error event
    assert events[-1].type == "error"
    error = json.loads(events[-1].data)
    assert expected.items() <= error.items()
    assert all(e.type == "token" for e in events[:-1])
    assert app.live_count == 0


def test_the_upstream_key_never_reaches_the_browser() -> None:
    key = "sk-relay-secret-0123456789"
    background, _ = start(mock=MockOptions(api_key="another-key"), relay=RelayOptions(api_key=key))
    try:
        browser = Browser(background.port, target())
        events = list(browser.events())
        browser.close()
    finally:
        background.stop()
    assert events[-1].type == "error" and json.loads(events[-1].data)["status"] == 401
    assert key.encode() not in browser.raw and b"relay-secret" not in browser.raw


def test_fan_out_each_browser_gets_its_own_stream(relay: tuple[BackgroundServer, RelayApp]) -> None:
    background, app = relay
    browsers = [Browser(background.port, target()) for _ in range(6)]
    texts, keys = [], set()
    for browser in browsers:
        events = list(browser.events())
        browser.close()
        keys.add(events[0].last_event_id.split(":")[0])
        texts.append("".join(e.data for e in events if e.type == "token"))
    assert len(keys) == 6
    assert set(texts) == {upstream_text(background)}
    wait_for(lambda: background.call(lambda s: s.stream_count) == 0, "every stream to end")
    assert background.call(lambda _s: app.live_count) == 0


def test_a_browser_that_leaves_cancels_its_upstream_at_once() -> None:
    background, app = start(mock=MockOptions(rate=50.0, reply_tokens=100_000))
    try:
        browser = Browser(background.port, target())
        events = browser.events()
        for _ in range(3):
            next(events)
        # Two streams on the server: the browser's and the relay's upstream request.
        assert background.call(lambda s: s.stream_count) == 2
        browser.close()
        wait_for(lambda: background.call(lambda s: s.stream_count) == 0, "the upstream to end")
        assert background.call(lambda _s: app.live_count) == 0
    finally:
        background.stop()


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_slow_browser_is_dropped_and_its_upstream_cancelled() -> None:
    # A handler on the server's logger itself: other tests may change propagation or levels.
    warnings = _Warnings()
    logger = logging.getLogger("reactsse.server")
    logger.addHandler(warnings)
    options = ServerOptions(
        keepalive_interval=None, max_client_buffer=64 * 1024, send_buffer_size=4096
    )
    background, app = start(mock=MockOptions(reply_tokens=200_000), server=options)
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", background.port))
        sock.sendall(f"GET {target()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for(lambda: background.call(lambda _s: app.session_count) == 1, "the request")
        # Reads nothing: the upstream is as fast as the relay reads it, the browser is not.
        wait_for(lambda: background.call(lambda _s: app.live_count) == 0, "the drop")
        assert background.call(lambda s: s.buffered_size) < 1024 * 1024
        sock.close()
    finally:
        background.stop()
        logger.removeHandler(warnings)
    assert any("over the 65536 byte limit" in m for m in warnings.messages), (
        warnings.messages,
        logger.getEffectiveLevel(),
        logger.disabled,
    )


def test_resume_with_last_event_id_has_no_duplicate_and_no_gap(
    relay: tuple[BackgroundServer, RelayApp],
) -> None:
    background, app = relay
    first = Browser(background.port, target(cut_after="5"))
    got = list(first.events())
    first.close()
    assert first.cut and len(got) == 5  # the relay cut the connection mid-answer
    while got[-1].type != "done":
        again = Browser(
            background.port, target(cut_after="5"), [("last-event-id", got[-1].last_event_id)]
        )
        more = list(again.events())
        again.close()
        assert more, "a resume must carry on"
        got += more
    key = got[0].last_event_id.split(":")[0]
    assert [e.last_event_id for e in got] == [f"{key}:{n}" for n in range(1, len(got) + 1)]
    assert "".join(e.data for e in got if e.type == "token") == upstream_text(background)
    assert app.resumes >= 1
    # After the end, the last id has nothing left: 204 stops an EventSource.
    done = Browser(background.port, target(), [("last-event-id", got[-1].last_event_id)])
    assert done.response.status_code == 204
    done.close()


def test_a_reconnect_that_comes_too_late_gets_an_expired_event() -> None:
    background, app = start(relay=RelayOptions(api_key="", replay_events=4, replay_ttl=0.2))
    try:
        browser = Browser(background.port, target(cut_after="6"))
        got = list(browser.events())
        browser.close()
        assert len(got) == 6
        # Only the last 4 events are kept: after event 1 (2..6 needed) is too late.
        late = Browser(background.port, target(), [("last-event-id", got[0].last_event_id)])
        (expired,) = list(late.events())
        late.close()
        assert expired.type == "expired" and "no longer kept" in json.loads(expired.data)["message"]
        # After replay_ttl the whole stream is forgotten.
        wait_for(lambda: background.call(lambda _s: app.session_count) == 0, "the expiry")
        gone = Browser(background.port, target(), [("last-event-id", got[-1].last_event_id)])
        (expired,) = list(gone.events())
        gone.close()
        assert expired.type == "expired" and "no longer kept" in expired.data
        unknown = Browser(background.port, target(), [("last-event-id", "nonsense")])
        assert [e.type for e in unknown.events()] == ["expired"]
        unknown.close()
    finally:
        background.stop()


def test_bad_requests_and_the_page(relay: tuple[BackgroundServer, RelayApp]) -> None:
    background, _ = relay
    for path, status in [
        ("/chat", 400),
        ("/chat?prompt=%20", 400),
        ("/chat?prompt=x&cut_after=0", 400),
    ]:
        browser = Browser(background.port, path)
        assert browser.response.status_code == status, path
        assert json.loads(browser.body())["error"]["message"]
        browser.close()
    page = Browser(background.port, "/")
    headers = dict(page.response.headers)
    html = page.body().decode()
    page.close()
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert b"default-src 'none'" in headers[b"content-security-policy"]
    assert "new EventSource(" in html and "http" not in html.replace("http-equiv", "")
    events = Browser(background.port, "/events?count=1&interval=0")  # the mock is behind it
    assert [e.data for e in events.events()] == ["event 1"]
    events.close()


def test_the_relay_imports_neither_the_mock_nor_the_cli() -> None:
    import subprocess
    import sys

    code = (
        "import sys, reactsse.relay; "
        "bad = [m for m in sys.modules if m.startswith(('reactsse.mock', 'reactsse.cli'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=TIMEOUT)


def test_a_quiet_upstream_still_gets_keep_alive_comments_to_the_browser() -> None:
    options = ServerOptions(keepalive_interval=0.05)
    background, app = start(server=options)
    try:
        # The mock goes silent after 3 chunks (the role chunk and two tokens).
        browser = Browser(background.port, target(fault="stall-after=3"))
        events = browser.events()
        assert [next(events).type, next(events).type] == ["token", "token"]
        while browser.raw.count(b": keep-alive\n") < 2:
            event = browser._next()
            assert isinstance(event, h11.Data), event
            browser.raw += bytes(event.data)
        browser.close()
        wait_for(lambda: background.call(lambda _s: app.live_count) == 0, "the cancel")
    finally:
        background.stop()
