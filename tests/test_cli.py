"""The ``reactsse`` command line, end to end: ``sys.executable -m reactsse ...`` as a subprocess.

Servers are the built-in one (``BackgroundServer``) or scripted raw-socket ones, on 127.0.0.1.
Every subprocess has a timeout; expected failures must print one line and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trustme
from _cli_helpers import run, stop
from _connector_helpers import refusing_port
from _sse_test_servers import Exchange, ScriptedServer, sse_head

from reactsse.mock import MockApp, MockOptions
from reactsse.server import BackgroundServer, ServerOptions

KEY = "sk-cli-test-key-ABCDEF123456"
TOOLS = json.dumps(
    [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reactsse: ")
    assert text in lines[0]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as bg:
        yield bg


# --------------------------------------------------------------------------- demo


def test_demo_streams_from_the_builtin_server() -> None:
    result = run("demo", "--rate", "0")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) > 50
    assert result.stdout.endswith("\n")
    assert "built-in OpenAI-compatible server on http://127.0.0.1:" in result.stderr
    assert "finish_reason=stop" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_responses_api_with_trace() -> None:
    result = run("demo", "--rate", "0", "--responses", "--trace")
    assert result.returncode == 0, result.stderr
    assert "status=completed" in result.stderr
    for layer in (
        "* conn   connecting to 127.0.0.1:",
        "> http   POST /v1/responses",
        "< wire   read ",
        "< http   HTTP/1.1 200",
        "< http   chunk-size line b'",
        "| sse    'event: response.output_text.delta'",
        "| sse    '' (empty line: dispatch)",
        "= event  'response.output_text.delta', ",
        "= openai ResponseTextDelta(",
    ):
        assert layer in result.stderr, layer


def test_demo_is_paced_by_the_rate() -> None:
    result = run("demo", "--rate", "200")
    assert result.returncode == 0, result.stderr
    match = re.search(r"-- (\d+) deltas in ([\d.]+) s", result.stderr)
    assert match is not None, result.stderr
    deltas, elapsed = int(match[1]), float(match[2])
    # N tokens at 200 tokens/s take at least (N - 1) / 200 s (loose: timers may fire late only).
    assert deltas > 20
    assert elapsed >= (deltas - 1) / 200 * 0.9


# --------------------------------------------------------------------------- get


def test_get_text(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=3&interval=0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "event 1\nevent 2\nevent 3\n"


def test_get_jsonl_is_the_documented_interface(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=2&interval=0", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records == [
        {"type": "message", "data": "event 1", "last_event_id": "1"},
        {"type": "message", "data": "event 2", "last_event_id": "2"},
    ]
    assert list(records[0]) == ["type", "data", "last_event_id"]


def test_get_raw_shows_the_lines(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=2&interval=0", "--format", "raw")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("id: 1\nretry: ")
    assert "data: event 1\n\n" in result.stdout
    assert result.stdout.endswith("id: 2\ndata: event 2\n\n")


def test_get_max_events_and_last_event_id(server: BackgroundServer) -> None:
    result = run(
        "get", f"{server.url}/events?interval=0", "--max-events", "2", "--last-event-id", "41"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "event 42\nevent 43\n"


def test_get_reconnect_resumes_with_last_event_id(server: BackgroundServer) -> None:
    url = f"{server.url}/events?count=6&interval=0&drop_every=2&retry=10"
    result = run("get", url, "--reconnect", "--max-events", "6", "--trace")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(f"event {n}\n" for n in range(1, 7))
    assert result.stderr.count("* source reconnecting in") == 2
    assert "> http   Last-Event-ID: 4" in result.stderr
    one_shot = run("get", url)
    assert one_shot.returncode == 3  # without --reconnect the dropped connection is an error
    assert one_shot.stdout == "event 1\nevent 2\n"


def test_get_post_json_named_events(server: BackgroundServer) -> None:
    body = json.dumps({"model": "m", "input": "hi", "stream": True, "max_output_tokens": 2})
    result = run("get", f"{server.url}/v1/responses", "-d", body, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] == "response.incomplete"


def test_get_data_from_file_and_header(server: BackgroundServer, tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "body.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}, file
        )
    result = run(
        "get",
        f"{server.url}/v1/chat/completions",
        "-d",
        f"@{path}",
        "-H",
        "X-Reactsse-Fault: status=503",
    )
    assert_one_line_error(result, 4, "HTTP error: HTTP 503")


def test_get_bad_header_is_a_usage_error(server: BackgroundServer) -> None:
    assert_one_line_error(run("get", server.url + "/events", "-H", "no colon"), 2, "-H wants")


def test_get_refused_connection() -> None:
    with refusing_port() as port:
        result = run("get", f"http://127.0.0.1:{port}/events")
    assert_one_line_error(result, 3, "network error: cannot connect")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://", "http://127.0.0.1:99999/"])
def test_get_bad_url(url: str) -> None:
    assert_one_line_error(run("get", url), 2, "invalid request")


def test_get_404(server: BackgroundServer) -> None:
    assert_one_line_error(run("get", f"{server.url}/nope"), 4, "404")


def test_get_tls_failure_is_one_line() -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())

    with ScriptedServer(handler, ssl_context=context) as srv:
        result = run("get", srv.url("/events"))
    assert_one_line_error(result, 3, "TLS error")


def test_get_trace_redacts_authorization(server: BackgroundServer) -> None:
    result = run(
        "get",
        f"{server.url}/events?count=1&interval=0",
        "--trace",
        "-H",
        f"Authorization: Bearer {KEY}",
    )
    assert result.returncode == 0, result.stderr
    assert "> http   Authorization: <redacted>" in result.stderr
    assert KEY not in result.stderr and KEY not in result.stdout
    assert "| sse    'data: event 1'\n| sse    '' (empty line: dispatch)\n" in result.stderr
    assert "= event  'message', 7 chars of data, last_event_id '1'" in result.stderr


@pytest.mark.usefixtures("sigint_default")
def test_get_ctrl_c_exits_130(server: BackgroundServer) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "get", f"{server.url}/events?interval=0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "event 1\n"  # it is streaming
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "interrupted" in stderr


# --------------------------------------------------------------------------- chat


def test_chat_against_the_mock(server: BackgroundServer) -> None:
    result = run("chat", "Hello", "--base-url", server.url + "/v1", "--system", "Be brief")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) > 20
    assert "finish_reason=stop" in result.stderr


def test_chat_with_a_tool_call(server: BackgroundServer) -> None:
    result = run("chat", "Weather in Paris?", "--base-url", server.url + "/v1", "--tools", TOOLS)
    assert result.returncode == 0, result.stderr
    assert "[tool call call_" in result.stdout
    assert "get_weather({" in result.stdout
    assert "finish_reason=tool_calls" in result.stderr


def test_chat_base_url_and_key_from_the_environment() -> None:
    with BackgroundServer(
        MockApp(MockOptions(api_key=KEY)), options=ServerOptions(keepalive_interval=None)
    ) as bg:
        ok = run(
            "chat",
            "hi",
            "--max-tokens",
            "3",
            env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": bg.url + "/v1"},
        )
        wrong = run(
            "chat",
            "hi",
            "--trace",
            env={"OPENAI_API_KEY": "sk-WRONG-0000", "OPENAI_BASE_URL": bg.url + "/v1"},
        )
    assert ok.returncode == 0, ok.stderr
    assert "finish_reason=length" in ok.stderr
    # 401: the server's own message, in one line after the trace; the key nowhere.
    assert wrong.returncode == 4
    assert "Traceback" not in wrong.stderr
    last = wrong.stderr.strip().splitlines()[-1]
    assert last.startswith("reactsse: HTTP error: HTTP 401")
    assert "Incorrect API key" in last
    assert "sk-WRONG-0000" not in wrong.stderr
    assert "Authorization: <redacted>" in wrong.stderr


def test_chat_error_mid_stream_exits_5() -> None:
    with BackgroundServer(
        MockApp(MockOptions(fault="error-after=7")), options=ServerOptions(keepalive_interval=None)
    ) as bg:
        result = run("chat", "hi", "--base-url", bg.url + "/v1")
        responses = run("chat", "hi", "--base-url", bg.url + "/v1", "--responses")
    for outcome in (result, responses):
        assert outcome.returncode == 5, outcome.stderr
        assert "Traceback" not in outcome.stderr
        assert (
            outcome.stderr.strip()
            .splitlines()[-1]
            .startswith("reactsse: the server reported an error")
        )
        assert outcome.stdout  # the tokens before the error were printed


def test_chat_extra_header_reaches_the_server(server: BackgroundServer) -> None:
    result = run(
        "chat", "hi", "--base-url", server.url + "/v1", "-H", "X-Reactsse-Fault: status=429"
    )
    assert_one_line_error(result, 4, "HTTP 429")


def test_chat_read_timeout(server: BackgroundServer) -> None:
    result = run(
        "chat", "hi", "--base-url", server.url + "/v1", "--read-timeout", "0.3",
        "-H", "X-Reactsse-Fault: stall-after=3",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout  # the tokens before the stall
    assert result.stderr.strip().splitlines()[-1].startswith("reactsse: timeout: no data for 0.3 s")


def test_chat_refused_connection() -> None:
    with refusing_port() as port:
        result = run("chat", "hi", "--base-url", f"http://127.0.0.1:{port}/v1")
    assert_one_line_error(result, 3, "cannot connect")


def test_chat_bad_base_url() -> None:
    assert_one_line_error(run("chat", "hi", "--base-url", "nonsense"), 2, "invalid request")


def test_chat_stream_without_done_prints_a_warning() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        payload = {"choices": [{"index": 0, "delta": {"content": "partial"}}]}
        ex.send_chunk(f"data: {json.dumps(payload)}\n\n".encode())
        ex.end_chunks()

    with ScriptedServer(handler) as srv:
        result = run("chat", "hi", "--base-url", srv.url("/v1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "partial\n"
    assert (
        "reactsse: warning: the chat completion stream ended without data: [DONE]" in result.stderr
    )


# --------------------------------------------------------------------------- serve


@pytest.mark.usefixtures("sigint_default")
def test_serve_runs_until_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "serve", "--port", "0", "--rate", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("reactsse server listening on http://127.0.0.1:")
        url = line.split()[-1]
        got = run("get", f"{url}/events?count=2&interval=0")
        assert got.stdout == "event 1\nevent 2\n"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert "Traceback" not in stderr


def test_serve_port_in_use_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert_one_line_error(result, 1, "in use")


def test_version_and_usage() -> None:
    assert run("--version").stdout.startswith("reactsse ")
    bad = run("frobnicate")
    assert bad.returncode == 2
    assert "usage: reactsse" in bad.stderr


def test_get_into_a_closed_pipe_ends_quietly(server: BackgroundServer) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "get", f"{server.url}/events?interval=0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == "event 1\n"
        process.stdout.close()  # like `| head -1`
        stderr = process.stderr.read()
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == 0
    assert "Traceback" not in stderr


@pytest.mark.usefixtures("sigint_default")
def test_demo_ctrl_c_releases_everything() -> None:
    # -W error: an unclosed socket (ResourceWarning) at exit would show up on stderr.
    process = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "reactsse", "demo", "--rate", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.read(2)  # tokens are arriving
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert stderr.endswith("reactsse: interrupted\n")
    assert "Warning" not in stderr and "Traceback" not in stderr


# --------------------------------------------------------------------------- the relay and its page


def _start_server(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("reactsse server listening on http://127.0.0.1:"), line
    return process, line.split()[-1]


@pytest.mark.usefixtures("sigint_default")
def test_demo_browser_serves_the_page_and_the_relay() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process, url = _start_server("demo", "--browser", "--rate", "0", env=env)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"page: {url}/    relay: {url}/chat?prompt=..."
        import urllib.request

        with urllib.request.urlopen(url + "/", timeout=10) as response:
            assert "<title>reactsse" in response.read().decode()
        relayed = run("get", url + "/chat?prompt=hello", "--format", "jsonl")
        lines = [json.loads(line) for line in relayed.stdout.splitlines()]
        assert lines[-1]["type"] == "done" and {x["type"] for x in lines[:-1]} == {"token"}
    finally:
        _, stderr = stop(process, signal.SIGINT)
    assert process.returncode == 130 and "Traceback" not in stderr


@pytest.mark.usefixtures("sigint_default")
def test_serve_upstream_relays_with_the_key_from_the_environment() -> None:
    key = "sk-from-the-environment-0123456789"
    upstream = BackgroundServer(MockApp(MockOptions(api_key=key)))
    with upstream:
        env = {**os.environ, "OPENAI_API_KEY": key}
        process, url = _start_server(
            "serve", "--port", "0", "--upstream", upstream.url + "/v1", env=env
        )
        try:
            relayed = run("get", url + "/chat?prompt=hello", "--format", "raw")
        finally:
            stdout, stderr = stop(process, signal.SIGINT)
    assert "event: done" in relayed.stdout and "event: error" not in relayed.stdout
    assert f"relaying {upstream.url}/v1" in stdout
    assert key not in relayed.stdout + stdout + stderr
