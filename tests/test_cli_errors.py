"""One clear line per expected failure, with a hint where the fix is obvious, and validation.

Each test runs ``python -m reactsse`` as a subprocess (with a timeout) against the built-in
server or a scripted one on 127.0.0.1 and checks the exact exit code and that stderr is one line.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from _cli_helpers import run
from _connector_helpers import refusing_port
from _sse_test_servers import Exchange, ScriptedServer

from reactsse.cli import build_parser
from reactsse.cli.hints import body_excerpt
from reactsse.server import BackgroundServer, ServerOptions


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one stderr line of an expected failure with exit ``code``."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reactsse: ")
    return lines[0]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as bg:
        yield bg


HTML_404 = (
    "<!DOCTYPE HTML>\n<html lang='en'>\n  <head>\n    <style>body { color: red }</style>\n"
    "    <script>var x = '<b>';</script>\n  </head>\n  <body>\n    <h1>Not &amp; found</h1>\n"
    "    <p>The page\n\n   you asked for is gone.</p>\n"
    + "    <p>filler text</p>\n" * 40
    + "  </body>\n</html>\n"
)


def _answer(status: int, content_type: str, body: str) -> ScriptedServer:
    data = body.encode()

    def handler(exchange: Exchange) -> None:
        exchange.send_head(
            status, [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        )
        exchange.send(data)

    return ScriptedServer(handler)


# --------------------------------------------------------------------------- HTTP error bodies


def test_a_404_html_page_is_one_short_line_of_text() -> None:
    with _answer(404, "text/html", HTML_404) as srv:
        result = run("get", srv.url("/missing"))
    line = one_error_line(result, 4)
    assert line.startswith(f"reactsse: HTTP error: HTTP 404 Not Found from {srv.url('/missing')}: ")
    assert "Not & found The page you asked for is gone." in line
    assert "<" not in line and "color: red" not in line and "var x" not in line
    excerpt = line.split(": ", 3)[3]
    assert len(excerpt) <= 200 and excerpt.endswith("…")


def test_an_openai_json_error_body_shows_its_message() -> None:
    body = json.dumps({"error": {"message": "No such route.", "type": "invalid_request_error"}})
    with _answer(404, "application/json", body) as srv:
        result = run("get", srv.url("/v2"))
    line = one_error_line(result, 4)
    assert line.endswith(f"from {srv.url('/v2')}: No such route.")


def test_body_excerpt_rules() -> None:
    assert body_excerpt('{"error": {"message": "bad key"}}') == "bad key"
    assert body_excerpt("  plain\n\n text  ") == "plain text"
    assert body_excerpt("<p>a &lt; b</p><!-- hidden -->") == "a < b"
    assert len(body_excerpt("x" * 1000)) == 200
    assert body_excerpt("") == ""


def test_a_bad_header_name_is_said_once_as_text(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=1", "-H", "Bad Name: x")
    line = one_error_line(result, 2)
    assert line == (
        "reactsse: usage error: -H: invalid header name 'Bad Name' "
        "(letters, digits and !#$%&'*+-.^_`|~ only)"
    )


# --------------------------------------------------------------------------- hints


def test_https_to_a_plain_http_port_hints_http(server: BackgroundServer) -> None:
    url = f"https://127.0.0.1:{server.port}/events"
    line = one_error_line(run("get", url), 3)
    assert line.startswith("reactsse: TLS error: ")
    assert line.endswith(
        f"; is the server speaking plain http? try http://127.0.0.1:{server.port}/events"
    )


def test_a_url_without_scheme_hints_http(server: BackgroundServer) -> None:
    for url in (f"localhost:{server.port}/events", f"127.0.0.1:{server.port}/events"):
        line = one_error_line(run("get", url), 2)
        assert line.endswith(f"; did you mean http://{url}?"), line


def test_connection_refused_hints_the_server() -> None:
    with refusing_port() as port:
        line = one_error_line(run("get", f"http://127.0.0.1:{port}/events"), 3)
    assert "Connection refused" in line
    assert line.endswith(f"; is the server running on 127.0.0.1:{port}?")


def test_a_dropped_stream_hints_reconnect(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=5&interval=0&drop_every=2")
    assert result.stdout == "event 1\nevent 2\n"
    line = one_error_line(result, 3)
    assert line.endswith("; use --reconnect to resume with Last-Event-ID")


def test_chat_without_key_or_base_url_fails_before_any_traffic() -> None:
    # OPENAI_* variables are removed by run(): no key, no base URL.
    line = one_error_line(run("chat", "hi", "--connect-timeout", "0.001"), 2)
    assert line.startswith("reactsse: usage error: OPENAI_API_KEY is not set")
    assert "cannot connect" not in line


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_events_must_be_positive(server: BackgroundServer, value: str) -> None:
    result = run("get", f"{server.url}/events?count=3", "--max-events", value)
    line = one_error_line(result, 2)
    assert line == (
        f"reactsse: usage error: argument --max-events: must be at least 1, not '{value}'; "
        "usage: reactsse get --help"
    )
    assert result.stdout == ""


def test_an_unknown_option_is_one_line() -> None:
    line = one_error_line(run("get", "--frobnicate"), 2)
    assert line.endswith("; usage: reactsse get --help")


def test_chat_has_an_event_timeout(server: BackgroundServer) -> None:
    result = run(
        "chat",
        "hi",
        "--base-url",
        f"{server.url}/v1",
        "--event-timeout",
        "0.5",
        "-H",
        "X-Reactsse-Fault: stall-after=2",
    )
    line = one_error_line(result, 3)
    assert line.startswith("reactsse: timeout: ")


def test_tools_with_responses_in_demo_is_reported() -> None:
    result = run("demo", "--rate", "0", "--responses", "--tools", "[]")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "reactsse: warning: --tools is ignored with --responses: the built-in server answers "
        "tool calls on chat completions only"
    ]


def test_rate_zero_is_shown_as_unlimited() -> None:
    result = run("demo", "--rate", "0")
    assert result.returncode == 0, result.stderr
    assert "rate=unlimited " in result.stderr
    assert "rate=0" not in result.stderr


def test_serve_help_lists_every_fault() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for fault in ("error-after=N", "disconnect-after=N", "stall-after=N", "status=CODE"):
        assert fault in text, fault
    for option in ("--keepalive", "--quiet"):
        assert option in text


def test_every_command_has_a_summary_and_a_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Each command has a line in `reactsse --help` and a paragraph on top of its own --help.
    def help_of(*argv: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([*argv, "--help"])
        assert exit_info.value.code == 0
        return " ".join(capsys.readouterr().out.split())

    listed = {
        "demo": ("stream a chat completion from the built-in server", "Start the built-in"),
        "chat": ("stream a chat completion from OpenAI", "The key comes from OPENAI_API_KEY"),
        "get": ("read any SSE endpoint, like curl -N", "--reconnect behaves like a browser."),
        "serve": ("run the built-in server: the browser page and relay", "until Ctrl-C or"),
        "bench": ("load an SSE or LLM streaming server and measure it", "Closed loop by"),
    }
    overview = help_of()
    for command, (summary, description) in listed.items():
        assert f"{command} {summary}" in overview, command
        head = help_of(command).partition(" options:")[0]
        assert description in head, command
        assert summary not in head, command


def test_status_fault_works_on_events(server: BackgroundServer) -> None:
    result = run("get", f"{server.url}/events?count=3", "-H", "X-Reactsse-Fault: status=503")
    line = one_error_line(result, 4)
    assert line.endswith(f"from {server.url}/events?count=3: Injected fault: status 503.")
    assert result.stdout == ""
