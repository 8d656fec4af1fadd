"""``reactsse serve`` as a test double: the access log, ``--quiet``, ``--keepalive``, SIGTERM.

The server runs as a subprocess (``python -m reactsse serve --port 0``); clients are raw sockets
on 127.0.0.1, so that the test sees the bytes on the wire (the comments, the last chunk).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import pytest
from _cli_helpers import stop

ACCESS_LINE = re.compile(
    r"127\.0\.0\.1:\d+ (?P<method>[A-Z]+) (?P<target>\S+) (?P<status>\d{3}) "
    r"(?P<events>\d+) events? (?P<duration>\d+\.\d{3}) s"
)


def start(*args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("reactsse server listening on http://127.0.0.1:"), line
    return process, int(line.rsplit(":", 1)[1])


def request(port: int, target: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, marker: bytes, limit: float = 10.0) -> bytes:
    received = b""
    deadline = time.monotonic() + limit
    while marker not in received:
        assert time.monotonic() < deadline, received
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


@pytest.mark.timeout(60)
def test_sigterm_ends_open_streams_with_a_comment_and_logs_every_request() -> None:
    process, port = start("--keepalive", "0.2")
    try:
        with request(port, "/events?count=2&interval=0") as short:
            assert read_until(short, b"0\r\n\r\n").endswith(b"0\r\n\r\n")
        with request(port, "/nope") as missing:
            assert b" 404 " in read_until(missing, b"Invalid URL")
        stream = request(port, "/events?interval=30&token=s3cret")
        # Event 1 now, event 2 in 30 s: meanwhile the keep-alive pings.
        before = read_until(stream, b": keep-alive\n\n")
        assert b"data: event 1\n" in before
    except BaseException:
        process.kill()
        raise
    out, err = stop(process)
    with stream:
        rest = read_to_end(stream)
    assert process.returncode == 0, err
    # The final comment, then the last chunk: a clean end of the response, then the close.
    assert rest.endswith(b": server shutting down\n\n\r\n0\r\n\r\n"), rest
    assert out.splitlines()[-1] == "reactsse server stopped (SIGTERM; 1 open stream ended)"
    lines = err.splitlines()
    assert len(lines) == 3, err
    records = [ACCESS_LINE.fullmatch(line) for line in lines]
    assert all(records), err
    short_log, missing_log, stream_log = records
    assert short_log is not None and missing_log is not None and stream_log is not None
    assert short_log["target"] == "/events?count=2&interval=0"
    assert (short_log["status"], short_log["events"]) == ("200", "2")
    assert (missing_log["target"], missing_log["status"]) == ("/nope", "404")
    assert missing_log["events"] == "0"
    assert stream_log["target"] == "/events?interval=30&token=<redacted>"
    assert (stream_log["status"], stream_log["events"]) == ("200", "1")
    assert float(stream_log["duration"]) >= 0.2
    assert "s3cret" not in err + out


@pytest.mark.timeout(60)
def test_quiet_turns_the_access_log_off_and_keepalive_zero_sends_no_pings() -> None:
    process, port = start("--quiet", "--keepalive", "0")
    try:
        with request(port, "/events?count=1&interval=0") as sock:
            assert b"data: event 1" in read_until(sock, b"0\r\n\r\n")
        stream = request(port, "/events?interval=30")
        read_until(stream, b"data: event 1\n\n")
        stream.settimeout(0.6)
        with pytest.raises(TimeoutError):
            stream.recv(65536)  # no ping within 0.6 s (the default would be 15 s anyway)
        stream.settimeout(10)
    except BaseException:
        process.kill()
        raise
    out, err = stop(process)
    with stream:
        assert read_to_end(stream).endswith(b": server shutting down\n\n\r\n0\r\n\r\n")
    assert process.returncode == 0
    assert err == ""
    assert out.splitlines()[-1] == "reactsse server stopped (SIGTERM; 1 open stream ended)"


@pytest.mark.timeout(60)
def test_sigterm_with_nothing_open_is_one_line_and_exit_0() -> None:
    process, _port = start()
    out, err = stop(process)
    assert process.returncode == 0
    assert err == ""
    assert out.splitlines()[-1] == "reactsse server stopped (SIGTERM; 0 open streams ended)"


@pytest.mark.timeout(60)
def test_reply_tokens_gives_every_stream_that_many_tokens() -> None:
    process, port = start("--reply-tokens", "7", "--quiet")
    try:
        body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
        counts = []
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                wire = read_to_end(sock)
            chunks = [
                json.loads(line[6:]) for line in wire.split(b"\n") if line.startswith(b"data: {")
            ]
            counts.append(
                sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content"))
            )
    except BaseException:
        process.kill()
        raise
    stop(process)
    assert counts == [7, 7]
