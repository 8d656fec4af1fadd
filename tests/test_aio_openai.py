"""``reactsse.aio.AsyncOpenAIClient`` on asyncio and trio, against the built-in server.

The same typed deltas, results and errors as ``OpenAIClient``'s blocking iterators, and the same
text as the official ``openai`` package's ``AsyncOpenAI`` parses from the same server.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest

from reactsse.aio import AsyncOpenAIClient
from reactsse.errors import APIError, ConnectionClosed, HTTPStatusError
from reactsse.eventsource import TextTrace
from reactsse.mock import MockApp, MockOptions
from reactsse.openai import (
    ChatCompletion,
    ChatDelta,
    Completion,
    CompletionDelta,
    OpenAIClient,
    ResponseCompleted,
    ResponseResult,
    ResponseStreamEvent,
    ResponseTextDelta,
)
from reactsse.server import BackgroundServer, ServerOptions

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdef-SECRET"
BOUND = 20.0
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(
        MockApp(MockOptions(api_key=KEY)), options=ServerOptions(keepalive_interval=None)
    ) as bg:
        yield bg


def client_for(server: BackgroundServer, **options: Any) -> AsyncOpenAIClient:
    return AsyncOpenAIClient(base_url=server.url + "/v1", api_key=KEY, **options)


def _text(delta: ChatDelta | CompletionDelta) -> str:
    return (delta.content or "") if isinstance(delta, ChatDelta) else delta.text


@pytest.mark.parametrize("method", ["iter_chat", "iter_completion"])
async def test_the_deltas_and_result_are_the_blocking_clients(
    server: BackgroundServer, method: str
) -> None:
    with anyio.fail_after(BOUND):
        async with getattr(client_for(server), method)("Tell me about Alice", model="m") as stream:
            deltas: list[ChatDelta | CompletionDelta] = [d async for d in stream]
    result = stream.result
    assert isinstance(result, ChatCompletion if method == "iter_chat" else Completion)
    blocking_client = OpenAIClient(base_url=server.url + "/v1", api_key=KEY)
    with getattr(blocking_client, method)("Tell me about Alice", model="m") as blocking:
        expected = list(blocking)
    # The same stream, the same typed deltas (ids and timestamps aside: a new request each).
    assert [type(d) for d in deltas] == [type(d) for d in expected]
    assert [_text(d) for d in deltas] == [_text(d) for d in expected]
    text = result.content if isinstance(result, ChatCompletion) else result.text
    assert text == "".join(_text(d) for d in deltas) and len(text) > 20
    assert result.done and result.finish_reason == "stop"
    assert result.usage is not None and result.usage.output_tokens == sum(
        1 for d in deltas if _text(d)
    )


async def test_chat_tool_call_is_assembled(server: BackgroundServer) -> None:
    with anyio.fail_after(BOUND):
        async with client_for(server).iter_chat(
            [{"role": "user", "content": "Weather in Paris?"}], model="m", tools=[WEATHER_TOOL]
        ) as stream:
            deltas = [d async for d in stream]
    fragments = [f for d in deltas for f in d.tool_calls]
    result = stream.result
    assert result is not None and result.finish_reason == "tool_calls"
    (call,) = result.tool_calls
    assert call.name == "get_weather"
    assert call.arguments == "".join(f.arguments for f in fragments)


async def test_responses_text_and_result(server: BackgroundServer) -> None:
    with anyio.fail_after(BOUND):
        async with client_for(server).iter_responses(
            "Tell me about Alice", model="m", instructions="Be brief"
        ) as stream:
            events: list[ResponseStreamEvent] = [e async for e in stream]
    result = stream.result
    assert isinstance(result, ResponseResult)
    text = "".join(e.text for e in events if isinstance(e, ResponseTextDelta))
    assert text == result.text and len(text) > 20
    assert isinstance(events[-1], ResponseCompleted)
    assert result.status == "completed"


async def test_errors_are_the_blocking_clients(server: BackgroundServer) -> None:
    def faulty(fault: str) -> AsyncOpenAIClient:
        return client_for(server, headers={"X-Reactsse-Fault": fault})

    received = []
    with anyio.fail_after(BOUND), pytest.raises(APIError):
        async with faulty("error-after=3").iter_chat("hi", model="m") as stream:
            async for delta in stream:
                received.append(delta)
    assert 1 <= len(received) <= 3 and stream.result is None
    with anyio.fail_after(BOUND), pytest.raises(ConnectionClosed):
        async with faulty("disconnect-after=2").iter_chat("hi", model="m") as stream:
            async for _ in stream:
                pass
    with anyio.fail_after(BOUND), pytest.raises(APIError):
        async with faulty("error-after=4").iter_responses("hi", model="m") as events:
            async for _ in events:
                pass


async def test_401_carries_the_server_message_and_never_the_key(server: BackgroundServer) -> None:
    wrong = "sk-wrong-key-987654321"
    trace = io.StringIO()
    client = AsyncOpenAIClient(base_url=server.url + "/v1", api_key=wrong, trace=TextTrace(trace))
    with anyio.fail_after(BOUND), pytest.raises(HTTPStatusError) as info:
        async with client.iter_chat("hi", model="m") as stream:
            async for _ in stream:
                pass
    assert info.value.status == 401 and "Incorrect API key" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(client), trace.getvalue()):
        assert wrong not in text


async def test_breaking_out_closes_the_stream(server: BackgroundServer) -> None:
    with anyio.fail_after(BOUND):
        async with client_for(server).iter_chat("Tell me about Alice", model="m") as stream:
            async for _delta in stream:
                break
    assert stream.result is None
    with pytest.raises(RuntimeError):
        client_for(server).iter_chat("hi", model="m").__aiter__()


# On trio the SDK leaves async generators of its own (httpcore's, httpx's, its SSE decoder's) to
# the garbage collector, which trio reports as unraisable ResourceWarnings. Those four, by name,
# are the SDK's and are ignored; any other unraisable warning (one of ours) still fails the test.
_SDK_GENERATORS = "|".join(
    (
        r"HTTP11ConnectionByteStream\.__aiter__",
        r"Response\.aiter_bytes",
        r"SSEDecoder\.aiter_bytes",
        r"AsyncStream\._iter_events",
    )
)


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <async_generator object ("
    + _SDK_GENERATORS
    + ")"
    + ":pytest.PytestUnraisableExceptionWarning"
)
async def test_the_official_async_client_parses_the_same_text(server: BackgroundServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    messages: Any = [{"role": "user", "content": "Tell me about Alice"}]
    with anyio.fail_after(BOUND):
        pieces = []
        async with await sdk.chat.completions.create(
            model="m", messages=messages, stream=True
        ) as chunks:
            async for chunk in chunks:
                if chunk.choices:
                    pieces.append(chunk.choices[0].delta.content or "")
        deltas = []
        async with await sdk.responses.create(model="m", input="Tell me", stream=True) as events:
            async for event in events:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
        await sdk.close()
        client = client_for(server)
        async with client.iter_chat(messages, model="m") as ours:
            async for _ in ours:
                pass
        async with client.iter_responses("Tell me", model="m") as theirs:
            async for _ in theirs:
                pass
    assert ours.result is not None and ours.result.content == "".join(pieces)
    assert theirs.result is not None and theirs.result.text == "".join(deltas)
