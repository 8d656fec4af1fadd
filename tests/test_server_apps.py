"""The built-in mock apps (``reactsse.mock``) called directly, without sockets: shapes,
determinism, pacing, faults, routing and the tokenizer (property-tested)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactsse.mock import Fault, MockApp, MockOptions, parse_fault
from reactsse.mock.chat import ChatStream, parse_chat
from reactsse.mock.completion import RUN_EVENTS
from reactsse.mock.responses import ResponsesStream, parse_responses
from reactsse.mock.text import paragraphs, tokenize
from reactsse.mock.text_completion import TextCompletionStream, parse_text_completion
from reactsse.server import BodyReply, EncodedEvents, Event, EventStream, Reply, Request
from reactsse.server.options import ServerOptions
from reactsse.sse import EventStreamDecoder, encode_event


class Clocked:
    """A :class:`MockApp` called with the wall-clock time its clock should say."""

    def __init__(self, options: MockOptions | None) -> None:
        self.now = 0.0
        self.app = MockApp(options, clock=lambda: self.now)

    def __call__(self, request: Request, now: float = 0.0) -> Reply:
        self.now = now
        return self.app(request)


def mock(options: MockOptions | None = None) -> Clocked:
    return Clocked(options)


def post(path: str, body: object, headers: dict[str, str] | None = None) -> Request:
    return Request("POST", path, headers or {}, json.dumps(body).encode())


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hello"}], **extra}


def stream_of(reply: object) -> list[Event]:
    """The stream's events; a run already encoded is decoded back into its events."""
    assert isinstance(reply, EventStream), reply
    events: list[Event] = []
    for item in reply.events:
        if isinstance(item, EncodedEvents):
            decoded = EventStreamDecoder().feed(item.data)
            assert len(decoded) == item.event_count
            events += [
                Event(e.data, event=None if e.type == "message" else e.type, at=item.at)
                for e in decoded
            ]
        else:
            events.append(item)
    return events


def chunks(events: list[Event]) -> list[dict[str, Any]]:
    assert events[-1].data == "[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


# --- tokenizer --------------------------------------------------------------------------------


@given(st.text())
def test_tokens_concatenate_to_the_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_no_token_has_trailing_whitespace_unless_all_whitespace(text: str) -> None:
    for token in tokenize(text):
        assert token.strip() == "" or not token[-1].isspace()


def test_tokens_are_words_and_punctuation_with_leading_space() -> None:
    assert tokenize("Oh dear! I shall be late.") == [
        "Oh", " dear", "!", " I", " shall", " be", " late", ".",
    ]  # fmt: skip
    assert tokenize("  a \n") == ["  a", " \n"]


def test_bundled_text_is_there_and_non_ascii() -> None:
    texts = paragraphs()
    assert len(texts) >= 3
    assert any("“" in p for p in texts)  # curly quotes exercise UTF-8 on the wire


# --- options and faults ---------------------------------------------------------------------------


@given(
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(400, 599)),
    st.sampled_from([",", ";", " , "]),
)
def test_fault_spec_round_trips(
    error_after: int | None,
    disconnect_after: int | None,
    stall_after: int | None,
    status: int | None,
    sep: str,
) -> None:
    parts = []
    if error_after is not None:
        parts.append(f"error-after={error_after}")
    if disconnect_after is not None:
        parts.append(f"Disconnect-After = {disconnect_after}")
    if stall_after is not None:
        parts.append(f"stall-after={stall_after}")
    if status is not None:
        parts.append(f"status={status}")
    assert parse_fault(sep.join(parts)) == Fault(
        error_after=error_after,
        disconnect_after=disconnect_after,
        stall_after=stall_after,
        status=status,
    )


@pytest.mark.parametrize(
    "spec", ["boom", "error-after", "error-after=x", "status=200", "status=600", "delay=3", "x=1"]
)
def test_bad_fault_spec_is_a_value_error(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault(spec)
    with pytest.raises(ValueError):
        MockOptions(fault=spec)


def test_header_fault_overrides_server_fault() -> None:
    server = Fault(error_after=3, disconnect_after=9)
    merged = server.merged(Fault(error_after=1, stall_after=2))
    assert merged == Fault(error_after=1, disconnect_after=9, stall_after=2)


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": -1.0}, {"rate": float("nan")}, {"chunk_tokens": 0}, {"reply_tokens": -1}],
)  # fmt: skip
def test_bad_options_are_value_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MockOptions(**kwargs)


