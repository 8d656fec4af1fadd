"""``reactsse.openai.OpenAIClient`` against real servers on 127.0.0.1.

The built-in OpenAI-compatible server (``reactsse.server``) for the protocol paths (text, tool
calls, injected errors, 401), and scripted raw-socket servers (``tests/_sse_test_servers.py``) for
what it never does (no ``[DONE]``, a connection kept open after it, a key echoed back).
"""

from __future__ import annotations

import io
import json
import socket
import traceback
from collections.abc import Callable, Iterator

import anyio
import pytest
from _sse_test_servers import Exchange, ScriptedServer, sse_head

from reactsse.aio import AsyncOpenAIClient
from reactsse.errors import (
    APIError,
    ConnectError,
    ConnectionClosed,
    ContentTypeError,
    HTTPStatusError,
    IncompleteStreamWarning,
    InvalidURL,
    ReadTimeout,
)
from reactsse.eventsource import EventSourceOptions, TextTrace
from reactsse.loop import StreamSelectLoop
from reactsse.mock import MockApp, MockOptions
from reactsse.openai import (
    ChatCompletion,
    ChatDelta,
    OpenAIClient,
    ResponseCompleted,
    ResponseResult,
    ResponseStreamEvent,
    ResponseTextDelta,
)
from reactsse.server import BackgroundServer, ServerOptions, SSEServer

KEY = "sk-test-0123456789abcdef-SECRET"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(
        MockApp(MockOptions(api_key=KEY)), options=ServerOptions(keepalive_interval=None)
    ) as bg:
        yield bg


@pytest.fixture
def client(server: BackgroundServer) -> OpenAIClient:
    return OpenAIClient(base_url=server.url + "/v1", api_key=KEY, read_timeout=20.0)


def faulty(server: BackgroundServer, fault: str) -> OpenAIClient:
    return OpenAIClient(
        base_url=server.url + "/v1",
        api_key=KEY,
        headers={"X-Reactsse-Fault": fault},
        read_timeout=20.0,
    )


# --------------------------------------------------------------------------- chat, blocking


def test_iter_chat_text_usage_and_done(client: OpenAIClient) -> None:
    with client.iter_chat("Tell me about Alice", model="any-model") as stream:
        deltas = list(stream)
    result = stream.result
    assert isinstance(result, ChatCompletion)
    text = "".join(d.content or "" for d in deltas)
    assert text == result.content
    assert len(text) > 20
    assert result.done
    assert result.finish_reason == "stop"
    assert result.model == "any-model"
    assert result.usage is not None
    # One content delta per token; the usage counts them.
    assert result.usage.output_tokens == sum(1 for d in deltas if d.content)
    assert deltas[0].role == "assistant"
    assert deltas[-1].usage == result.usage


def test_iter_chat_tool_call_is_assembled(client: OpenAIClient) -> None:
    with client.iter_chat(
        [{"role": "user", "content": "Weather in Paris?"}], model="m", tools=[WEATHER_TOOL]
    ) as stream:
        deltas = list(stream)
    fragments = [f for d in deltas for f in d.tool_calls]
    assert len(fragments) >= 3  # id/name first, then the arguments in pieces
    assert fragments[0].id is not None and fragments[0].name == "get_weather"
    result = stream.result
    assert result is not None
    assert result.finish_reason == "tool_calls"
    (call,) = result.tool_calls
    assert call.name == "get_weather"
    assert call.id == fragments[0].id
    assert call.arguments == "".join(f.arguments for f in fragments)
    assert isinstance(call.parsed_arguments(), dict)


def test_chat_error_mid_stream_raises_api_error_after_the_deltas(server: BackgroundServer) -> None:
    received: list[ChatDelta] = []
    with (
        pytest.raises(APIError) as info,
        faulty(server, "error-after=3").iter_chat("hi", model="m") as stream,
    ):
        for delta in stream:
            received.append(delta)
    assert 1 <= len(received) <= 3
    assert "Injected" in info.value.message or info.value.message
    assert info.value.type is not None
    assert stream.result is None


