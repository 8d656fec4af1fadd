"""The sans-IO half of ``reactsse.openai``: accumulators fed hand-made ``MessageEvent`` lists.

Events are built the way ``reactsse.sse`` dispatches them (``MessageEvent(type, data,
last_event_id)``); a few tests also run real bytes through ``EventStreamDecoder`` first.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.errors import APIError, IncompleteStreamWarning, ReactSSEError, RemoteProtocolError
from reactsse.openai import (
    ChatAccumulator,
    ChatDelta,
    ResponseCompleted,
    ResponseFunctionCall,
    ResponseFunctionCallArgumentsDelta,
    ResponsesAccumulator,
    ResponseTextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from reactsse.sse import EventStreamDecoder, MessageEvent, encode_event


def ev(data: str | dict[str, Any], type: str = "message") -> MessageEvent:
    text = data if isinstance(data, str) else json.dumps(data)
    return MessageEvent(type=type, data=text, last_event_id="")


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> MessageEvent:
    return ev(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        }
    )


USAGE_CHUNK = ev(
    {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
)
DONE = ev("[DONE]")


def feed_all(acc: ChatAccumulator, events: list[MessageEvent]) -> list[ChatDelta]:
    out: list[ChatDelta] = []
    for event in events:
        out.extend(acc.feed(event))
    return out


# --------------------------------------------------------------------------- chat: happy paths


def test_chat_text_stream_yields_deltas_and_assembles() -> None:
    acc = ChatAccumulator()
    deltas = feed_all(
        acc,
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, finish="stop"),
            USAGE_CHUNK,
            DONE,
        ],
    )
    assert [d.content for d in deltas] == ["", "Hel", "lo", None, None]
    assert deltas[0].role == "assistant"
    assert deltas[3].finish_reason == "stop"
    assert deltas[4].usage == Usage(7, 3, 10)
    assert deltas[4].choice_index == -1
    assert acc.done
    result = acc.finish()
    assert result.content == "Hello"
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.prompt_tokens == 7
    assert result.usage.completion_tokens == 3
    assert result.id == "chatcmpl-1" and result.model == "m"
    assert result.done
    assert result.choices[0].role == "assistant"


def test_chat_tool_call_fragments_accumulate_by_index() -> None:
    acc = ChatAccumulator()
    deltas = feed_all(
        acc,
        [
            chunk({"role": "assistant", "content": None}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "call_b", "function": {"name": "now", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
            chunk({}, finish="tool_calls"),
            DONE,
        ],
    )
    fragments = [f for d in deltas for f in d.tool_calls]
    assert fragments[0] == ToolCallDelta(0, "call_a", "get_weather", "")
    assert fragments[1] == ToolCallDelta(0, None, None, '{"city": ')
    assert fragments[2] == ToolCallDelta(1, "call_b", "now", "")
    result = acc.finish()
    assert result.tool_calls == (
        ToolCall(0, "call_a", "get_weather", '{"city": "Paris"}'),
        ToolCall(1, "call_b", "now", "{}"),
    )
    assert result.tool_calls[0].parsed_arguments() == {"city": "Paris"}
    assert result.finish_reason == "tool_calls"
    assert result.content == ""


def test_chat_repeated_id_and_name_on_every_fragment_are_not_doubled() -> None:
    # llama.cpp-style servers repeat id and name on each fragment.
    acc = ChatAccumulator()
    for piece in ['{"a"', ": 1}"]:
        acc.feed(
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c1", "function": {"name": "f", "arguments": piece}}
                    ]
                }
            )
        )
    acc.feed(DONE)
    assert acc.finish().tool_calls == (ToolCall(0, "c1", "f", '{"a": 1}'),)


def test_chat_reasoning_and_multiple_choices() -> None:
    acc = ChatAccumulator()
    feed_all(
        acc,
        [
            chunk({"reasoning_content": "think "}, index=0),
            chunk({"content": "A"}, index=0),
            chunk({"reasoning": "hmm"}, index=1),
            chunk({"content": "B"}, index=1),
            chunk({}, finish="stop", index=1),
            chunk({}, finish="length", index=0),
            DONE,
        ],
    )
    result = acc.finish()
    assert [c.content for c in result.choices] == ["A", "B"]
    assert [c.reasoning for c in result.choices] == ["think ", "hmm"]
    assert [c.finish_reason for c in result.choices] == ["length", "stop"]


def test_chat_events_after_done_and_empty_data_are_ignored() -> None:
    acc = ChatAccumulator()
    assert acc.feed(ev("")) == []
    assert acc.feed(ev("  ")) == []
    acc.feed(chunk({"content": "x"}))
    assert acc.feed(DONE) == []
    assert acc.feed(chunk({"content": "late"})) == []
    assert acc.feed(DONE) == []
    assert acc.feed(ev("not json after done")) == []
    assert acc.finish().content == "x"


def test_chat_done_tolerates_whitespace() -> None:
    acc = ChatAccumulator()
    acc.feed(ev(" [DONE]\n"))
    assert acc.done


# --------------------------------------------------------------------------- chat: failures


def test_chat_stream_without_done_warns_and_keeps_text() -> None:
    acc = ChatAccumulator()
    feed_all(acc, [chunk({"content": "partial"})])
    with pytest.warns(IncompleteStreamWarning, match=r"\[DONE\]"):
        result = acc.finish()
    assert result.content == "partial"
    assert not result.done


def test_chat_empty_stream_without_done_warns() -> None:
    with pytest.warns(IncompleteStreamWarning):
        result = ChatAccumulator().finish()
    assert result.content == "" and result.tool_calls == () and result.finish_reason is None


def test_chat_error_payload_raises_api_error() -> None:
    acc = ChatAccumulator()
    acc.feed(chunk({"content": "a"}))
    payload = {
        "error": {
            "message": "Rate limit reached",
            "type": "requests",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    }
    with pytest.raises(APIError) as info:
        acc.feed(ev(payload))
    error = info.value
    assert str(error) == "Rate limit reached"
    assert error.message == "Rate limit reached"
    assert error.type == "requests"
    assert error.code == "rate_limit_exceeded"
    assert error.param is None
    assert error.event == "message"
    assert error.body == payload["error"]  # the server's object, as the openai package keeps it
    assert isinstance(error, ReactSSEError)


def test_chat_error_event_raises_api_error() -> None:
    acc = ChatAccumulator()
    with pytest.raises(APIError) as info:
        acc.feed(ev({"error": {"message": "Overloaded", "code": 529, "retry_in": 3}}, type="error"))
    assert info.value.message == "Overloaded"
    assert info.value.code == 529
    assert info.value.event == "error"
    assert info.value.body == {"message": "Overloaded", "code": 529, "retry_in": 3}  # extras kept


def test_chat_error_event_with_plain_text_data() -> None:
    with pytest.raises(APIError, match="upstream died") as info:
        ChatAccumulator().feed(ev("upstream died", type="error"))
    assert info.value.body == {"message": "upstream died"}


def test_chat_error_as_a_string() -> None:
    with pytest.raises(APIError, match="bad things") as info:
        ChatAccumulator().feed(ev({"error": "bad things"}))
    assert info.value.body == "bad things"


def test_chat_null_error_field_is_not_an_error() -> None:
    acc = ChatAccumulator()
    deltas = acc.feed(ev({"error": None, "choices": [{"index": 0, "delta": {"content": "ok"}}]}))
    assert deltas[0].content == "ok"


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"', "{"])
def test_chat_non_object_data_raises_remote_protocol_error(data: str) -> None:
    with pytest.raises(RemoteProtocolError, match="JSON"):
        ChatAccumulator().feed(ev(data))


# --------------------------------------------------------------------------- chat: properties


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=8), max_size=12),
    arguments=st.lists(st.text(max_size=6), max_size=8),
    with_done=st.booleans(),
)
def test_chat_assembly_is_the_concatenation(
    pieces: list[str], arguments: list[str], with_done: bool
) -> None:
    acc = ChatAccumulator()
    got: list[str] = []
    for piece in pieces:
        for delta in acc.feed(chunk({"content": piece})):
            got.append(delta.content or "")
    acc.feed(chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]}))
    for piece in arguments:
        acc.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    if with_done:
        acc.feed(DONE)
        result = acc.finish()
    else:
        with pytest.warns(IncompleteStreamWarning):
            result = acc.finish()
    assert "".join(got) == "".join(pieces) == result.content
    assert result.tool_calls == (ToolCall(0, "c", "f", "".join(arguments)),)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "choices",
                    "delta",
                    "content",
                    "index",
                    "tool_calls",
                    "function",
                    "arguments",
                    "usage",
                    "error",
                    "message",
                    "code",
                    "finish_reason",
                    "role",
                    "id",
                    "name",
                    "type",
                    "response",
                    "item",
                    "output_index",
                    "delta",
                    "status",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(_json.map(json.dumps) | st.text(max_size=10), max_size=6),
    types=st.lists(
        st.sampled_from(
            [
                "message",
                "error",
                "response.output_text.delta",
                "response.completed",
                "response.output_item.done",
                "response.function_call_arguments.delta",
                "response.failed",
            ]
        ),
        min_size=6,
        max_size=6,
    ),
)
def test_arbitrary_payloads_only_raise_reactsse_errors(
    payloads: list[str], types: list[str]
) -> None:
    # Foreign JSON of any shape must never crash with a KeyError/TypeError/AttributeError.
    for accumulator in (ChatAccumulator(), ResponsesAccumulator()):
        for data, event_type in zip(payloads, types, strict=False):
            with contextlib.suppress(APIError, RemoteProtocolError):
                accumulator.feed(ev(data, type=event_type))
        if accumulator.done:
            accumulator.finish()
        else:
            with pytest.warns(IncompleteStreamWarning):
                accumulator.finish()


# --------------------------------------------------------------------------- Responses API


def rev(type: str, **fields: Any) -> MessageEvent:
    return ev({"type": type, **fields}, type=type)


RESPONSE = {"id": "resp_1", "object": "response", "model": "m", "status": "in_progress"}
COMPLETED = {
    **RESPONSE,
    "status": "completed",
    "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
}


def test_responses_text_stream() -> None:
    acc = ResponsesAccumulator()
    events = [
        rev("response.created", response=RESPONSE, sequence_number=0),
        rev("response.in_progress", response=RESPONSE),
        rev("response.output_item.added", output_index=0, item={"type": "message", "id": "m1"}),
        rev("response.content_part.added", item_id="m1", output_index=0, content_index=0),
        rev(
            "response.output_text.delta", item_id="m1", output_index=0, content_index=0, delta="Hi"
        ),
        rev("response.output_text.delta", item_id="m1", output_index=0, content_index=0, delta="!"),
        rev("response.output_text.done", item_id="m1", output_index=0, text="Hi!"),
        rev("response.some_future_event", foo=1),
        rev("response.completed", response=COMPLETED),
    ]
    out = [item for event in events for item in acc.feed(event)]
    assert out[:2] == [ResponseTextDelta("Hi", "m1", 0, 0), ResponseTextDelta("!", "m1", 0, 0)]
    assert isinstance(out[2], ResponseCompleted)
    assert len(out) == 3
    result = acc.finish()
    assert out[2].result == result
    assert result.text == "Hi!"
    assert result.status == "completed"
    assert result.usage == Usage(5, 2, 7)
    assert result.id == "resp_1" and result.model == "m"
    assert result.done
    # After the terminal event nothing more is taken.
    assert acc.feed(rev("response.output_text.delta", delta="late")) == []


def test_responses_function_call() -> None:
    acc = ResponsesAccumulator()
    item = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "f",
        "arguments": "",
    }
    events = [
        rev("response.output_item.added", output_index=1, item=item),
        rev("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta='{"x"'),
        rev("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta=": 2}"),
        rev(
            "response.function_call_arguments.done",
            item_id="fc_1",
            output_index=1,
            arguments='{"x": 2}',
        ),
        rev("response.output_item.done", output_index=1, item={**item, "arguments": '{"x": 2}'}),
        rev("response.completed", response=COMPLETED),
    ]
    out = [item for event in events for item in acc.feed(event)]
    assert out[0] == ResponseFunctionCallArgumentsDelta(
        "fc_1", ToolCallDelta(1, "call_1", "f", '{"x"')
    )
    assert out[1] == ResponseFunctionCallArgumentsDelta(
        "fc_1", ToolCallDelta(1, None, None, ": 2}")
    )
    assert out[2] == ResponseFunctionCall("fc_1", ToolCall(1, "call_1", "f", '{"x": 2}'))
    assert acc.finish().tool_calls == (ToolCall(1, "call_1", "f", '{"x": 2}'),)


def test_responses_function_call_without_done_item_is_assembled_from_deltas() -> None:
    acc = ResponsesAccumulator()
    acc.feed(rev("response.function_call_arguments.delta", item_id="fc", output_index=0, delta="{"))
    acc.feed(rev("response.function_call_arguments.delta", item_id="fc", output_index=0, delta="}"))
    with pytest.warns(IncompleteStreamWarning, match="response.completed"):
        result = acc.finish()
    assert result.tool_calls == (ToolCall(0, "fc", "", "{}"),)
    assert not result.done


def test_responses_incomplete_is_terminal_with_reason() -> None:
    acc = ResponsesAccumulator()
    acc.feed(rev("response.output_text.delta", delta="cut"))
    response = {
        **RESPONSE,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    out = acc.feed(rev("response.incomplete", response=response))
    assert isinstance(out[0], ResponseCompleted)
    result = acc.finish()
    assert result.status == "incomplete"
    assert result.incomplete_reason == "max_output_tokens"
    assert result.text == "cut"


def test_responses_failed_raises_api_error() -> None:
    response = {
        **RESPONSE,
        "status": "failed",
        "error": {"code": "server_error", "message": "The model crashed"},
    }
    with pytest.raises(APIError) as info:
        ResponsesAccumulator().feed(rev("response.failed", response=response))
    assert info.value.message == "The model crashed"
    assert info.value.code == "server_error"
    assert info.value.event == "response.failed"


def test_responses_failed_without_error_object() -> None:
    with pytest.raises(APIError, match="failed"):
        ResponsesAccumulator().feed(rev("response.failed", response=RESPONSE))


def test_responses_error_event_raises_api_error() -> None:
    event = rev("error", code="rate_limit_exceeded", message="Slow down", param=None)
    with pytest.raises(APIError) as info:
        ResponsesAccumulator().feed(event)
    assert info.value.message == "Slow down"
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.event == "error"


def test_responses_unnamed_events_fall_back_on_the_type_field() -> None:
    # A server that sends only data: lines (type "message") still works.
    acc = ResponsesAccumulator()
    out = acc.feed(ev({"type": "response.output_text.delta", "delta": "z"}))
    assert out == [ResponseTextDelta("z", None, 0, 0)]
    with pytest.raises(APIError):
        acc.feed(ev({"type": "error", "message": "boom"}))


def test_responses_non_json_raises_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        ResponsesAccumulator().feed(ev("{", type="response.output_text.delta"))


@settings(max_examples=50, deadline=None)
@given(pieces=st.lists(st.text(max_size=8), max_size=10))
def test_responses_text_is_the_concatenation(pieces: list[str]) -> None:
    acc = ResponsesAccumulator()
    got = [
        item.text
        for piece in pieces
        for item in acc.feed(rev("response.output_text.delta", delta=piece))
        if isinstance(item, ResponseTextDelta)
    ]
    acc.feed(rev("response.completed", response=COMPLETED))
    assert "".join(got) == "".join(pieces) == acc.finish().text


# --------------------------------------------------------------------------- differential


_step = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=6)),
    st.tuples(st.just("call"), st.integers(0, 2), st.text(max_size=6)),
)


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(_step, max_size=15), finish=st.sampled_from(["stop", "tool_calls", "length"]))
def test_same_assembly_as_the_openai_sdk(steps: list[tuple[Any, ...]], finish: str) -> None:
    # The official SDK's own accumulator (ChatCompletionStreamState, used by
    # client.chat.completions.stream()) is the reference for what a stream assembles to.
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    ]
    calls = 0
    for step in steps:
        if step[0] == "text":
            delta: dict[str, Any] = {"content": step[1]}
        else:
            # The SDK indexes its calls by position, so new calls get indices 0, 1, 2 in order;
            # a step names an existing call to continue, or (past the last) starts a new one.
            index, piece = min(step[1], calls), step[2]
            call: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
            if index == calls:
                calls += 1
                call.update(id=f"call_{index}", type="function")
                call["function"]["name"] = f"tool_{index}"
            delta = {"tool_calls": [call]}
        chunks.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})

    state = ChatCompletionStreamState()
    acc = ChatAccumulator()
    for raw in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(raw))
        acc.feed(ev(raw))
    acc.feed(DONE)
    reference = state.current_completion_snapshot.choices[0]
    ours = acc.finish()
    assert ours.content == (reference.message.content or "")
    assert ours.finish_reason == reference.finish_reason
    expected_calls = [
        (c.id, c.function.name, c.function.arguments) for c in (reference.message.tool_calls or [])
    ]
    assert [(c.id, c.name, c.arguments) for c in ours.tool_calls] == expected_calls


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=8), max_size=10),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=30),
    crlf=st.booleans(),
)
def test_through_the_real_decoder_under_any_chunking(
    pieces: list[str], cuts: list[int], crlf: bool
) -> None:
    # Bytes as a server sends them, cut anywhere, through EventStreamDecoder, then accumulated.
    body = (
        b": keep-alive\n\n"
        + b"".join(
            encode_event(json.dumps({"choices": [{"index": 0, "delta": {"content": p}}]}))
            for p in pieces
        )
        + encode_event("[DONE]")
    )
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    decoder = EventStreamDecoder()
    acc = ChatAccumulator()
    position = 0
    for cut in [*cuts, len(body)]:
        for event in decoder.feed(body[position : position + cut]):
            acc.feed(event)
        position += cut
        if position >= len(body):
            break
    for event in decoder.close():
        acc.feed(event)
    assert acc.done
    assert acc.finish().content == "".join(pieces)


def test_chunks_joined_by_single_newline_servers_are_taken_one_by_one() -> None:
    # data: {A}\ndata: {B}\n\n (single-LF servers): one event whose data holds two documents.
    first = json.dumps({"choices": [{"index": 0, "delta": {"content": "a"}}]})
    second = json.dumps({"choices": [{"index": 0, "delta": {"content": "b"}}]})
    acc = ChatAccumulator()
    deltas = acc.feed(ev(f"{first}\n{second}\n[DONE]"))
    assert [d.content for d in deltas] == ["a", "b"]
    assert acc.done and acc.finish().content == "ab"


def test_multi_line_json_object_is_one_chunk() -> None:
    acc = ChatAccumulator()
    pretty = json.dumps({"choices": [{"index": 0, "delta": {"content": "x"}}]}, indent=2)
    assert [d.content for d in acc.feed(ev(pretty))] == ["x"]


def test_multi_line_garbage_still_raises() -> None:
    with pytest.raises(RemoteProtocolError, match="not JSON"):
        ChatAccumulator().feed(ev('{"choices": []}\nnot json'))