@pytest.mark.parametrize("kwargs", [{"max_client_buffer": 0}, {"high_water": 0}])
def test_bad_server_options_are_value_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ServerOptions(**kwargs)


# --- chat completions -----------------------------------------------------------------------------


def test_chat_stream_looks_like_openai() -> None:
    apps = mock()
    events = stream_of(apps(post("/v1/chat/completions", chat_body(stream=True)), 1000.0))
    data = chunks(events)
    assert all(e.event is None and e.id is None for e in events)  # data-only, like the API
    first, *middle, last = data
    ids = {c["id"] for c in data}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    for chunk in data:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == 1000
        assert chunk["model"] == "m"
        assert "usage" not in chunk
        (choice,) = chunk["choices"]
        assert set(choice) == {"index", "delta", "logprobs", "finish_reason"}
        assert choice["index"] == 0 and choice["logprobs"] is None
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"]["content"] == ""
    assert all(c["choices"][0]["finish_reason"] is None for c in [first, *middle])
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    text = "".join(c["choices"][0]["delta"]["content"] for c in middle)
    assert text in paragraphs()
    whole = apps(post("/v1/chat/completions", chat_body()), 1000.0)
    assert isinstance(whole, BodyReply) and whole.status == 200
    assert isinstance(whole.body, dict)
    assert whole.body["object"] == "chat.completion"
    assert whole.body["choices"][0]["message"]["content"] == text  # same answer, deterministic


def test_chat_usage_chunk_and_max_tokens() -> None:
    apps = mock(MockOptions(chunk_tokens=2))
    body = chat_body(stream=True, stream_options={"include_usage": True}, max_tokens=5)
    data = chunks(stream_of(apps(post("/v1/chat/completions", body), 0.0)))
    *rest, finish, usage = data
    assert all(c["usage"] is None for c in [*rest, finish])
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 5
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 5
    assert finish["choices"][0]["finish_reason"] == "length"
    contents = [c["choices"][0]["delta"]["content"] for c in rest[1:]]
    assert len(contents) == 3  # 5 tokens in chunks of 2: 2 + 2 + 1
    assert len(tokenize("".join(contents))) == 5


def test_chat_tool_call_is_streamed_in_fragments() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
            },
        },
    }
    apps = mock()
    body = chat_body(stream=True, tools=[tool])
    data = chunks(stream_of(apps(post("/v1/chat/completions", body), 0.0)))
    head = data[0]["choices"][0]["delta"]
    (call,) = head["tool_calls"]
    assert call["index"] == 0 and call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": ""}
    fragments = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in data[1:-1]
    ]
    assert len(fragments) > 3
    assert json.loads("".join(fragments)) == {"city": "hello", "days": 42, "unit": "c"}
    assert data[-1]["choices"][0]["finish_reason"] == "tool_calls"
    none = chat_body(stream=True, tools=[tool], tool_choice="none")
    plain = chunks(stream_of(apps(post("/v1/chat/completions", none), 0.0)))
    assert "tool_calls" not in plain[0]["choices"][0]["delta"]


def test_rate_paces_tokens() -> None:
    apps = mock(MockOptions(rate=100.0, reply_tokens=50, chunk_tokens=5))
    reply = apps(post("/v1/chat/completions", chat_body(stream=True)), 0.0)
    assert isinstance(reply, EventStream) and reply.timed
    times = [e.at for e in reply.events]
    assert times[0] == 0.0
    assert times[1:11] == pytest.approx([0.05 * k for k in range(1, 11)])
    assert times[-1] == pytest.approx(0.5)
    assert not mock()(post("/v1/chat/completions", chat_body(stream=True)), 0).timed  # type: ignore[union-attr]


def test_reply_tokens_exact_and_deterministic() -> None:
    apps = mock(MockOptions(reply_tokens=1000))
    first = apps(post("/v1/chat/completions", chat_body()), 0.0)
    second = mock(MockOptions(reply_tokens=1000))(post("/v1/chat/completions", chat_body()), 0.0)
    assert isinstance(first, BodyReply) and isinstance(second, BodyReply)
    assert first.body == second.body  # same server options, same request: same bytes
    assert isinstance(first.body, dict)
    assert first.body["usage"]["completion_tokens"] == 1000


# --- Responses API --------------------------------------------------------------------------------


