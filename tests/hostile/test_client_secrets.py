"""Planted secrets against hostile servers: a credential never appears in anything produced.

One traced, failing run per kind of credential (a request header, a query parameter, userinfo,
an API key the server echoes), through the Python API and through the CLI (a subprocess). Each
server on 127.0.0.1 misbehaves on purpose: it echoes what it was sent in its status line, its
headers and its body, splits a ``Set-Cookie`` line across two reads, redirects to a ``Location``
that carries a token. Everything the run produced is scanned for the secret: stdout, stderr, the
trace, the exception's str and repr and args, its whole ``__cause__``/``__context__`` chain,
``error.headers``/``body``/``url``, and the log records.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import time
from collections.abc import Iterator

import pytest
from _cli_helpers import run as run_cli
from _sse_test_servers import Exchange, ScriptedServer, sse_head
from hypothesis import given
from hypothesis import strategies as st

from reactsse import OpenAIClient
from reactsse.errors import (
    HTTPStatusError,
    InvalidURL,
    ReactSSEError,
    ReadTimeout,
    RemoteProtocolError,
)
from reactsse.eventsource import EventSource, ReadyState, TextTrace
from reactsse.http import parse_url
from reactsse.http.redact import ReadRedactor, Scrubber, redact_header_lines, redact_url
from reactsse.loop import StreamSelectLoop

SECRET = "pl4nted-S3CRET-7f3a9c1e"


# -- scanning ---------------------------------------------------------------------------------


def chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception reachable through ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def error_texts(error: BaseException) -> list[str]:
    texts = []
    for item in chain(error):
        texts += [str(item), repr(item), repr(item.args)]
        for name in ("url", "headers", "body", "reason", "message"):
            if hasattr(item, name):
                texts.append(repr(getattr(item, name)))
    return texts


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text


def run_source(url: str, **options: object) -> tuple[ReactSSEError, str, EventSource]:
    """One traced, one-shot EventSource run that must fail; its error and its trace."""
    loop = StreamSelectLoop()
    trace = io.StringIO()
    source = EventSource(
        url, loop=loop, reconnect=False, trace=TextTrace(trace, width=None), **options
    )
    errors: list[ReactSSEError] = []
    source.on("error", errors.append)
    started = time.monotonic()

    def guard(timer: object) -> None:
        if source.ready_state is ReadyState.CLOSED:
            loop.cancel_timer(timer)  # type: ignore[arg-type]
        elif time.monotonic() - started > 10:
            source.close()
            loop.cancel_timer(timer)  # type: ignore[arg-type]

    loop.add_periodic_timer(0.01, guard)
    loop.run()
    assert len(errors) == 1, errors
    return errors[0], trace.getvalue(), source


def assert_cli_failed(result: subprocess.CompletedProcess[str], code: int, text: str) -> str:
    """The run exited ``code`` with exactly one ``reactsse:`` line (after any trace lines),
    no traceback, and no secret anywhere; returns that line."""
    assert_no_secret(result.stdout, result.stderr)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("reactsse:")]
    assert len(lines) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == lines[0]
    assert text in lines[0], lines[0]
    return lines[0]


# -- hostile servers ----------------------------------------------------------------------------


def echoing_handler(exchange: Exchange) -> None:
    """401 that echoes everything it was sent: target and headers, in reason, headers and body,
    with a Set-Cookie line split across two reads."""
    request = exchange.request
    echoed = " ".join(f"{name}={value}" for name, value in request.headers.items())
    exchange.send(f"HTTP/1.1 401 Denied {request.target}\r\n".encode())
    exchange.send(f"X-Echo: {request.target} {echoed}\r\nSet-Coo".encode())
    time.sleep(0.05)
    exchange.send(f"kie: session={SECRET}; Path=/\r\n".encode())
    body = f"rejected {request.target} with {echoed}".encode()
    exchange.send(b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def redirecting_handler(exchange: Exchange) -> None:
    """A redirect whose Location carries a token, then a 500 that echoes the target."""
    if exchange.request.target.startswith("/start"):
        exchange.send_head(302, [("Location", f"/next?access_token={SECRET}&page=2")])
        return
    body = f"no such page: {exchange.request.target}".encode()
    exchange.send_head(500, [("Content-Length", str(len(body)))])
    exchange.send(body)


def stalling_handler(exchange: Exchange) -> None:
    """An event-stream head, then nothing: the client's read timeout fires."""
    exchange.send_head(200, sse_head())
    exchange.stall(5)


