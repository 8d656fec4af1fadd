"""Hostile payloads and redirects against the client: deeply nested JSON, unsupported schemes.

Each server on 127.0.0.1 misbehaves in one way; each case states the outcome it expects: the
exception class and message through the Python API, the exit code and the single ``reactsse:``
line of the CLI (a subprocess, bounded in time), never a traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from _cli_helpers import run as run_cli
from _sse_test_servers import Exchange, ScriptedServer, sse_head

from reactsse import OpenAIClient
from reactsse.errors import APIError, HTTPStatusError, ReactSSEError, RemoteProtocolError
from reactsse.eventsource import EventSource
from reactsse.loop import StreamSelectLoop

DEPTH = 100_000
NESTED = "[" * DEPTH + "]" * DEPTH
MESSAGES = [{"role": "user", "content": "hi"}]


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reactsse: ")
    assert text in lines[0], lines[0]


def stream_of(data: str, event: str | None = None) -> Callable[[Exchange], None]:
    def handler(exchange: Exchange) -> None:
        exchange.send_head(200, sse_head(chunked=False))
        prefix = f"event: {event}\n" if event else ""
        exchange.send(f"{prefix}data: {data}\n\n".encode())

    return handler


def error_body_of(body: str) -> Callable[[Exchange], None]:
    def handler(exchange: Exchange) -> None:
        encoded = body.encode()
        exchange.send_head(
            400, [("Content-Type", "application/json"), ("Content-Length", str(len(encoded)))]
        )
        exchange.send(encoded)

    return handler


# -- JSON nested 100,000 deep: a ReactSSEError, never a RecursionError ------------------------


def test_nested_json_in_an_event_is_a_protocol_error() -> None:
    with ScriptedServer(stream_of(NESTED)) as server:
        client = OpenAIClient(api_key="k", base_url=server.url("/v1"), read_timeout=5)
        with pytest.raises(RemoteProtocolError) as info:
            for _ in client.iter_chat(MESSAGES, model="m"):
                pass
    assert "carries data that is not JSON (nested too deeply)" in str(info.value)
    assert len(str(info.value)) < 400


def test_nested_json_in_an_error_event_is_an_api_error() -> None:
    with ScriptedServer(stream_of(NESTED, event="error")) as server:
        client = OpenAIClient(api_key="k", base_url=server.url("/v1"), read_timeout=5)
        with pytest.raises(APIError):
            for _ in client.iter_chat(MESSAGES, model="m"):
                pass


def test_nested_json_in_an_error_body_is_a_status_error() -> None:
    with ScriptedServer(error_body_of(NESTED)) as server:
        client = OpenAIClient(api_key="k", base_url=server.url("/v1"), read_timeout=5)
        with pytest.raises(HTTPStatusError) as info:
            for _ in client.iter_chat(MESSAGES, model="m"):
                pass
    assert info.value.status == 400
    assert str(info.value).startswith("HTTP 400")


@pytest.mark.parametrize(
    ("handler", "code", "text"),
    [
        (stream_of(NESTED), 1, "RemoteProtocolError: event 'message' carries data that is not"),
        (error_body_of(NESTED), 4, "HTTP error: HTTP 400"),
    ],
    ids=["event-data", "error-body"],
)
def test_nested_json_through_chat_is_one_line(
    handler: Callable[[Exchange], None], code: int, text: str
) -> None:
    with ScriptedServer(handler) as server:
        result = run_cli("chat", "hi", "--base-url", server.url("/v1"))
    assert_one_line(result, code, text)


def test_nested_json_through_get_is_printed_as_data() -> None:
    # `reactsse get` does not parse event data: the event arrives as it was sent.
    with ScriptedServer(stream_of(NESTED)) as server:
        result = run_cli("get", server.url("/"), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert NESTED in result.stdout


# -- a redirect to a scheme we cannot request: the server's fault, not the user's -----------


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "http://[::1"]
)
def test_redirect_to_an_unsupported_url_is_a_protocol_error(location: str) -> None:
    def handler(exchange: Exchange) -> None:
        exchange.send_head(302, [("Location", location), ("Content-Length", "0")])

    with ScriptedServer(handler) as server:
        loop = StreamSelectLoop()
        source = EventSource(server.url("/"), loop=loop, reconnect=False, connect_timeout=5)
        errors: list[ReactSSEError] = []
        source.on("error", errors.append)
        loop.run()
        result = run_cli("get", server.url("/"))
    assert [type(error) for error in errors] == [RemoteProtocolError]
    assert "redirect 302 to a URL that cannot be requested" in str(errors[0])
    assert_one_line(result, 1, "redirect 302 to a URL that cannot be requested")


def test_user_url_with_an_unsupported_scheme_stays_a_usage_error() -> None:
    result = run_cli("get", "file:///etc/passwd")
    assert_one_line(result, 2, "only http:// and https:// are supported")