def test_responses_stream_event_sequence() -> None:
    apps = mock()
    events = stream_of(
        apps(post("/v1/responses", {"model": "m", "input": "hi", "stream": True}), 5.0)
    )
    types = [e.event for e in events]
    payloads = [json.loads(e.data) for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    deltas = [p["delta"] for p in payloads if p["type"] == "response.output_text.delta"]
    assert len(deltas) > 10 and types[4 : 4 + len(deltas)] == ["response.output_text.delta"] * len(
        deltas
    )
    assert types[4 + len(deltas) :] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["sequence_number"] for p in payloads] == list(range(len(events)))
    assert all(p["type"] == e.event for p, e in zip(payloads, events, strict=True))
    done = payloads[-1]["response"]
    assert done["status"] == "completed" and done["usage"]["output_tokens"] == len(deltas)
    assert done["output"][0]["content"][0]["text"] == "".join(deltas)


def test_responses_max_output_tokens_is_incomplete() -> None:
    apps = mock()
    body = {"model": "m", "input": [{"role": "user", "content": "hi"}], "max_output_tokens": 4}
    whole = apps(post("/v1/responses", body), 0.0)
    assert isinstance(whole, BodyReply) and isinstance(whole.body, dict)
    assert whole.body["status"] == "incomplete"
    assert whole.body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert whole.body["usage"]["output_tokens"] == 4
    stream = apps(post("/v1/responses", {**body, "stream": True}), 0.0)
    assert isinstance(stream, EventStream)
    assert stream_of(stream)[-1].event == "response.incomplete"


def test_error_events_per_api() -> None:
    error = ChatStream.error_event("boom")
    assert error.event is None
    assert json.loads(error.data)["error"] == {
        "message": "boom", "type": "server_error", "param": None, "code": None,
    }  # fmt: skip
    call = parse_responses({"model": "m", "input": "x", "stream": True})
    assert not isinstance(call, BodyReply)
    responses = ResponsesStream(call, MockOptions(), 1, 0)
    sent = list(responses.events())
    error = responses.error_event("boom")
    assert error.event == "error"
    payload = json.loads(error.data)
    assert payload["type"] == "error" and payload["message"] == "boom"
    assert payload["sequence_number"] == len(sent)


# --- routing and errors ---------------------------------------------------------------------------


def error_of(reply: object, status: int) -> dict[str, Any]:
    assert isinstance(reply, BodyReply), reply
    assert reply.status == status
    assert isinstance(reply.body, dict)
    error = reply.body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


def test_routing_errors() -> None:
    apps = mock()
    error = error_of(apps(Request("POST", "/v1/nope", {}), 0), 404)
    assert error["message"] == "Invalid URL (POST /v1/nope)"
    reply = apps(Request("GET", "/v1/chat/completions", {}), 0)
    error_of(reply, 405)
    assert isinstance(reply, BodyReply) and ("Allow", "POST") in reply.headers
    error_of(apps(Request("POST", "/v1/chat/completions", {}, b"{nope"), 0), 400)
    error_of(apps(Request("POST", "/v1/chat/completions", {}, b"[1]"), 0), 400)
    assert (
        error_of(apps(post("/v1/chat/completions", {"model": "m"}), 0), 400)["param"] == "messages"
    )
    bad_max = chat_body(max_tokens=0)
    assert error_of(apps(post("/v1/chat/completions", bad_max), 0), 400)["param"] == "max_tokens"
    error_of(apps(post("/v1/responses", {"model": "m"}), 0), 400)
    assert error_of(apps(Request("GET", "/nowhere", {}), 0), 404)["message"] == (
        "Invalid URL (GET /nowhere)"
    )
    error_of(apps(Request("POST", "/events", {}), 0), 405)
    assert apps(Request("GET", "/v1/models/nope", {}), 0).status == 404  # type: ignore[union-attr]
    models = apps(Request("GET", "/v1/models", {}), 0)
    assert isinstance(models, BodyReply) and isinstance(models.body, dict)
    assert models.body["data"][0]["object"] == "model"
    bad_fault = {"x-reactsse-fault": "explode=1"}
    error_of(apps(post("/v1/chat/completions", chat_body(), bad_fault), 0), 400)


def test_api_key() -> None:
    apps = mock(MockOptions(api_key="sk-right-key"))
    request = post("/v1/chat/completions", chat_body())
    error_of(apps(request, 0), 401)
    wrong = post("/v1/chat/completions", chat_body(), {"authorization": "Bearer sk-wrong-key-123"})
    error = error_of(apps(wrong, 0), 401)
    assert error["code"] == "invalid_api_key" and "sk-wrong-key-123" not in error["message"]
    right = post("/v1/chat/completions", chat_body(), {"authorization": "Bearer sk-right-key"})
    assert apps(right, 0).status == 200  # type: ignore[union-attr]
    assert apps(Request("GET", "/events", {}), 0).timed  # type: ignore[union-attr]


