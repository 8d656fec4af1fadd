"""``reactsse.server`` over real sockets on 127.0.0.1: raw-socket and h11 clients, the official
``openai`` package, backpressure, disconnects, faults, HTTP/1.0, keep-alive, Last-Event-ID."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import openai
import pytest
from _loop_helpers import run_until_idle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactsse.loop import StreamSelectLoop, TimerInterface
from reactsse.mock import MockApp, MockOptions
from reactsse.server import (
    AccessRecord,
    BackgroundServer,
    BodyReply,
    EncodedEvents,
    Event,
    EventStream,
    Reply,
    Request,
    ServerOptions,
    SSEServer,
    serve,
)
from reactsse.server.stream import BATCH_BYTES
from reactsse.sse import EventStreamDecoder, MessageEvent, encode_event

TIMEOUT = 10.0

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


class Client:
    """A blocking HTTP/1.1 client on h11, for one or more requests on one connection."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> None:
        all_headers = [("host", "127.0.0.1"), *(headers or [])]
        if body is not None:
            all_headers.append(("content-length", str(len(body))))
        out = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            out += self.conn.send(h11.Data(data=body))
        out += self.conn.send(h11.EndOfMessage())
        self.sock.sendall(out)

    def next_event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                assert not isinstance(event, type), event
                return event  # type: ignore[return-value]
            self.conn.receive_data(self.sock.recv(65536))

    def response(self) -> h11.Response:
        event = self.next_event()
        assert isinstance(event, h11.Response), event
        return event

    def body_chunks(self) -> Iterator[bytes]:
        while True:
            event = self.next_event()
            if isinstance(event, h11.EndOfMessage):
                return
            assert isinstance(event, h11.Data), event
            yield bytes(event.data)

    def fetch(
        self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> tuple[h11.Response, bytes]:  # fmt: skip
        self.send(method, target, headers, body)
        response = self.response()
        data = b"".join(self.body_chunks())
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return response, data

    def events(self, decoder: EventStreamDecoder | None = None) -> Iterator[MessageEvent]:
        decoder = decoder or EventStreamDecoder()
        for chunk in self.body_chunks():
            yield from decoder.feed(chunk)


def header(response: h11.Response, name: str) -> str | None:
    for key, value in response.headers:
        if key == name.encode():
            return value.decode()
    return None


def fetch(port: int, method: str, target: str, **kwargs: Any) -> tuple[h11.Response, bytes]:
    with Client(port) as client:
        return client.fetch(method, target, **kwargs)


def chat(stream: bool = True, **extra: Any) -> bytes:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "stream": stream}
    return json.dumps({**body, **extra}).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as background:
        yield background


@pytest.fixture(scope="module")
def sdk(server: BackgroundServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0)
    yield client
    client.close()


# --- basics -------------------------------------------------------------------------------------


