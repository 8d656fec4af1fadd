"""Text completions (``POST /v1/completions``, a ``prompt``) end to end: the sans-IO
accumulator, the typed client in both styles, the built-in server, and the official ``openai``
package reading the built-in server's stream."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from _sse_test_servers import Exchange, ScriptedServer, sse_head
from hypothesis import given
from hypothesis import strategies as st

from reactsse.errors import APIError, IncompleteStreamWarning
from reactsse.loop import StreamSelectLoop
from reactsse.mock import MockApp, MockOptions
from reactsse.mock.text_completion import TextCompletionStream, parse_text_completion
from reactsse.openai import Completion, CompletionAccumulator, CompletionDelta, OpenAIClient
from reactsse.server import BackgroundServer
from reactsse.server.app import BodyReply
from reactsse.sse import MessageEvent, encode_event

PROMPT = "Tell me how Alice's adventure begins."


def _chunk(text: str, finish: str | None = None, index: int = 0) -> MessageEvent:
    choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
    chunk = {"id": "cmpl-1", "object": "text_completion", "model": "m", "choices": [choice]}
    data = json.dumps(chunk)
    return MessageEvent("message", data, "")


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(MockApp(MockOptions(rate=0))) as background:
        yield background


# -- the accumulator (sans-IO) -----------------------------------------------------------------


def test_accumulator_assembles_text_finish_and_usage() -> None:
    acc = CompletionAccumulator()
    assert acc.feed(_chunk("Once")) == [CompletionDelta(0, "Once", None, None, "cmpl-1", "m")]
    acc.feed(_chunk(" upon"))
    assert acc.feed(_chunk("", "length"))[0].finish_reason == "length"
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    (last,) = acc.feed(MessageEvent("message", json.dumps({"choices": [], "usage": usage}), ""))
    assert last.choice_index == -1 and last.usage is not None and last.usage.output_tokens == 2
    assert acc.feed(MessageEvent("message", "[DONE]", "")) == []
    assert acc.done
    result = acc.finish()
    assert (result.text, result.finish_reason, result.done) == ("Once upon", "length", True)
    assert acc.feed(_chunk("after the end")) == []


def test_accumulator_errors_and_missing_done() -> None:
    acc = CompletionAccumulator()
    error = {"error": {"message": "overloaded", "type": "server_error"}}
    with pytest.raises(APIError, match="overloaded"):
        acc.feed(MessageEvent("message", json.dumps(error), ""))
    acc = CompletionAccumulator()
    acc.feed(_chunk("x"))
    with pytest.warns(IncompleteStreamWarning):
        assert acc.finish().text == "x"


@given(st.lists(st.text(max_size=8), max_size=12), st.integers(0, 3))
def test_accumulator_joins_any_pieces(pieces: list[str], index: int) -> None:
    acc = CompletionAccumulator()
    for piece in pieces:
        acc.feed(_chunk(piece, index=index))
    acc.feed(MessageEvent("message", "[DONE]", ""))
    result = acc.finish()
    assert result.text == ("".join(pieces) if pieces else "")
    assert [c.index for c in result.choices] == ([index] if pieces else [])


# -- the client and the built-in server --------------------------------------------------------


@given(
    prompts=st.lists(st.text(max_size=30), min_size=2, max_size=4),
    rate=st.sampled_from([0.0, 7.0]),
    chunk_tokens=st.integers(1, 4),
    max_tokens=st.none() | st.integers(1, 20),
)
def test_several_prompts_stream_every_token_once_in_turns_and_paced(
    prompts: list[str], rate: float, chunk_tokens: int, max_tokens: int | None
) -> None:
    call = parse_text_completion({"model": "m", "prompt": prompts, "max_tokens": max_tokens})
    assert not isinstance(call, BodyReply)
    options = MockOptions(rate=rate, chunk_tokens=chunk_tokens)
    stream = TextCompletionStream(call, options, 1, 0)
    events = list(stream.events())
    accumulator = CompletionAccumulator()
    for event in events:
        accumulator.feed(MessageEvent("message", event.data, ""))
    result = accumulator.finish()
    answers = stream.answers()
    assert [c.text for c in result.choices] == ["".join(tokens) for tokens, _ in answers]
    assert [c.finish_reason for c in result.choices] == [finish for _, finish in answers]
    times = [event.at for event in events]
    assert times == sorted(times)  # due in order
    total = sum(len(tokens) for tokens, _ in answers)
    assert times[-1] == (total / rate if rate else 0.0)  # the last one when all tokens are
    whole = stream.whole()
    assert [c["text"] for c in whole["choices"]] == [c.text for c in result.choices]
    assert b"".join(e.data for e in stream.encoded()) == b"".join(
        encode_event(e.data) for e in events
    )


def test_iter_completion_streams_the_same_answer_as_chat(server: BackgroundServer) -> None:
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", read_timeout=20.0)
    with client.iter_completion(PROMPT, model="m") as deltas:
        pieces = [d.text for d in deltas if d.choice_index == 0]
    result = deltas.result
    assert isinstance(result, Completion)
    assert result.text == "".join(pieces) and len(pieces) > 10
    assert result.finish_reason == "stop" and result.done
    assert result.id is not None and result.id.startswith("cmpl-reactsse")
    assert result.usage is not None and result.usage.output_tokens == len(pieces) - 1
    with client.iter_chat(PROMPT, model="m") as chat:
        list(chat)
    assert chat.result is not None and chat.result.content == result.text


def test_start_completion_callbacks_and_max_tokens(server: BackgroundServer) -> None:
    loop = StreamSelectLoop()
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", loop=loop, read_timeout=20.0)
    seen: list[str] = []
    done: list[Completion] = []
    client.start_completion(
        PROMPT,
        model="m",
        on_delta=lambda d: seen.append(d.text),
        on_done=done.append,
        on_error=lambda e: pytest.fail(str(e)),
        extra={"max_tokens": 3},
    )
    loop.run()
    loop.close()
    (result,) = done
    assert result.finish_reason == "length" and result.text == "".join(seen)
    assert result.usage is not None and result.usage.output_tokens == 3


@pytest.mark.parametrize("prompt", [[], [[]], [1, "a"], [[1], "a"], [True], 42, None])
def test_a_prompt_of_no_form_openai_takes_is_a_400_from_the_mock(
    server: BackgroundServer, prompt: Any
) -> None:
    # Sent raw: the client refuses these forms before sending (tested below).
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    body = json.dumps({"model": "m", "prompt": prompt, "stream": True})
    connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    error = json.loads(response.read())["error"]
    connection.close()
    assert response.status == 400
    assert error["param"] == "prompt"
    assert error["message"].startswith("Invalid 'prompt': expected a string, an array")


@pytest.mark.parametrize(
    ("prompt", "error", "says"),
    [
        (42, TypeError, "prompt must be a string, a list of strings, a list of token ids"),
        (b"hi", TypeError, "not bytes"),  # bytes are not token ids
        ({"a": 1}, TypeError, "not dict"),
        ([], ValueError, "prompt is empty"),
        ([[]], ValueError, "prompt[0] is empty"),
        ([1, "a"], TypeError, "prompt[1] is 'a', but prompt[0] makes prompt a list of token ids"),
        (["a", b"b"], TypeError, "prompt[1] is b'b', but prompt[0] makes prompt a list of str"),
        ([1, True], TypeError, "prompt[1] is True"),
        ([True], TypeError, "prompt[0] is True: a prompt list holds strings, token ids"),
        ([1.5], TypeError, "prompt[0] is 1.5"),
        ([{"a": 1}], TypeError, "prompt[0] is {'a': 1}"),
        ([[1], 2], TypeError, "prompt[1] must be a list of token ids (ints), not int"),
        ([[1], ["a"]], TypeError, "prompt[1][0] is 'a', not a token id"),
    ],
)
def test_a_prompt_of_no_form_the_endpoint_takes_fails_at_once_saying_why(
    prompt: Any, error: type[Exception], says: str
) -> None:
    client = OpenAIClient(base_url="http://127.0.0.1:9/v1", api_key="")
    with pytest.raises(error) as info:
        client.iter_completion(prompt, model="m")
    assert says in str(info.value)


@pytest.mark.parametrize("usage", [True, False])
def test_several_prompts_get_a_choice_each_from_the_mock(
    server: BackgroundServer, usage: bool
) -> None:
    prompts = [PROMPT, "Who stole the tarts?", "Why is a raven like a writing-desk?"]
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", read_timeout=20.0)
    with client.iter_completion(prompts, model="m", include_usage=usage) as deltas:
        seen = list(deltas)
    result = deltas.result
    assert result is not None and result.done
    # Each choice answers its own prompt: the answer one prompt alone gets.
    for index, prompt in enumerate(prompts):
        with client.iter_completion(prompt, model="m") as alone:
            list(alone)
        assert alone.result is not None
        assert result.choices[index].index == index
        assert result.choices[index].text == alone.result.text
        assert result.choices[index].finish_reason == "stop"
    # Their chunks take turns: choice 0, 1, 2, 0, 1, 2 ... while all have tokens left.
    indices = [d.choice_index for d in seen if d.text]
    assert indices[:6] == [0, 1, 2, 0, 1, 2]
    if usage:
        assert result.usage is not None
        assert result.usage.output_tokens == len(indices)
    else:
        assert result.usage is None


def test_token_id_prompts_are_answered_and_counted(server: BackgroundServer) -> None:
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", read_timeout=20.0)
    with client.iter_completion([[1, 2, 3], [4, 5]], model="m", extra={"max_tokens": 4}) as d:
        list(d)
    result = d.result
    assert result is not None and [c.finish_reason for c in result.choices] == ["length"] * 2
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 8)
    with client.iter_completion([7, 8, 9], model="m") as one:
        list(one)
    assert one.result is not None and len(one.result.choices) == 1
    assert one.result.usage is not None and one.result.usage.input_tokens == 3


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4),
    max_leaves=12,
)


@given(prompt=_JSON)
def test_any_json_prompt_is_a_call_or_a_400_never_an_exception(prompt: Any) -> None:
    call = parse_text_completion({"model": "m", "prompt": prompt})
    if isinstance(call, BodyReply):
        assert call.status == 400
        return
    if isinstance(prompt, str):
        assert call.prompts == (prompt,)
    elif all(isinstance(item, int) for item in prompt):
        assert len(call.prompts) == 1 and call.prompt_tokens == len(prompt)
    else:
        assert len(call.prompts) == len(prompt)


@pytest.mark.parametrize(
    ("prompt", "sent"),
    [
        (("Say A", "Say B"), ["Say A", "Say B"]),  # several prompts: one choice each
        ((15, 16, 17), [15, 16, 17]),  # token ids
        ([(15, 16), (17,)], [[15, 16], [17]]),  # a list of token id lists
        (iter([15, 16]), [15, 16]),  # any iterable, read once, as the openai package takes them
    ],
    ids=["prompts", "tokens", "token-lists", "iterator"],
)
def test_every_prompt_form_is_sent_as_json_and_its_choices_assembled(
    prompt: Any, sent: list[Any]
) -> None:
    chunks = [_chunk("A", index=0), _chunk("B", index=1), _chunk("a", "stop", 0)]
    chunks.append(_chunk("b", "length", 1))

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        for event in chunks:
            ex.send_chunk(f"data: {event.data}\n\n".encode())
        ex.send_chunk(b"data: [DONE]\n\n")
        ex.end_chunks()

    with ScriptedServer(handler) as srv:
        client = OpenAIClient(base_url=srv.url("/v1"), api_key="", read_timeout=20.0)
        with client.iter_completion(prompt, model="m") as deltas:
            indices = [d.choice_index for d in deltas]
    assert json.loads(srv.requests[0].body)["prompt"] == sent
    assert indices == [0, 1, 0, 1]
    result = deltas.result
    assert result is not None and result.done
    assert [(c.index, c.text, c.finish_reason) for c in result.choices] == [
        (0, "Aa", "stop"),
        (1, "Bb", "length"),
    ]


# -- the official openai package reads the built-in server -------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [PROMPT, [PROMPT, "Who stole the tarts?"]],  # two prompts with different answers
    ids=["one-prompt", "two-prompts"],
)
def test_openai_package_reads_the_same_texts_as_our_client(
    server: BackgroundServer, prompt: str | list[str]
) -> None:
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0)
    texts = [""] * (1 if isinstance(prompt, str) else len(prompt))
    for chunk in sdk.completions.create(model="m", prompt=prompt, stream=True):
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    whole = sdk.completions.create(model="m", prompt=prompt)
    sdk.close()
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", read_timeout=20.0)
    with client.iter_completion(prompt, model="m") as deltas:
        list(deltas)
    assert deltas.result is not None
    assert texts == [c.text for c in deltas.result.choices] == [c.text for c in whole.choices]
    assert all(texts) and len(set(texts)) == len(texts)
    assert {c.finish_reason for c in whole.choices} == {"stop"}