def test_status_fault_and_error_fault_without_stream() -> None:
    apps = mock()
    limited = post("/v1/chat/completions", chat_body(), {"x-reactsse-fault": "status=429"})
    assert error_of(apps(limited, 0), 429)["code"] == "rate_limit_exceeded"
    failing = post(
        "/v1/responses", {"model": "m", "input": "x"}, {"x-reactsse-fault": "error-after=0"}
    )
    error_of(apps(failing, 0), 500)
    stream = apps(
        post("/v1/chat/completions", chat_body(stream=True), {"x-reactsse-fault": "error-after=2"}),
        0,
    )
    assert isinstance(stream, EventStream)
    assert stream.disconnect_after is None and stream.stall_after is None
    events = list(stream.events)
    assert len(events) == 3  # two chunks, then the error instead of the rest
    assert json.loads(events[-1].data)["error"]["message"] == "Injected fault: error mid-stream."


# --- /events --------------------------------------------------------------------------------------


def test_events_resume_and_end() -> None:
    apps = mock(MockOptions(events_interval=0.5))
    fresh = apps(Request("GET", "/events?count=3", {}), 0)
    assert isinstance(fresh, EventStream)
    events = list(fresh.events)
    assert [(e.id, e.data, e.retry, e.at) for e in events] == [
        ("1", "event 1", 1000, 0.0), ("2", "event 2", None, 0.5), ("3", "event 3", None, 1.0),
    ]  # fmt: skip
    resumed = apps(Request("GET", "/events?count=5&retry=50", {"last-event-id": "3"}), 0)
    assert isinstance(resumed, EventStream)
    assert [(e.id, e.retry) for e in resumed.events] == [("4", 50), ("5", None)]
    done = apps(Request("GET", "/events?count=5", {"last-event-id": "5"}), 0)
    assert isinstance(done, BodyReply) and done.status == 204
    junk = apps(Request("GET", "/events?count=2", {"last-event-id": "abc"}), 0)
    assert isinstance(junk, EventStream) and [e.id for e in junk.events] == ["1", "2"]
    dropping = apps(Request("GET", "/events?drop_every=4", {}), 0)
    assert isinstance(dropping, EventStream) and dropping.disconnect_after == 4
    assert len(list(itertools.islice(dropping.events, 1000))) == 1000  # no count: no end
    assert dropping.timed  # default interval 0.5 s: timed
    fast = apps(Request("GET", "/events?interval=0", {}), 0)
    assert isinstance(fast, EventStream) and not fast.timed  # waits for the reader instead
    for query in ("count=x", "interval=-1", "drop_every=1.5", "interval=nan"):
        bad = apps(Request("GET", f"/events?{query}", {}), 0)
        assert error_of(bad, 400)["param"] == query.split("=")[0]