def test_chat_disconnect_mid_stream_raises_connection_closed(server: BackgroundServer) -> None:
    with (
        pytest.raises(ConnectionClosed),
        faulty(server, "disconnect-after=2").iter_chat("hi", model="m") as stream,
    ):
        for _ in stream:
            pass


def test_chat_401_carries_the_server_message_and_never_the_key(server: BackgroundServer) -> None:
    wrong = "sk-wrong-key-987654321"
    trace = io.StringIO()
    client = OpenAIClient(base_url=server.url + "/v1", api_key=wrong, trace=TextTrace(trace))
    with pytest.raises(HTTPStatusError) as info, client.iter_chat("hi", model="m") as stream:
        list(stream)
    error = info.value
    assert error.status == 401
    assert "401" in str(error)
    assert "Incorrect API key" in str(error)
    for text in (str(error), repr(error), error.body, repr(client), trace.getvalue()):
        assert wrong not in text
    assert "<redacted>" in trace.getvalue()


def test_status_error_from_a_fault_header(server: BackgroundServer) -> None:
    with pytest.raises(HTTPStatusError) as info:
        list(faulty(server, "status=429").iter_chat("hi", model="m"))
    assert info.value.status == 429
    assert "rate limit" in str(info.value)


def test_refused_connection_raises_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY)
    with pytest.raises(ConnectError), client.iter_chat("hi", model="m") as stream:
        list(stream)


def test_bad_base_url_raises_invalid_url_at_once() -> None:
    with pytest.raises(InvalidURL):
        OpenAIClient(base_url="ftp://example/v1", api_key=KEY)


