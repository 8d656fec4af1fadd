"""The built-in apps' logic (``reactsse._server_apps``), without sockets: shapes, determinism,
pacing, faults, routing and the tokenizer (property-tested)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactsse.mock.chat import (
    ServerOptions,
    _Apps,
    _BodyReply,
    _ChatStream,
    _Event,
    _EventStream,
    _Fault,
    _NumberedEvents,
    _paragraphs,
    _parse_fault,
    _Request,
    _ResponsesStream,
    _tokenize,
)


def post(path: str, body: object, headers: dict[str, str] | None = None) -> _Request:
    return _Request("POST", path, headers or {}, json.dumps(body).encode())


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hello"}], **extra}


def stream_of(reply: object) -> list[_Event]:
    assert isinstance(reply, _EventStream), reply
    return list(reply.events())


def chunks(events: list[_Event]) -> list[dict[str, Any]]:
    assert events[-1].data == "[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


# --- tokenizer --------------------------------------------------------------------------------


@given(st.text())
def test_tokens_concatenate_to_the_text(text: str) -> None:
    tokens = _tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_no_token_has_trailing_whitespace_unless_all_whitespace(text: str) -> None:
    for token in _tokenize(text):
        assert token.strip() == "" or not token[-1].isspace()


def test_tokens_are_words_and_punctuation_with_leading_space() -> None:
    assert _tokenize("Oh dear! I shall be late.") == [
        "Oh", " dear", "!", " I", " shall", " be", " late", ".",
    ]  # fmt: skip
    assert _tokenize("  a \n") == ["  a", " \n"]


def test_bundled_text_is_there_and_non_ascii() -> None:
    paragraphs = _paragraphs()
    assert len(paragraphs) >= 3
    assert any("“" in p for p in paragraphs)  # curly quotes exercise UTF-8 on the wire


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
    assert _parse_fault(sep.join(parts)) == _Fault(
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
        _parse_fault(spec)
    with pytest.raises(ValueError):
        ServerOptions(fault=spec)


def test_header_fault_overrides_server_fault() -> None:
    server = _Fault(error_after=3, disconnect_after=9)
    merged = server.merged(_Fault(error_after=1, stall_after=2))
    assert merged == _Fault(error_after=1, disconnect_after=9, stall_after=2)


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": -1.0}, {"rate": float("nan")}, {"chunk_tokens": 0}, {"reply_tokens": -1},
     {"max_client_buffer": 0}],
)  # fmt: skip
def test_bad_options_are_value_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ServerOptions(**kwargs)


# --- chat completions -----------------------------------------------------------------------------


def test_chat_stream_looks_like_openai() -> None:
    apps = _Apps(ServerOptions())
    events = stream_of(apps.handle(post("/v1/chat/completions", chat_body(stream=True)), 1000.0))
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
    assert text in _paragraphs()
    whole = apps.handle(post("/v1/chat/completions", chat_body()), 1000.0)
    assert isinstance(whole, _BodyReply) and whole.status == 200
    assert isinstance(whole.body, dict)
    assert whole.body["object"] == "chat.completion"
    assert whole.body["choices"][0]["message"]["content"] == text  # same answer, deterministic


def test_chat_usage_chunk_and_max_tokens() -> None:
    apps = _Apps(ServerOptions(chunk_tokens=2))
    body = chat_body(stream=True, stream_options={"include_usage": True}, max_tokens=5)
    data = chunks(stream_of(apps.handle(post("/v1/chat/completions", body), 0.0)))
    *rest, finish, usage = data
    assert all(c["usage"] is None for c in [*rest, finish])
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 5
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 5
    assert finish["choices"][0]["finish_reason"] == "length"
    contents = [c["choices"][0]["delta"]["content"] for c in rest[1:]]
    assert len(contents) == 3  # 5 tokens in chunks of 2: 2 + 2 + 1
    assert len(_tokenize("".join(contents))) == 5


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
    apps = _Apps(ServerOptions())
    body = chat_body(stream=True, tools=[tool])
    data = chunks(stream_of(apps.handle(post("/v1/chat/completions", body), 0.0)))
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
    plain = chunks(stream_of(apps.handle(post("/v1/chat/completions", none), 0.0)))
    assert "tool_calls" not in plain[0]["choices"][0]["delta"]


def test_rate_paces_tokens() -> None:
    apps = _Apps(ServerOptions(rate=100.0, reply_tokens=50, chunk_tokens=5))
    reply = apps.handle(post("/v1/chat/completions", chat_body(stream=True)), 0.0)
    assert isinstance(reply, _ChatStream) and reply.timed
    times = [e.at for e in reply.events()]
    assert times[0] == 0.0
    assert times[1:11] == pytest.approx([0.05 * k for k in range(1, 11)])
    assert times[-1] == pytest.approx(0.5)
    assert (
        not _Apps(ServerOptions())
        .handle(post("/v1/chat/completions", chat_body(stream=True)), 0)
        .timed
    )  # type: ignore[union-attr]


def test_reply_tokens_exact_and_deterministic() -> None:
    apps = _Apps(ServerOptions(reply_tokens=1000))
    first = apps.handle(post("/v1/chat/completions", chat_body()), 0.0)
    second = _Apps(ServerOptions(reply_tokens=1000)).handle(
        post("/v1/chat/completions", chat_body()), 0.0
    )
    assert isinstance(first, _BodyReply) and isinstance(second, _BodyReply)
    assert first.body == second.body  # same server options, same request: same bytes
    assert isinstance(first.body, dict)
    assert first.body["usage"]["completion_tokens"] == 1000


# --- Responses API --------------------------------------------------------------------------------


def test_responses_stream_event_sequence() -> None:
    apps = _Apps(ServerOptions())
    events = stream_of(
        apps.handle(post("/v1/responses", {"model": "m", "input": "hi", "stream": True}), 5.0)
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
    apps = _Apps(ServerOptions())
    body = {"model": "m", "input": [{"role": "user", "content": "hi"}], "max_output_tokens": 4}
    whole = apps.handle(post("/v1/responses", body), 0.0)
    assert isinstance(whole, _BodyReply) and isinstance(whole.body, dict)
    assert whole.body["status"] == "incomplete"
    assert whole.body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert whole.body["usage"]["output_tokens"] == 4
    stream = apps.handle(post("/v1/responses", {**body, "stream": True}), 0.0)
    assert isinstance(stream, _ResponsesStream)
    assert list(stream.events())[-1].event == "response.incomplete"


def test_error_events_per_api() -> None:
    apps = _Apps(ServerOptions())
    chat = apps.handle(post("/v1/chat/completions", chat_body(stream=True)), 0.0)
    assert isinstance(chat, _EventStream)
    error = chat.error_event("boom")
    assert error.event is None
    assert json.loads(error.data)["error"] == {
        "message": "boom", "type": "server_error", "param": None, "code": None,
    }  # fmt: skip
    responses = apps.handle(post("/v1/responses", {"model": "m", "input": "x", "stream": True}), 0)
    assert isinstance(responses, _ResponsesStream)
    sent = list(responses.events())
    error = responses.error_event("boom")
    assert error.event == "error"
    payload = json.loads(error.data)
    assert payload["type"] == "error" and payload["message"] == "boom"
    assert payload["sequence_number"] == len(sent)


# --- routing and errors ---------------------------------------------------------------------------


def error_of(reply: object, status: int) -> dict[str, Any]:
    assert isinstance(reply, _BodyReply), reply
    assert reply.status == status
    assert isinstance(reply.body, dict)
    error = reply.body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


def test_routing_errors() -> None:
    apps = _Apps(ServerOptions())
    error = error_of(apps.handle(_Request("POST", "/v1/nope", {}), 0), 404)
    assert error["message"] == "Invalid URL (POST /v1/nope)"
    reply = apps.handle(_Request("GET", "/v1/chat/completions", {}), 0)
    error_of(reply, 405)
    assert isinstance(reply, _BodyReply) and ("Allow", "POST") in reply.headers
    error_of(apps.handle(_Request("POST", "/v1/chat/completions", {}, b"{nope"), 0), 400)
    error_of(apps.handle(_Request("POST", "/v1/chat/completions", {}, b"[1]"), 0), 400)
    assert (
        error_of(apps.handle(post("/v1/chat/completions", {"model": "m"}), 0), 400)["param"]
        == "messages"
    )
    bad_max = chat_body(max_tokens=0)
    assert (
        error_of(apps.handle(post("/v1/chat/completions", bad_max), 0), 400)["param"]
        == "max_tokens"
    )
    error_of(apps.handle(post("/v1/responses", {"model": "m"}), 0), 400)
    assert error_of(apps.handle(_Request("GET", "/nowhere", {}), 0), 404)["message"] == (
        "Invalid URL (GET /nowhere)"
    )
    error_of(apps.handle(_Request("POST", "/events", {}), 0), 405)
    assert apps.handle(_Request("GET", "/v1/models/nope", {}), 0).status == 404  # type: ignore[union-attr]
    models = apps.handle(_Request("GET", "/v1/models", {}), 0)
    assert isinstance(models, _BodyReply) and isinstance(models.body, dict)
    assert models.body["data"][0]["object"] == "model"
    bad_fault = {"x-reactsse-fault": "explode=1"}
    error_of(apps.handle(post("/v1/chat/completions", chat_body(), bad_fault), 0), 400)


def test_api_key() -> None:
    apps = _Apps(ServerOptions(api_key="sk-right-key"))
    request = post("/v1/chat/completions", chat_body())
    error_of(apps.handle(request, 0), 401)
    wrong = post("/v1/chat/completions", chat_body(), {"authorization": "Bearer sk-wrong-key-123"})
    error = error_of(apps.handle(wrong, 0), 401)
    assert error["code"] == "invalid_api_key" and "sk-wrong-key-123" not in error["message"]
    right = post("/v1/chat/completions", chat_body(), {"authorization": "Bearer sk-right-key"})
    assert apps.handle(right, 0).status == 200  # type: ignore[union-attr]
    assert apps.handle(_Request("GET", "/events", {}), 0).timed  # type: ignore[union-attr]


def test_status_fault_and_error_fault_without_stream() -> None:
    apps = _Apps(ServerOptions())
    limited = post("/v1/chat/completions", chat_body(), {"x-reactsse-fault": "status=429"})
    assert error_of(apps.handle(limited, 0), 429)["code"] == "rate_limit_exceeded"
    failing = post(
        "/v1/responses", {"model": "m", "input": "x"}, {"x-reactsse-fault": "error-after=0"}
    )
    error_of(apps.handle(failing, 0), 500)
    stream = apps.handle(
        post("/v1/chat/completions", chat_body(stream=True), {"x-reactsse-fault": "error-after=2"}),
        0,
    )
    assert isinstance(stream, _EventStream) and stream.fault == _Fault(error_after=2)


# --- /events --------------------------------------------------------------------------------------


def test_events_resume_and_end() -> None:
    apps = _Apps(ServerOptions(events_interval=0.5))
    fresh = apps.handle(_Request("GET", "/events?count=3", {}), 0)
    assert isinstance(fresh, _NumberedEvents)
    events = list(fresh.events())
    assert [(e.id, e.data, e.retry, e.at) for e in events] == [
        ("1", "event 1", 1000, 0.0), ("2", "event 2", None, 0.5), ("3", "event 3", None, 1.0),
    ]  # fmt: skip
    resumed = apps.handle(_Request("GET", "/events?count=5&retry=50", {"last-event-id": "3"}), 0)
    assert isinstance(resumed, _NumberedEvents)
    assert [(e.id, e.retry) for e in resumed.events()] == [("4", 50), ("5", None)]
    done = apps.handle(_Request("GET", "/events?count=5", {"last-event-id": "5"}), 0)
    assert isinstance(done, _BodyReply) and done.status == 204
    junk = apps.handle(_Request("GET", "/events?count=2", {"last-event-id": "abc"}), 0)
    assert isinstance(junk, _NumberedEvents) and junk.first == 1
    dropping = apps.handle(_Request("GET", "/events?drop_every=4", {}), 0)
    assert isinstance(dropping, _NumberedEvents) and dropping.fault.disconnect_after == 4
    assert dropping.count is None and dropping.timed  # default interval 0.5 s: timed
    fast = apps.handle(_Request("GET", "/events?interval=0", {}), 0)
    assert isinstance(fast, _NumberedEvents) and not fast.timed  # waits for the reader instead
    for query in ("count=x", "interval=-1", "drop_every=1.5", "interval=nan"):
        bad = apps.handle(_Request("GET", f"/events?{query}", {}), 0)
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
    stream = _Apps(ServerOptions(chunk_tokens=chunk_tokens)).handle(
        post("/v1/chat/completions", chat_body(**extra)), 0.0
    )
    assert isinstance(stream, _ChatStream)
    events = list(stream.events())
    middle = events[1 : events.index(next(e for e in events if '"finish_reason":"' in e.data))]
    assert middle
    for event in middle:
        parsed = json.loads(event.data)
        delta = parsed["choices"][0]["delta"]
        assert event.data == stream._chunk(delta)  # byte for byte


def test_cors_preflight() -> None:
    apps = _Apps(ServerOptions(api_key="sk-x"))  # a preflight carries no credentials
    headers = {"access-control-request-headers": "authorization, content-type, x-reactsse-fault"}
    reply = apps.handle(_Request("OPTIONS", "/v1/chat/completions", headers), 0)
    assert isinstance(reply, _BodyReply) and reply.status == 204 and reply.body is None
    assert dict(reply.headers)["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert (
        dict(reply.headers)["Access-Control-Allow-Headers"]
        == headers["access-control-request-headers"]
    )
    unknown = apps.handle(_Request("OPTIONS", "/v1/unknown", {}), 0)
    assert isinstance(unknown, _BodyReply) and unknown.status == 404