@given(
    model=st.text(min_size=1),
    prompt=st.text(),
    chunk_tokens=st.integers(1, 5),
    usage=st.booleans(),
    tools=st.booleans(),
)
def test_spliced_chunks_equal_serialised_chunks(
    model: str, prompt: str, chunk_tokens: int, usage: bool, tools: bool
) -> None:
    extra: dict[str, Any] = {"stream": True, "model": model, "max_tokens": 12}
    extra["messages"] = [{"role": "user", "content": prompt}]
    if usage:
        extra["stream_options"] = {"include_usage": True}
    if tools:
        extra["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}}}}]  # fmt: skip
    call = parse_chat(chat_body(**extra))
    assert not isinstance(call, BodyReply)
    stream = ChatStream(call, MockOptions(chunk_tokens=chunk_tokens), 1, 0)
    events = list(stream.events())
    middle = events[1 : events.index(next(e for e in events if '"finish_reason":"' in e.data))]
    assert middle
    for event in middle:
        parsed = json.loads(event.data)
        delta = parsed["choices"][0]["delta"]
        assert event.data == stream.chunk(delta)  # byte for byte


@given(model=st.text(min_size=1), prompt=st.text(), chunk_tokens=st.integers(1, 5))
def test_spliced_text_completion_chunks_equal_serialised_chunks(
    model: str, prompt: str, chunk_tokens: int
) -> None:
    call = parse_text_completion({"model": model, "prompt": prompt, "max_tokens": 12})
    assert not isinstance(call, BodyReply)
    stream = TextCompletionStream(call, MockOptions(chunk_tokens=chunk_tokens), 1, 0)
    events = list(stream.events())
    middle = [e for e in events if '"finish_reason":null' in e.data]
    assert middle
    for event in middle:
        text = json.loads(event.data)["choices"][0]["text"]
        assert event.data == stream.chunk(text)  # byte for byte


def _stream(kind: str, model: str, prompt: str, options: MockOptions, extra: dict[str, Any]) -> Any:
    """A chat, text-completion or Responses stream for ``prompt`` (any ``extra`` fields)."""
    if kind == "chat":
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
        return ChatStream(_valid(parse_chat(body)), options, 7, 1)
    if kind == "completions":
        body = {"model": model, "prompt": prompt, **extra}
        return TextCompletionStream(_valid(parse_text_completion(body)), options, 7, 1)
    body = {"model": model, "input": prompt}
    return ResponsesStream(_valid(parse_responses(body)), options, 7, 1)


def _valid(call: Any) -> Any:
    assert not isinstance(call, BodyReply), call
    return call


@given(
    kind=st.sampled_from(["chat", "completions", "responses"]),
    model=st.text(min_size=1),
    prompt=st.text(),
    reply_tokens=st.none() | st.integers(1, 3 * RUN_EVENTS + 1),
    chunk_tokens=st.integers(1, 3),
    usage=st.booleans(),
    tools=st.booleans(),
)
def test_an_encoded_stream_is_its_events_encoded(
    kind: str,
    model: str,
    prompt: str,
    reply_tokens: int | None,
    chunk_tokens: int,
    usage: bool,
    tools: bool,
) -> None:
    """The one-write form of an untimed stream: the same bytes as its events, encoded one by
    one, in runs that count their events and stay short (the server's backpressure acts
    between runs)."""
    extra: dict[str, Any] = {"stream": True}
    if usage:
        extra["stream_options"] = {"include_usage": True}
    if tools and kind == "chat":
        extra["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}}}}]  # fmt: skip
    options = MockOptions(reply_tokens=reply_tokens, chunk_tokens=chunk_tokens)
    events = list(_stream(kind, model, prompt, options, extra).events())
    runs = list(_stream(kind, model, prompt, options, extra).encoded())
    one_by_one = [encode_event(e.data, event=e.event, id=e.id, retry=e.retry) for e in events]
    assert b"".join(run.data for run in runs) == b"".join(one_by_one)
    assert sum(run.event_count for run in runs) == len(events)
    for run in runs:
        assert len(EventStreamDecoder().feed(run.data)) == run.event_count
        assert run.event_count <= RUN_EVENTS + 4  # a head or a tail rides with a run
        assert run.at == 0.0


def test_the_mock_writes_untimed_streams_in_runs_and_counted_faults_event_by_event() -> None:
    """Runs only where nothing is due later and no fault counts events: a paced stream, and
    one with error-, disconnect- or stall-after, are events one by one, cut at the exact one."""
    body = chat_body(stream=True)
    untimed = apps_reply(MockOptions(), body, {})
    assert all(isinstance(item, EncodedEvents) for item in untimed.events)
    paced = apps_reply(MockOptions(rate=1000.0), body, {})
    assert all(isinstance(item, Event) for item in paced.events)
    for fault in ("error-after=3", "disconnect-after=3", "stall-after=3"):
        faulty = apps_reply(MockOptions(), body, {"x-reactsse-fault": fault})
        items = list(faulty.events)
        assert all(isinstance(item, Event) for item in items), fault
        if fault.startswith("error"):
            assert len(items) == 4 and "Injected fault" in items[-1].data


def apps_reply(options: MockOptions, body: dict[str, Any], headers: dict[str, str]) -> EventStream:
    reply = mock(options)(post("/v1/chat/completions", body, headers))
    assert isinstance(reply, EventStream), reply
    return reply


def test_cors_preflight() -> None:
    apps = mock(MockOptions(api_key="sk-x"))  # a preflight carries no credentials
    headers = {"access-control-request-headers": "authorization, content-type, x-reactsse-fault"}
    reply = apps(Request("OPTIONS", "/v1/chat/completions", headers), 0)
    assert isinstance(reply, BodyReply) and reply.status == 204 and reply.body is None
    assert dict(reply.headers)["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert (
        dict(reply.headers)["Access-Control-Allow-Headers"]
        == headers["access-control-request-headers"]
    )
    unknown = apps(Request("OPTIONS", "/v1/unknown", {}), 0)
    assert isinstance(unknown, BodyReply) and unknown.status == 404