def test_key_and_base_from_the_environment(
    server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1/")
    client = OpenAIClient()
    assert client.base_url == server.url + "/v1"
    assert client.has_api_key
    assert KEY not in repr(client)
    with client.iter_chat("hi", model="m") as stream:
        assert "".join(d.content or "" for d in stream)


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = OpenAIClient()
    assert client.base_url == "https://api.openai.com/v1"
    assert not client.has_api_key
    assert repr(client) == "<OpenAIClient base_url='https://api.openai.com/v1' api_key=none>"


def test_trace_shows_the_layers_but_not_the_key(server: BackgroundServer) -> None:
    out = io.StringIO()
    client = OpenAIClient(
        base_url=server.url + "/v1", api_key=KEY, read_timeout=20.0, trace=TextTrace(out)
    )
    assert client.trace is client.options.trace
    with client.iter_chat("hi", model="m") as stream:
        list(stream)
    text = out.getvalue()
    assert "> http   POST /v1/chat/completions" in text
    assert "< http   HTTP/1.1 200" in text
    assert "| sse    '' (empty line: dispatch)" in text
    assert KEY not in text
    assert "Authorization: <redacted>" in text


def test_breaking_out_closes_the_connection(client: OpenAIClient) -> None:
    with client.iter_chat("hi", model="m") as stream:
        for _ in stream:
            break
    assert stream.result is None
    with pytest.raises(StopIteration):
        next(stream)


# --------------------------------------------------------------------------- Responses API


def test_iter_responses_text_and_usage(client: OpenAIClient) -> None:
    with client.iter_responses("Tell me about Alice", model="m", instructions="Be brief") as s:
        events: list[ResponseStreamEvent] = list(s)
    result = s.result
    assert isinstance(result, ResponseResult)
    text = "".join(e.text for e in events if isinstance(e, ResponseTextDelta))
    assert text == result.text and len(text) > 20
    assert isinstance(events[-1], ResponseCompleted)
    assert result.status == "completed"
    assert result.usage is not None and result.usage.output_tokens > 0
    assert result.id is not None and result.id.startswith("resp_")


def test_responses_error_event_raises_api_error(server: BackgroundServer) -> None:
    texts: list[str] = []
    with pytest.raises(APIError) as info:
        for event in faulty(server, "error-after=4").iter_responses("hi", model="m"):
            if isinstance(event, ResponseTextDelta):
                texts.append(event.text)
    assert info.value.event == "error"
    assert info.value.message


# --------------------------------------------------------------------------- callback style


def test_callback_style_on_one_loop_with_the_server() -> None:
    # Server and client on the same StreamSelectLoop: the whole exchange in one thread.
    loop = StreamSelectLoop()
    deltas: list[ChatDelta] = []
    done: list[ChatCompletion] = []
    errors: list[Exception] = []
    with SSEServer(loop, options=ServerOptions(keepalive_interval=None)) as srv:
        client = OpenAIClient(base_url=srv.url + "/v1", api_key=None, loop=loop)

        def on_done(result: ChatCompletion) -> None:
            done.append(result)
            srv.close()
            loop.cancel_timer(timer)

        handle = client.start_chat(
            "hi", model="m", on_delta=deltas.append, on_done=on_done, on_error=errors.append
        )
        timer = loop.add_timer(20.0, lambda _t: loop.stop())
        loop.run()  # returns by itself: nothing is left registered once the server is closed
    loop.close()
    assert errors == []
    assert len(done) == 1 and done[0].done
    assert handle.done and handle.result is done[0]
    assert "".join(d.content or "" for d in deltas) == done[0].content


def test_callback_close_from_on_delta_stops_everything() -> None:
    loop = StreamSelectLoop()
    deltas: list[ChatDelta] = []
    calls: list[object] = []
    with SSEServer(loop, options=ServerOptions(keepalive_interval=None)) as srv:
        client = OpenAIClient(base_url=srv.url + "/v1", loop=loop)
        handle = None

        def on_delta(delta: ChatDelta) -> None:
            deltas.append(delta)
            if len(deltas) == 2:
                assert handle is not None
                handle.close()
                srv.close()
                loop.cancel_timer(timer)

        handle = client.start_chat(
            "hi", model="m", on_delta=on_delta, on_done=calls.append, on_error=calls.append
        )
        timer = loop.add_timer(20.0, lambda _t: loop.stop())
        loop.run()  # returns by itself: close() released the connection
    loop.close()
    assert len(deltas) == 2
    assert calls == []
    assert handle.done and handle.result is None


def test_callback_error_without_handler_leaves_run() -> None:
    loop = StreamSelectLoop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(base_url=f"http://127.0.0.1:{port}/v1", loop=loop)
    client.start_chat("hi", model="m", on_delta=lambda _d: None)
    with pytest.raises(ConnectError):
        loop.run()
    loop.close()


# --------------------------------------------------------------------------- scripted servers


def _chunk_event(content: str) -> bytes:
    payload = {"id": "c", "choices": [{"index": 0, "delta": {"content": content}}]}
    return f"data: {json.dumps(payload)}\n\n".encode()


def test_stream_without_done_warns_instead_of_hanging() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b": keep-alive\n\n" + _chunk_event("a") + _chunk_event("b"))
        ex.end_chunks()

    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"), api_key=KEY)
        stream = client.iter_chat("hi", model="m")
        with pytest.warns(IncompleteStreamWarning), stream:
            assert [d.content for d in stream] == ["a", "b"]
    assert stream.result is not None
    assert stream.result.content == "ab" and not stream.result.done
    assert srv.requests[0].header("authorization") == f"Bearer {KEY}"
    body = json.loads(srv.requests[0].body)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_done_finishes_even_if_the_server_keeps_the_connection_open() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(_chunk_event("x") + b"data: [DONE]\n\n")
        ex.stall(10.0)  # never ends the response; the client must not wait for it

    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"), api_key=None, read_timeout=30.0)
        with client.iter_chat("hi", model="m", include_usage=False) as stream:
            assert [d.content for d in stream] == ["x"]
    assert stream.result is not None and stream.result.done
    assert srv.requests[0].header("authorization") is None
    assert "stream_options" not in json.loads(srv.requests[0].body)