def test_binds_loopback_on_a_free_port(server: BackgroundServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.call(lambda s: s.host) == "127.0.0.1"


def test_a_burst_of_connects_is_held_for_accept() -> None:
    # A load test opens its connections at once. On loopback the kernel answers each SYN
    # before connect() returns, so a connection is complete at once or its SYN was dropped
    # (the accept queue was full) and it waits for a retransmission: the listener must hold
    # them all until the loop accepts. With a backlog of 128, 129 of 600 were complete.
    loop = StreamSelectLoop()
    with SSEServer(loop, app=lambda request: BodyReply(200, "ok")) as server:
        clients = [socket.socket() for _ in range(600)]
        try:
            for client in clients:
                client.setblocking(False)
                client.connect_ex(("127.0.0.1", server.port))
            complete = 0
            for client in clients:
                try:
                    client.getpeername()
                except OSError:
                    continue
                complete += 1
            # Linux caps a backlog at net.core.somaxconn (4096 by default since 5.4).
            cap = Path("/proc/sys/net/core/somaxconn")
            limit = int(cap.read_text()) if cap.exists() else len(clients)
            assert complete >= min(len(clients), limit)
        finally:
            for client in clients:
                client.close()


def test_stream_headers_and_chunked_body(server: BackgroundServer) -> None:
    with Client(server.port) as client:
        client.send("GET", "/events?count=2&interval=0")
        response = client.response()
        assert response.status_code == 200 and response.http_version == b"1.1"
        assert header(response, "content-type") == "text/event-stream; charset=utf-8"
        assert header(response, "cache-control") == "no-cache"
        assert header(response, "x-accel-buffering") == "no"
        assert header(response, "transfer-encoding") == "chunked"
        events = list(client.events())
    assert [(e.data, e.last_event_id) for e in events] == [("event 1", "1"), ("event 2", "2")]


def test_keep_alive_connection_serves_several_requests(server: BackgroundServer) -> None:
    with Client(server.port) as client:
        for _ in range(3):
            response, body = client.fetch("POST", "/v1/chat/completions", body=chat())
            assert response.status_code == 200
            assert body.rstrip().endswith(b"data: [DONE]")
            response, body = client.fetch("GET", "/v1/models")
            assert json.loads(body)["object"] == "list"


def test_pipelined_requests_are_answered_in_order(server: BackgroundServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        request = b"GET /events?count=1&interval=0 HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        sock.sendall(request * 2 + last)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.index(b"event 1") < data.rindex(b"event 1") < data.index(b'"object":"list"')


def test_http_10_client_gets_a_close_delimited_stream(server: BackgroundServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /events?count=3&interval=0 HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):  # the server closes: that ends the body
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert b"text/event-stream" in head
    events = EventStreamDecoder().feed(body)
    assert [e.data for e in events] == ["event 1", "event 2", "event 3"]
    assert (
        body
        == b"id: 1\nretry: 1000\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n"
    )


def test_error_statuses(server: BackgroundServer) -> None:
    response, body = fetch(server.port, "GET", "/v1/nowhere")
    assert response.status_code == 404
    assert header(response, "access-control-allow-origin") == "*"
    assert json.loads(body)["error"]["message"] == "Invalid URL (GET /v1/nowhere)"
    response, body = fetch(server.port, "GET", "/v1/chat/completions")
    assert response.status_code == 405 and header(response, "allow") == "POST"
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    response, body = fetch(server.port, "POST", "/v1/chat/completions", body=b"{not json")
    assert response.status_code == 400 and "parse the JSON" in json.loads(body)["error"]["message"]
    response, _ = fetch(server.port, "GET", "/events?count=2", headers=[("last-event-id", "2")])
    assert response.status_code == 204


def test_body_too_large_is_413_and_closes() -> None:
    options = ServerOptions(max_request_body=1000)
    with BackgroundServer(options=options) as background, Client(background.port) as client:
        client.send("POST", "/v1/chat/completions", body=b"x" * 5000)
        response = client.response()
        assert response.status_code == 413
        assert header(response, "connection") == "close"


def test_malformed_request_is_400() -> None:
    with BackgroundServer() as background:
        with socket.create_connection(("127.0.0.1", background.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"NOT A REQUEST\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400")
        assert (
            json.loads(data.partition(b"\r\n\r\n")[2])["error"]["type"] == "invalid_request_error"
        )


def test_api_key_401() -> None:
    with BackgroundServer(MockApp(MockOptions(api_key="sk-test-right"))) as background:
        response, body = fetch(background.port, "POST", "/v1/chat/completions", body=chat())
        assert response.status_code == 401
        assert json.loads(body)["error"]["type"] == "invalid_request_error"
        wrong = openai.OpenAI(base_url=background.url + "/v1", api_key="sk-wrong", max_retries=0)
        right = openai.OpenAI(base_url=background.url + "/v1", api_key="sk-test-right")
        with wrong, right:
            with pytest.raises(openai.AuthenticationError) as raised:
                wrong.models.list()
            assert raised.value.status_code == 401
            assert raised.value.code == "invalid_api_key"
            assert [m.id for m in right.models.list()] == ["reactsse-alice-1"]


# --- any app: the public protocol ----------------------------------------------------------------


def ticks(request: Request) -> Reply:
    """The example app of docs/server.md (with a shorter interval)."""
    if request.path == "/ticks":
        count = int(request.query.get("count", "3"))
        return EventStream(
            (Event(f"tick {n}", id=str(n), at=n * 0.02) for n in range(count)),
            timed=True,
            headers=(("x-app", "ticks"),),
        )
    if request.path == "/echo":
        return BodyReply(201, request.body, (("content-type", "application/x-echo"),))
    return BodyReply(404, f"no {request.path} here")


def test_serves_a_user_written_app() -> None:
    options = ServerOptions(keepalive_interval=None)
    with BackgroundServer(ticks, options=options) as background, Client(background.port) as client:
        client.send("GET", "/ticks?count=4")
        response = client.response()
        assert response.status_code == 200
        assert header(response, "content-type") == "text/event-stream; charset=utf-8"
        assert header(response, "x-app") == "ticks"
        events = [(e.data, e.last_event_id) for e in client.events()]
        # Paced (0.02 s apart): test_pacing_runs_on_the_loop_clock checks the times exactly.
        assert events == [(f"tick {n}", str(n)) for n in range(4)]
        client.conn.start_next_cycle()  # the same keep-alive connection goes on
        response, body = client.fetch("POST", "/echo", body=b"\x00\xffbytes")
        assert response.status_code == 201 and body == b"\x00\xffbytes"
        assert header(response, "content-type") == "application/x-echo"
        response, body = client.fetch("GET", "/nothing")
        assert response.status_code == 404 and body == b"no /nothing here"
        assert header(response, "content-type") == "text/plain; charset=utf-8"


def test_pacing_runs_on_the_loop_clock() -> None:
    """Server and EventSource on one VirtualTimeLoop: events due 30 s apart arrive exactly
    30 virtual seconds apart, without the test waiting for them."""
    from reactsse.eventsource import EventSource
    from reactsse.loop import VirtualTimeLoop

    def app(request: Request) -> Reply:
        events = (Event(f"tick {n}", id=str(n), at=30.0 * n) for n in range(4))
        return EventStream(events, timed=True)

    loop = VirtualTimeLoop()
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    source = EventSource(server.url + "/ticks", loop=loop, retry=3600.0)
    arrivals: list[tuple[str, float]] = []

    def on_message(event: MessageEvent) -> None:
        arrivals.append((event.data, loop.now()))
        if len(arrivals) == 4:
            source.close()
            server.close()  # nothing left: run() returns

    source.on("message", on_message)
    run_until_idle(loop, source.close, server.close)
    assert [data for data, _ in arrivals] == [f"tick {n}" for n in range(4)]
    first = arrivals[0][1]
    gaps = [when - first for _, when in arrivals]
    assert gaps == pytest.approx([0.0, 30.0, 60.0, 90.0], abs=1e-6)


def test_an_app_can_cut_or_stall_its_stream() -> None:
    def app(request: Request) -> Reply:
        events = (Event(f"n{n}") for n in range(100))
        if request.path == "/cut":
            return EventStream(events, disconnect_after=3)
        return EventStream(events, stall_after=2)

    options = ServerOptions(keepalive_interval=0.05)
    with BackgroundServer(app, options=options) as background:
        with Client(background.port) as client:
            client.send("GET", "/cut")
            assert client.response().status_code == 200
            received: list[str] = []
            with pytest.raises(h11.RemoteProtocolError):  # no terminating chunk
                for event in client.events():
                    received.append(event.data)
            assert received == ["n0", "n1", "n2"]
        with Client(background.port) as client:
            client.send("GET", "/stall")
            assert client.response().status_code == 200
            chunks = client.body_chunks()
            seen = b""
            while seen.count(b": keep-alive\n") < 2:
                seen += next(chunks)
            assert seen.count(b"data: ") == 2


def test_encoded_runs_are_written_as_they_are_and_counted_as_their_events() -> None:
    """A run of events already encoded goes out byte for byte and counts as its events: in the
    access log, and for ``disconnect_after``, which acts after the run that reaches it."""
    run = encode_event("b", event="tick", id="2") + encode_event("c\nd")

    def app(request: Request) -> Reply:
        events = [Event("a"), EncodedEvents(run, 2), Event("e")]
        if request.path == "/cut":
            return EventStream(events, disconnect_after=2)
        return EventStream(events)

    records: list[AccessRecord] = []
    options = ServerOptions(keepalive_interval=None, access_log=records.append)
    with (
        BackgroundServer(app, options=options) as background,
        Client(background.port) as client,
    ):
        client.send("GET", "/whole")
        assert client.response().status_code == 200
        body = b"".join(client.body_chunks())
        assert body == encode_event("a") + run + encode_event("e")
        client.conn.start_next_cycle()
        client.send("GET", "/cut")
        assert client.response().status_code == 200
        received: list[tuple[str, str]] = []
        with pytest.raises(h11.RemoteProtocolError):  # cut: no terminating chunk
            for event in client.events():
                received.append((event.type, event.data))
        assert received == [("message", "a"), ("tick", "b"), ("message", "c\nd")]
    # The server has stopped (its loop thread joined): every access record is written.
    assert [(r.target, r.events) for r in records] == [("/whole", 4), ("/cut", 3)]


# --- the openai package as the client -------------------------------------------------------------


def test_openai_chat_stream_reassembles_the_non_stream_text(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Tell me a story"}]
    whole = sdk.chat.completions.create(model="gpt-test", messages=messages)
    expected = whole.choices[0].message.content
    assert expected and whole.choices[0].finish_reason == "stop"
    pieces: list[str] = []
    usage = None
    finish = None
    stream = sdk.chat.completions.create(
        model="gpt-test", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == "gpt-test"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
            continue
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    assert "".join(pieces) == expected
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_openai_chat_tool_call_accumulates(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Paris"}]
    name = ""
    arguments = ""
    call_id = None
    fragments = 0
    finish = None
    for chunk in sdk.chat.completions.create(
        model="m", messages=messages, tools=[WEATHER_TOOL], stream=True
    ):
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            assert call.index == 0
            call_id = call.id or call_id
            if call.function is not None:
                name += call.function.name or ""
                if call.function.arguments:
                    arguments += call.function.arguments
                    fragments += 1
    assert finish == "tool_calls"
    assert call_id is not None and call_id.startswith("call_")
    assert name == "get_weather"
    assert fragments > 3
    assert json.loads(arguments) == {"city": "Paris", "days": 42}
    whole = sdk.chat.completions.create(model="m", messages=messages, tools=[WEATHER_TOOL])
    (call,) = whole.choices[0].message.tool_calls or []
    assert call.function.arguments == arguments  # type: ignore[union-attr]


def test_openai_responses_stream(sdk: openai.OpenAI) -> None:
    deltas: list[str] = []
    types: list[str] = []
    numbers: list[int] = []
    final = None
    with sdk.responses.create(model="m", input="Tell me a story", stream=True) as stream:
        for event in stream:
            types.append(event.type)
            numbers.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                final = event.response
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert numbers == list(range(len(types)))
    assert final is not None and final.output_text == "".join(deltas)
    whole = sdk.responses.create(model="m", input="Tell me a story")
    assert whole.output_text == final.output_text
    assert whole.usage is not None and whole.usage.output_tokens == len(deltas)


def test_openai_sees_injected_chat_error(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    received = 0
    with pytest.raises(openai.APIError) as raised:
        for _ in sdk.chat.completions.create(
            model="m",
            messages=messages,
            stream=True,
            extra_headers={"X-Reactsse-Fault": "error-after=3"},
        ):
            received += 1
    assert received == 3
    assert "Injected fault" in raised.value.message


def test_openai_sees_injected_responses_error(sdk: openai.OpenAI) -> None:
    events = list(
        sdk.responses.create(
            model="m", input="hi", stream=True, extra_headers={"X-Reactsse-Fault": "error-after=5"}
        )
    )
    assert len(events) == 6
    assert events[-1].type == "error"
    assert events[-1].sequence_number == 5
    assert "Injected fault" in events[-1].message  # type: ignore[union-attr]


def test_openai_status_fault(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Reactsse-Fault": "status=429"},
        )


def test_disconnect_fault_cuts_the_connection(server: BackgroundServer) -> None:
    with Client(server.port) as client:
        client.send(
            "POST", "/v1/chat/completions", [("x-reactsse-fault", "disconnect-after=4")], chat()
        )
        assert client.response().status_code == 200
        received: list[MessageEvent] = []
        with pytest.raises(h11.RemoteProtocolError):  # no terminating chunk: the body is cut
            for event in client.events():
                received.append(event)
    assert len(received) == 4
    assert all(e.data != "[DONE]" for e in received)


def test_server_wide_fault_option() -> None:
    with BackgroundServer(MockApp(MockOptions(fault="error-after=2"))) as background:
        with Client(background.port) as client:
            client.send("POST", "/v1/chat/completions", body=chat())
            assert client.response().status_code == 200
            events = list(client.events())
        assert len(events) == 3
        assert json.loads(events[-1].data)["error"]["type"] == "server_error"


# --- pacing, keep-alive, Last-Event-ID ---------------------------------------------------------


def test_rate_limits_tokens() -> None:
    """The mock's --rate, on the loop's clock: 50 tokens at 1000/s arrive 1 ms apart in virtual
    time, server and client on one VirtualTimeLoop (no wall-clock window)."""
    from reactsse.eventsource import EventSource
    from reactsse.loop import VirtualTimeLoop

    loop = VirtualTimeLoop()
    app = MockApp(MockOptions(rate=1000.0, reply_tokens=50))
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    body = json.loads(chat())
    source = EventSource(
        server.url + "/v1/chat/completions", loop=loop, method="POST", json=body, reconnect=False
    )
    arrivals: list[tuple[str, float]] = []

    def on_message(event: MessageEvent) -> None:
        arrivals.append((event.data, loop.now()))
        if event.data == "[DONE]":
            source.close()
            server.close()  # nothing left: run() returns

    source.on("message", on_message)
    run_until_idle(loop, source.close, server.close)
    assert len(arrivals) == 1 + 50 + 2  # role chunk, 50 tokens, finish chunk, [DONE]
    start = arrivals[0][1]
    tokens = [when - start for _, when in arrivals[1:51]]
    assert tokens == pytest.approx([n / 1000 for n in range(1, 51)], abs=1e-9)
    assert arrivals[-1][1] - start == pytest.approx(0.05, abs=1e-9)


def test_keepalive_comment_after_the_interval() -> None:
    app = MockApp(MockOptions(events_interval=30.0))
    options = ServerOptions(keepalive_interval=0.05)
    with BackgroundServer(app, options=options) as background, Client(background.port) as client:
        client.send("GET", "/events")
        assert client.response().status_code == 200
        chunks = client.body_chunks()
        seen = b""
        started = time.monotonic()
        while seen.count(b": keep-alive\n") < 2:
            seen += next(chunks)
        elapsed = time.monotonic() - started
    assert seen.startswith(b"id: 1\nretry: 1000\ndata: event 1\n\n")
    assert seen.endswith(b": keep-alive\n\n")
    assert elapsed < 5.0


def test_events_resume_from_last_event_id_across_drops() -> None:
    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as background:
        last_id = ""
        seen: list[str] = []
        connections = 0
        while True:
            with Client(background.port) as client:
                headers = [("last-event-id", last_id)] if last_id else []
                client.send("GET", "/events?count=10&interval=0&drop_every=3", headers)
                response = client.response()
                if response.status_code == 204:
                    break  # WHATWG: 204 means "stop reconnecting"
                connections += 1
                decoder = EventStreamDecoder(last_event_id=last_id)
                try:
                    for event in client.events(decoder):
                        seen.append(event.data)
                except h11.RemoteProtocolError:
                    pass  # dropped on purpose, mid-body
                last_id = decoder.last_event_id
            assert connections < 10
        assert seen == [f"event {n}" for n in range(1, 11)]
        assert connections == 4  # 3 + 3 + 3 + 1


# --- backpressure and disconnects -----------------------------------------------------------------


class _DropWatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.dropped = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "dropping client" in message:
            self.messages.append(message)
            self.dropped.set()


def test_client_that_never_reads_is_dropped_at_the_limit() -> None:
    limit = 256 * 1024
    app = MockApp(MockOptions(rate=10**6, reply_tokens=10**7))
    options = ServerOptions(
        max_client_buffer=limit, send_buffer_size=16384, keepalive_interval=None
    )
    watcher = _DropWatcher()
    log = logging.getLogger("reactsse.server")
    log.addHandler(watcher)
    try:
        with (
            BackgroundServer(app, options=options) as background,
            Client(background.port, rcvbuf=4096) as client,
        ):
            client.send("POST", "/v1/chat/completions", body=chat())
            assert watcher.dropped.wait(TIMEOUT), "the slow client was never dropped"
            # Memory stayed bounded: what was buffered when the limit tripped is the limit
            # plus at most one batch (BATCH_BYTES and one event).
            waiting = int(re.search(r"(\d+) bytes waiting", watcher.messages[0])[1])  # type: ignore[index]
            assert limit < waiting <= limit + BATCH_BYTES + 1024
            assert background.call(lambda s: (s.connection_count, s.timer_count)) == (0, 0)
            # The client sees its connection end (after the bytes the kernel had).
            client.sock.settimeout(TIMEOUT)
            while client.sock.recv(1 << 20):
                pass
    finally:
        log.removeHandler(watcher)


def test_fast_stream_waits_for_a_slow_reader_instead_of_buffering() -> None:
    app = MockApp(MockOptions(reply_tokens=20_000))
    options = ServerOptions(send_buffer_size=16384, keepalive_interval=None)
    with (
        BackgroundServer(app, options=options) as background,
        Client(background.port, rcvbuf=4096) as client,
    ):
        client.send("POST", "/v1/chat/completions", body=chat())
        assert client.response().status_code == 200
        chunks = client.body_chunks()
        for _ in range(5):
            next(chunks)

        # The stream is paused at the high-water mark: buffered bytes stay bounded (the mark,
        # then at most one batch and one run of the mock's encoded events, 64 of ~200 B).
        connections, buffered = background.call(lambda s: (s.connection_count, s.buffered_size))
        assert connections == 1
        assert buffered <= options.high_water + BATCH_BYTES + 16 * 1024
        assert background.call(lambda s: s.stream_count) == 1
        total = sum(len(c) for c in chunks)  # and it completes when read
    assert total > 1_000_000


def test_client_disconnect_stops_the_stream_and_its_timers() -> None:
    """The loop runs in this thread; when the client hangs up, the server cancels its timers
    and closes the generator, so once the listener closes, ``run()`` has nothing left to do."""
    loop = StreamSelectLoop()
    mock = MockApp(MockOptions(rate=200.0, reply_tokens=100_000))
    observed: dict[str, Any] = {}

    def app(request: Request) -> Reply:
        reply = mock(request)
        if isinstance(reply, EventStream):
            observed["generator"] = reply.events  # the generator the server pumps
        return reply

    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=0.05))
    client_done = threading.Event()

    def client() -> None:
        try:
            with Client(server.port) as c:
                c.send("POST", "/v1/chat/completions", body=chat())
                observed["status"] = c.response().status_code
                events = c.events()
                for _ in range(3):
                    next(events)
        finally:
            client_done.set()

    def check(timer: TimerInterface) -> None:
        if server.stream_count and "timers_while_streaming" not in observed:
            observed["timers_while_streaming"] = server.timer_count
        if client_done.is_set() and server.connection_count == 0:
            loop.cancel_timer(timer)
            observed["streams_after"] = server.stream_count
            observed["timers_after"] = server.timer_count
            server.close()  # only the listener is left to close

    loop.add_periodic_timer(0.005, check)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    # run() returns only when no timer, stream or listener is left.
    run_until_idle(loop, lambda: thread.join(TIMEOUT), server.close)
    assert observed["status"] == 200
    assert observed["timers_while_streaming"] == 2  # next token + keep-alive
    assert observed["streams_after"] == 0 and observed["timers_after"] == 0
    assert observed["generator"].gi_frame is None  # the generator was closed


def test_close_stops_every_stream() -> None:
    background = BackgroundServer(MockApp(MockOptions(rate=100.0, reply_tokens=10_000)))
    with background:
        clients = [Client(background.port) for _ in range(5)]
        try:
            for client in clients:
                client.send("POST", "/v1/chat/completions", body=chat())
                assert client.response().status_code == 200
                next(client.body_chunks())
            assert background.call(lambda s: s.stream_count) == 5
            background.call(lambda s: s.close())
            assert background.call(lambda s: (s.connection_count, s.timer_count)) == (0, 0)
            for client in clients:  # each sees its connection end
                with pytest.raises(h11.RemoteProtocolError):
                    for _ in client.body_chunks():
                        pass
        finally:
            for client in clients:
                client.close()


def test_many_clients_at_once() -> None:
    with BackgroundServer(options=ServerOptions(accept_batch=4)) as background:
        clients = [Client(background.port) for _ in range(20)]
        try:
            for client in clients:
                client.send("GET", "/events?count=2&interval=0")
            for client in clients:
                assert client.response().status_code == 200
                assert [e.data for e in client.events()] == ["event 1", "event 2"]
        finally:
            for client in clients:
                client.close()


def test_ipv6_loopback_url() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    loop = StreamSelectLoop()
    try:
        server = SSEServer(loop, host="::1")
    except OSError:
        loop.close()
        pytest.skip("::1 not available")
    try:
        assert server.url == f"http://[::1]:{server.port}"
    finally:
        server.close()
        loop.close()


class _URLCatcher(io.StringIO):
    """A ``file`` for ``serve()`` that tells the test the URL it printed."""

    def __init__(self) -> None:
        super().__init__()
        self.url = ""
        self.printed = threading.Event()

    def write(self, text: str) -> int:
        match = re.search(r"listening on (http://\S+)", text)
        if match:
            self.url = match[1]
            self.printed.set()
        return super().write(text)


def test_serve_prints_the_url_and_runs_until_the_loop_stops() -> None:
    loop = StreamSelectLoop()
    out = _URLCatcher()
    result: dict[str, Any] = {}
    client_done = threading.Event()

    def client() -> None:
        try:
            assert out.printed.wait(TIMEOUT)
            port = int(out.url.rsplit(":", 1)[1])
            bearer = [("authorization", "Bearer sk-serve")]
            result["models"] = json.loads(fetch(port, "GET", "/v1/models", headers=bearer)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n")
                result["401"] = sock.recv(65536)
        finally:
            client_done.set()

    def stop_when_done(timer: TimerInterface) -> None:
        if client_done.is_set():
            loop.cancel_timer(timer)
            loop.stop()

    loop.add_periodic_timer(0.005, stop_when_done)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        serve(MockApp(MockOptions(api_key="sk-serve", rate=None)), port=0, loop=loop, file=out)
    finally:
        thread.join(TIMEOUT)
        loop.close()
    assert out.url.startswith("http://127.0.0.1:")
    assert result["models"]["data"][0]["id"] == "reactsse-alice-1"
    assert result["401"].startswith(b"HTTP/1.1 401")
    with pytest.raises(OSError):  # serve() closed its listening socket on the way out
        socket.create_connection(("127.0.0.1", int(out.url.rsplit(":", 1)[1])), timeout=1).close()


def test_idle_and_slow_header_connections_are_closed() -> None:
    with BackgroundServer(options=ServerOptions(idle_timeout=0.1)) as background:
        started = time.monotonic()
        with (
            socket.create_connection(("127.0.0.1", background.port), timeout=TIMEOUT) as silent,
            socket.create_connection(("127.0.0.1", background.port), timeout=TIMEOUT) as slow,
            Client(background.port) as kept_alive,
        ):
            slow.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
            response, _ = kept_alive.fetch("GET", "/v1/models")
            assert response.status_code == 200
            assert silent.recv(100) == b""
            assert slow.recv(100) == b""
            assert kept_alive.sock.recv(100) == b""  # idle after its response: closed too
        assert time.monotonic() - started < 5.0
        assert background.call(lambda s: (s.connection_count, s.timer_count)) == (0, 0)


def test_send_timeout_drops_a_reader_that_never_reads() -> None:
    app = MockApp(MockOptions(reply_tokens=10**6))
    options = ServerOptions(send_buffer_size=16384, send_timeout=0.2, keepalive_interval=None)
    watcher = _DropWatcher()
    log = logging.getLogger("reactsse.server")
    log.addHandler(watcher)
    try:
        with (
            BackgroundServer(app, options=options) as background,
            Client(background.port, rcvbuf=4096) as client,
        ):
            client.send("POST", "/v1/chat/completions", body=chat())
            assert watcher.dropped.wait(TIMEOUT), "the stalled client was never dropped"
            assert "send timeout" in watcher.messages[0]
            waiting = int(re.search(r"(\d+) bytes waiting", watcher.messages[0])[1])  # type: ignore[index]
            assert waiting <= options.high_water + BATCH_BYTES + 16 * 1024
            assert background.call(lambda s: (s.connection_count, s.timer_count)) == (0, 0)
    finally:
        log.removeHandler(watcher)


def test_a_failing_app_costs_one_response_not_the_server() -> None:
    mock = MockApp()
    bugs = {"stream": True, "router": False}

    def events_then_bug() -> Iterator[Event]:
        yield Event("one")
        yield Event("two")
        raise RuntimeError("bug in the app")

    def app(request: Request) -> Reply:
        if bugs["router"]:
            raise RuntimeError("bug in the router")
        reply = mock(request)
        if bugs["stream"] and isinstance(reply, EventStream):
            return EventStream(events_then_bug())
        return reply

    with BackgroundServer(app) as background:
        with Client(background.port) as client:
            client.send("POST", "/v1/chat/completions", body=chat())
            assert client.response().status_code == 200
            received: list[MessageEvent] = []
            with pytest.raises(h11.RemoteProtocolError):
                for event in client.events():
                    received.append(event)
        assert len(received) == 2
        response, _ = fetch(background.port, "POST", "/v1/chat/completions", body=chat(False))
        assert response.status_code == 200  # the server lives on

        bugs["router"] = True
        response, body = fetch(background.port, "GET", "/v1/models")
        assert response.status_code == 500
        assert json.loads(body)["error"]["type"] == "server_error"


def test_eventsource_and_server_on_one_loop_resume_across_drops() -> None:
    """The project's own EventSource against /events, both on one loop in this thread: three
    drops, three reconnects with Last-Event-ID, then a 204 ends it and ``run()`` returns."""
    from reactsse.eventsource import EventSource

    loop = StreamSelectLoop()
    server = SSEServer(loop, options=ServerOptions(keepalive_interval=None))
    seen: list[tuple[str, str]] = []
    opens: list[int] = []
    errors: list[str] = []
    source = EventSource(
        server.url + "/events?count=10&interval=0&drop_every=3&retry=1",
        loop=loop,
        retry=0.001,
        max_reconnect_delay=0.05,
    )
    source.on("message", lambda event: seen.append((event.last_event_id, event.data)))
    source.on("open", lambda: opens.append(len(seen)))
    source.on("error", lambda error: errors.append(type(error).__name__))
    source.on("close", server.close)  # the 204: nothing is left, so run() returns
    run_until_idle(loop, source.close, server.close)
    assert seen == [(str(n), f"event {n}") for n in range(1, 11)]
    assert opens == [0, 3, 6, 9]
    # Three drops, then a clean end after event 10: each is reported, then the source
    # reconnects; the fifth request gets the 204.
    assert errors == ["ConnectionClosed"] * 4


def test_stall_fault_goes_silent_but_keeps_the_connection_alive() -> None:
    options = ServerOptions(keepalive_interval=0.05)
    with BackgroundServer(options=options) as background:
        with Client(background.port) as client:
            client.send(
                "POST", "/v1/chat/completions", [("x-reactsse-fault", "stall-after=2")], chat()
            )
            assert client.response().status_code == 200
            chunks = client.body_chunks()
            seen = b""
            while seen.count(b": keep-alive\n") < 3:  # silence, then keep-alives only
                seen += next(chunks)
            assert seen.count(b"data: ") == 2
            assert background.call(lambda s: (s.stream_count, s.timer_count)) == (1, 1)
        background.call(lambda s: s.close())


_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"])
_PATHS = st.sampled_from(
    ["/", "/events", "/v1/models", "/v1/models/x", "/v1/chat/completions", "/v1/responses", "/x"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=_METHODS,
    path=_PATHS,
    query=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&_.-%", max_size=30),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["model", "messages", "input", "stream", "max_tokens", "tools"]),
            st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5),
                      st.lists(st.dictionaries(st.sampled_from(["role", "content"]),
                                               st.text(max_size=5)), max_size=2)),
        ).map(lambda d: json.dumps(d).encode()),
    ),
)  # fmt: skip
def test_any_request_gets_an_answer_and_the_server_lives(
    server: BackgroundServer, method: str, path: str, query: str, body: bytes
) -> None:
    target = f"{path}?{query}" if query else path
    if path == "/events":
        target += ("&" if query else "?") + "count=1&interval=0"
    with Client(server.port) as client:
        response, data = client.fetch(method, target, body=body)
    assert response.status_code in {200, 204, 400, 404, 405}
    if method == "HEAD":
        assert data == b""  # RFC 9110 §9.3.2: the GET answer's head, no content
    elif response.status_code >= 400:
        assert set(json.loads(data)["error"]) == {"message", "type", "param", "code"}
    assert server.error is None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=300))
def test_garbage_gets_a_4xx_or_a_close(server: BackgroundServer, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(garbage + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            data = b""
    assert data == b"" or data.startswith((b"HTTP/1.1 4", b"HTTP/1.1 2", b"HTTP/1.0 "))
    assert server.error is None
    assert fetch(server.port, "GET", "/v1/models")[0].status_code == 200


def test_head_is_get_without_content(server: BackgroundServer) -> None:
    with Client(server.port) as client:
        response, body = client.fetch("HEAD", "/events?count=1")
        assert response.status_code == 200 and body == b""
        assert header(response, "content-type") == "text/event-stream; charset=utf-8"
        response, body = client.fetch("HEAD", "/v1/models")
        assert response.status_code == 200 and body == b""
        assert int(header(response, "content-length") or 0) > 0
        response, body = client.fetch("GET", "/v1/models")  # the connection is still good
        assert json.loads(body)["object"] == "list"


def test_a_server_bug_closes_one_connection_not_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from reactsse.server.stream import StreamRun

    def broken_begin(self: object) -> None:
        raise RuntimeError("bug in the server")

    with BackgroundServer() as background:
        monkeypatch.setattr(StreamRun, "begin", broken_begin)
        with Client(background.port) as client:
            client.send("GET", "/events?count=1")
            with pytest.raises((h11.RemoteProtocolError, ConnectionError)):
                client.response()
        monkeypatch.undo()
        assert fetch(background.port, "GET", "/v1/models")[0].status_code == 200
        assert background.error is None


@pytest.mark.parametrize(
    ("fault", "events", "complete"),
    [("error-after=0", 1, True), ("disconnect-after=0", 0, False), ("error-after=1", 2, True)],
)
def test_faults_after_zero_events(
    server: BackgroundServer, fault: str, events: int, complete: bool
) -> None:
    with Client(server.port) as client:
        client.send(
            "POST",
            "/v1/responses",
            [("x-reactsse-fault", fault)],
            b'{"model":"m","input":"x","stream":true}',
        )
        assert client.response().status_code == 200
        received: list[MessageEvent] = []
        try:
            for event in client.events():
                received.append(event)
        except h11.RemoteProtocolError:
            assert not complete
        else:
            assert complete
    assert len(received) == events
    if complete:
        assert received[-1].type == "error"
        assert json.loads(received[-1].data)["sequence_number"] == events - 1


def test_the_server_imports_the_mock_only_lazily_in_default_app() -> None:
    """Imports point down: reactsse.mock is an app above the server. The only way up is the
    function-level import in default_app(), run when no app is given."""
    import ast
    from pathlib import Path

    import reactsse.server

    package = Path(reactsse.server.__file__).parent
    upward: list[tuple[str, int, str | None]] = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lazy = {
            id(node)
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.name == "default_app"
            for node in ast.walk(function)
        }
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in lazy:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                module = node.module if isinstance(node, ast.ImportFrom) else None
                for name in [*names, module or ""]:
                    if name.startswith("reactsse.mock"):
                        upward.append((path.name, node.lineno, name))
    assert upward == []