@pytest.fixture
def echoing() -> Iterator[ScriptedServer]:
    with ScriptedServer(echoing_handler) as server:
        yield server


# -- header ----------------------------------------------------------------------------------------


def test_header_secret_echoed_by_a_401_never_shows(
    echoing: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {SECRET}", "X-Auth-Token": SECRET}
    error, trace, source = run_source(echoing.url("/h"), headers=headers)
    # Expected: an HTTPStatusError that keeps the server's words, with the secret scrubbed.
    assert type(error) is HTTPStatusError
    assert error.status == 401
    assert "rejected /h with" in error.body and "<redacted>" in error.body
    assert "< http   set-cookie: <redacted>" in trace
    assert "* source fatal error: HTTPStatusError: HTTP 401" in trace
    assert_no_secret(trace, repr(source), caplog.text, *error_texts(error))


def test_header_secret_through_the_cli(echoing: ScriptedServer) -> None:
    result = run_cli(
        "get", echoing.url("/h"), "--trace=full", "-H", f"Authorization: Bearer {SECRET}",
        "-H", f"X-Auth-Token: {SECRET}",
    )  # fmt: skip
    assert "< wire   read" in result.stderr  # the raw reads were traced, redacted
    assert_cli_failed(result, 4, "HTTP error: HTTP 401")


# -- query -------------------------------------------------------------------------------------


def test_query_secret_in_status_error_redirect_and_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with ScriptedServer(redirecting_handler) as server:
        error, trace, source = run_source(server.url(f"/start?api_key={SECRET}&q=1"))
    assert type(error) is HTTPStatusError
    assert error.status == 500
    assert error.url.endswith("/next?access_token=<redacted>&page=2")
    assert "no such page: /next?access_token=<redacted>&page=2" in str(error)
    assert "api_key=<redacted>&q=1" in repr(source)
    assert "< http   location: /next?access_token=<redacted>&page=2" in trace
    assert "* source redirect 302 to http://127.0.0.1:" in trace
    assert_no_secret(trace, repr(source), caplog.text, *error_texts(error))


def test_query_secret_in_a_read_timeout() -> None:
    with ScriptedServer(stalling_handler) as server:
        error, trace, source = run_source(server.url(f"/s?key={SECRET}"), read_timeout=0.3)
    assert type(error) is ReadTimeout
    assert str(error).endswith("/s?key=<redacted>")
    assert_no_secret(trace, repr(source), *error_texts(error))


def test_query_secret_through_the_cli() -> None:
    with ScriptedServer(redirecting_handler) as server:
        result = run_cli("get", server.url(f"/start?access_token={SECRET}"), "--trace=full")
    assert "* source redirect 302 to" in result.stderr
    assert_cli_failed(result, 4, "HTTP error: HTTP 500")


# -- userinfo --------------------------------------------------------------------------------


def test_userinfo_is_rejected_without_showing_the_password() -> None:
    loop = StreamSelectLoop()
    with pytest.raises(InvalidURL) as info:
        EventSource(
            f"http://user:{SECRET}@127.0.0.1:9/",
            loop=loop,
            trace=TextTrace(io.StringIO(), width=None),
        )
    assert "credentials in the URL are not supported" in str(info.value)
    assert "http://<redacted>@127.0.0.1:9/" in str(info.value)
    assert_no_secret(*error_texts(info.value))


def test_userinfo_through_the_cli() -> None:
    result = run_cli("get", f"http://user:{SECRET}@127.0.0.1:9/", "--trace=full")
    assert_cli_failed(result, 2, "credentials in the URL are not supported")


def test_redirect_to_a_userinfo_url_is_a_protocol_error() -> None:
    def handler(exchange: Exchange) -> None:
        exchange.send_head(302, [("Location", f"http://admin:{SECRET}@127.0.0.1:9/x")])

    with ScriptedServer(handler) as server:
        error, trace, _source = run_source(server.url("/"))
        result = run_cli("get", server.url("/"), "--trace=full")
    assert type(error) is RemoteProtocolError
    assert "redirect 302 to a URL that cannot be requested" in str(error)
    assert "< http   location: http://<redacted>@127.0.0.1:9/x" in trace
    assert_no_secret(trace, *error_texts(error))
    assert_cli_failed(result, 1, "redirect 302 to a URL that cannot be requested")


# -- an API key the server echoes ------------------------------------------------------------------


def openai_echo_handler(exchange: Exchange) -> None:
    """An OpenAI-style 401 that echoes the key it rejected, in a header and in its message."""
    key = (exchange.request.header("authorization") or "").removeprefix("Bearer ")
    error = {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}
    body = json.dumps({"error": error}).encode()
    exchange.send_head(
        401,
        [("Content-Type", "application/json"), ("X-Rejected-Key", key)],
        reason=f"Bad key {key}",
    )
    exchange.send(body)


def test_echoed_api_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    trace = io.StringIO()
    with ScriptedServer(openai_echo_handler) as server:
        client = OpenAIClient(
            api_key=SECRET,
            base_url=server.url("/v1"),
            trace=TextTrace(trace, width=None),
            read_timeout=5,
        )
        with pytest.raises(HTTPStatusError) as info:
            for _ in client.iter_chat([{"role": "user", "content": "hi"}], model="m"):
                pass
    error = info.value
    assert error.status == 401
    assert "Incorrect API key provided: <redacted>" in str(error)
    assert ("x-rejected-key", "<redacted>") in error.headers
    assert "* source fatal error: HTTPStatusError" in trace.getvalue()
    assert_no_secret(trace.getvalue(), repr(client), caplog.text, *error_texts(error))


def test_echoed_api_key_through_chat_trace() -> None:
    with ScriptedServer(openai_echo_handler) as server:
        result = run_cli(
            "chat", "hi", "--trace=full", "--base-url", server.url("/v1"),
            env={"OPENAI_API_KEY": SECRET},
        )  # fmt: skip
    assert "> http   Authorization: <redacted>" in result.stderr
    assert_cli_failed(result, 4, "Incorrect API key provided: <redacted>")


# -- the redaction itself (sans-IO) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://h/p?api_key=S&q=1", "http://h/p?api_key=<redacted>&q=1"),
        ("http://h/?key=S", "http://h/?key=<redacted>"),
        ("http://h/?access_token=S#id_token=S", "http://h/?access_token=<redacted>#id_token=<redacted>"),
        ("http://h/?client_secret=S&password=S", "http://h/?client_secret=<redacted>&password=<redacted>"),
        ("http://h/?Api%5FKey=S", "http://h/?Api%5FKey=<redacted>"),
        ("https://u:S@h/x", "https://<redacted>@h/x"),
        ("u:S@h/x", "<redacted>@h/x"),
        ("https://u:a#S@h/x", "https://<redacted>@h/x"),
        ("https://u:a?S@h/x", "https://<redacted>@h/x"),
        ("https://h/@user/post", "https://h/@user/post"),
        ("https://h?email=a@b", "https://h?email=a@b"),
        ("see https://h/x and mail a@b", "see https://h/x and mail a@b"),
        # Every URL of a text: one with "@" in its query does not shield the next.
        ("go https://a.example?ref=me@mail.example then https://v:S@h2/",
         "go https://a.example?ref=me@mail.example then https://<redacted>@h2/"),
        ("https://u:S@h1/ and https://v:S@h2/", "https://<redacted>@h1/ and https://<redacted>@h2/"),
        ("http://h/?page=2&q=keys", "http://h/?page=2&q=keys"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    if url.startswith("http://h"):
        # URL keeps no fragment (it is never sent).
        assert parse_url(url).redacted() == shown.split("#")[0]


@given(st.text(max_size=40), st.sampled_from(["api_key", "token", "Secret", "passwd", "sig"]))
def test_redact_url_never_raises_and_hides_secret_values(noise: str, name: str) -> None:
    text = f"http://h/{noise}?{name}={SECRET}&x={noise}"
    if any(c in noise for c in "&#;= \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"):
        redact_url(text)  # still must not raise
        return
    assert SECRET not in redact_url(text)


def test_urls_in_a_header_line_are_each_redacted() -> None:
    line = b"Link: <https://cdn.example?u=a@b>, <https://v:" + SECRET.encode() + b"@h2/>"
    shown = redact_header_lines(line)
    assert SECRET.encode() not in shown
    assert shown == b"Link: <https://cdn.example?u=a@b>, <https://<redacted>@h2/>"


@pytest.mark.parametrize(
    "name", [b"X-Auth-Token", b"Set-Cookie", b"Authorization", b"X-Api-Key", b"X-Client-Secret"]
)
@given(cut=st.integers(0, 60))
def test_read_excerpts_redact_a_secret_header_split_anywhere(name: bytes, cut: int) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + name + b": " + SECRET.encode() + b"\r\nX-Other: 1\r\n\r\n"
    cut = min(cut + 17, len(head))  # from the start of the header line to past its end
    reads = ReadRedactor()
    shown = reads.excerpt(head[:cut], limit=200) + reads.excerpt(head[cut:], limit=200)
    assert SECRET not in shown
    # What is left of the secret in each excerpt is never more than the part before the cut.
    for piece in (SECRET[i : i + 6] for i in range(len(SECRET) - 5)):
        assert piece not in shown


def test_scrubber_takes_the_bearer_token_and_query_secrets() -> None:
    scrubber = Scrubber.for_request(
        f"/x?api_key={SECRET}&q=1", [("Authorization", f"Bearer {SECRET}2"), ("Accept", "a/b")]
    )
    text = f"bad {SECRET}2 and {SECRET} and a/b"
    assert scrubber.text(text) == "bad <redacted> and <redacted> and a/b"
    assert scrubber.data(text.encode()) == b"bad <redacted> and <redacted> and a/b"
    assert not Scrubber.for_request("/x?q=1", [("Accept", "text/event-stream")])


def test_malformed_head_excerpt_in_the_error_redacts_secret_headers() -> None:
    def handler(exchange: Exchange) -> None:
        exchange.send(
            f"HTTP/1.1 200 OK\r\nSet-Cookie: s={SECRET}\r\nno colon here\r\n\r\n".encode()
        )

    with ScriptedServer(handler) as server:
        error, trace, _source = run_source(server.url("/"))
        result = run_cli("get", server.url("/"), "--trace=full")
    assert type(error) is RemoteProtocolError
    assert "Set-Cookie: <redacted>" in str(error)
    assert_no_secret(trace, *error_texts(error))
    assert_cli_failed(result, 1, "RemoteProtocolError")


def test_a_secret_split_by_a_read_boundary_is_never_shown_whole() -> None:
    # The trace shows each read whole (--trace=full): both halves of an echoed key would be
    # there, one at the end of a read and one at the start of the next.
    scrubber = Scrubber.for_request("/x", [("Authorization", f"Bearer {SECRET}")])
    body = f"echo: {SECRET} done".encode()
    for cut in range(len(body) + 1):
        first = bytes(scrubber.data(body[:cut]))
        second = bytes(scrubber.data(body[cut:]))
        shown = (first + second).decode().replace("<redacted>", "|")
        for piece in (SECRET[i : i + 3] for i in range(len(SECRET) - 2)):
            # At most two bytes of the secret survive on either side of the cut.
            assert piece not in shown, (cut, shown)