def test_echoed_key_is_scrubbed_from_errors() -> None:
    body = json.dumps({"error": {"message": f"Bad key {KEY}", "type": "auth"}}).encode()

    def handler(ex: Exchange) -> None:
        ex.send_head(
            403, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        ex.send(body)

    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"), api_key=KEY)
        with pytest.raises(HTTPStatusError) as info:
            list(client.iter_chat("hi", model="m"))
    assert "Bad key <redacted>" in str(info.value)
    assert KEY not in str(info.value) and KEY not in info.value.body


def _echoing_api_error(key: str) -> Callable[[Exchange], None]:
    """A stream whose first event is an error that echoes ``key`` in every field it has."""

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        error = {
            "message": f"key {key} revoked",
            "type": f"auth:{key}",
            "code": key,
            "param": f"key={key}",
            "details": [{"key": key}],
            key: 1,
        }
        ex.send_chunk(f"data: {json.dumps({'error': error})}\n\n".encode())
        ex.end_chunks()

    return handler


def _raise_api_error(how: str, url: str, key: str) -> APIError:
    """The APIError of a stream, as each way of reading one meets it."""
    client = OpenAIClient(base_url=url, api_key=key)
    with pytest.raises(APIError) as info:
        if how == "iter":
            list(client.iter_chat("hi", model="m"))
        elif how == "start":  # no on_error: the error leaves the loop's run()
            loop = StreamSelectLoop()
            OpenAIClient(base_url=url, api_key=key, loop=loop).start_chat(
                "hi", model="m", on_delta=lambda _delta: None
            )
            try:
                loop.run()
            finally:
                loop.close()
        else:

            async def read() -> None:
                async with AsyncOpenAIClient(base_url=url, api_key=key).iter_chat(
                    "hi", model="m"
                ) as stream:
                    async for _delta in stream:
                        pass

            anyio.run(read)
    return info.value


@pytest.mark.parametrize("how", ["iter", "start", "async"])
@pytest.mark.parametrize("key", [KEY, "sk-1"])  # a local server's short key is a secret too
def test_echoed_key_is_scrubbed_from_api_errors(key: str, how: str) -> None:
    with ScriptedServer(_echoing_api_error(key)) as srv:
        error = _raise_api_error(how, srv.url("/v1"), key)
    assert str(error) == "key <redacted> revoked"
    assert (error.type, error.code, error.param) == (
        "auth:<redacted>",
        "<redacted>",
        "key=<redacted>",
    )
    # The server's whole error object, every string of it scrubbed, its names too.
    assert error.body == {
        "message": "key <redacted> revoked",
        "type": "auth:<redacted>",
        "code": "<redacted>",
        "param": "key=<redacted>",
        "details": [{"key": "<redacted>"}],
        "<redacted>": 1,
    }
    # Nor is the unscrubbed original reachable: not chained, not in a printed traceback.
    chained: list[BaseException] = []
    link: BaseException | None = error
    while link is not None:
        chained.append(link)
        link = link.__cause__ or link.__context__
    assert all(key not in repr(e) and key not in repr(getattr(e, "body", "")) for e in chained)
    assert key not in "".join(traceback.format_exception(error))


def test_json_instead_of_a_stream_is_a_content_type_error() -> None:
    body = b'{"id": "x", "choices": []}'

    def handler(ex: Exchange) -> None:
        ex.send_head(
            200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        ex.send(body)

    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"))
        with pytest.raises(ContentTypeError, match="expected text/event-stream"):
            list(client.iter_chat("hi", model="m"))


def test_callback_responses_api_and_incomplete_warning() -> None:
    loop = StreamSelectLoop()
    events: list[ResponseStreamEvent] = []
    done: list[ResponseResult] = []
    errors: list[Exception] = []
    with SSEServer(loop, options=ServerOptions(keepalive_interval=None)) as srv:
        client = OpenAIClient(base_url=srv.url + "/v1", loop=loop)

        def on_done(result: ResponseResult) -> None:
            done.append(result)
            srv.close()

        def on_error(error: Exception) -> None:
            errors.append(error)
            srv.close()

        client.start_responses(
            "hi", model="m", on_event=events.append, on_done=on_done, on_error=on_error
        )
        loop.run()
    loop.close()
    assert errors == []
    assert len(done) == 1 and done[0].status == "completed"
    assert isinstance(events[-1], ResponseCompleted)
    assert "".join(e.text for e in events if isinstance(e, ResponseTextDelta)) == done[0].text


def test_callback_stream_without_done_warns_and_still_calls_on_done() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(_chunk_event("only"))
        ex.end_chunks()

    loop = StreamSelectLoop()
    done: list[ChatCompletion] = []
    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"), loop=loop)
        client.start_chat("hi", model="m", on_delta=lambda _d: None, on_done=done.append)
        with pytest.warns(IncompleteStreamWarning):
            loop.run()
    loop.close()
    assert [c.content for c in done] == ["only"]
    assert not done[0].done


def test_read_timeout_when_the_server_stalls(server: BackgroundServer) -> None:
    client = OpenAIClient(
        base_url=server.url + "/v1",
        api_key=KEY,
        headers={"X-Reactsse-Fault": "stall-after=3"},
        read_timeout=0.3,
    )
    received = 0
    with pytest.raises(ReadTimeout) as info, client.iter_chat("hi", model="m") as stream:
        for _ in stream:
            received += 1
    assert received >= 1  # the deltas before the stall were delivered
    assert info.value.timeout == 0.3
    assert KEY not in str(info.value)


def test_options_are_eventsource_options_with_the_client_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    plain = OpenAIClient(base_url="http://127.0.0.1:9/v1")
    assert plain.options == EventSourceOptions(read_timeout=600.0, reconnect=False)
    assert plain.read_timeout == 600.0
    assert plain.connect_timeout == EventSourceOptions().connect_timeout
    assert plain.headers == {}
    assert KEY not in repr(plain.options)  # the key is added per request, never stored there

    trace = TextTrace(io.StringIO())
    given = EventSourceOptions(trace=trace, event_timeout=5.0, headers={"X-A": "1"}, retry=1.0)
    client = OpenAIClient(base_url="http://127.0.0.1:9/v1", options=given, connect_timeout=2.0)
    # The client's default where the object keeps EventSource's; the keywords win; one-shot.
    assert client.options == EventSourceOptions(
        trace=trace,
        event_timeout=5.0,
        headers={"X-A": "1"},
        retry=1.0,
        read_timeout=600.0,
        connect_timeout=2.0,
        reconnect=False,
    )
    assert (client.trace, client.connect_timeout, client.headers) == (trace, 2.0, {"X-A": "1"})
    explicit = EventSourceOptions(read_timeout=7.0)
    assert OpenAIClient(base_url="http://127.0.0.1:9/v1", options=explicit).read_timeout == 7.0
    assert OpenAIClient(base_url="http://127.0.0.1:9/v1", read_timeout=None).read_timeout is None
    assert not OpenAIClient(base_url="http://127.0.0.1:9/v1", reconnect=True).options.reconnect
    with pytest.raises(TypeError, match="no_such_option"):
        OpenAIClient(base_url="http://127.0.0.1:9/v1", no_such_option=1)
    with pytest.raises(AttributeError):
        client.read_timeout = 1.0  # type: ignore[misc]


def test_stream_options_reach_the_request(server: BackgroundServer) -> None:
    client = OpenAIClient(
        base_url=server.url + "/v1",
        api_key=KEY,
        options=EventSourceOptions(headers={"X-Reactsse-Fault": "status=503"}),
        read_timeout=20.0,
    )
    with pytest.raises(HTTPStatusError) as info, client.iter_chat("hi", model="m") as stream:
        list(stream)
    assert info.value.status == 503
