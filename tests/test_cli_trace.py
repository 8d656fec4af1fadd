"""``--trace`` as a learner sees it: on a terminal (a pseudo-terminal), tokens and trace lines
never share a line and no line is wider than the terminal; colours only on a terminal and never
with NO_COLOR; the lines in the true order of what happened; ``--trace=full``; and the
README's excerpt of the trace matches a fresh run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sse_test_servers import Exchange, ScriptedServer, chunk, head_bytes, sse_head

from reactsse.server import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A trace line: a mark, a space, a layer tag in its column.
TRACE_LINE = re.compile(r"^[*><|=] (conn|http|wire|sse|event|openai|source) ")
TRACE_ANYWHERE = re.compile(r"[*><|=] (conn|http|wire|sse|event|openai|source) +\S")
COLUMNS = 80


def run_in_pty(args: list[str], env: dict[str, str] | None = None, timeout: float = 30.0) -> str:
    """Run ``python -m reactsse ARGS`` with stdout and stderr on one pseudo-terminal of
    ``COLUMNS`` columns; return everything it wrote (CRLF turned into LF)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    full_env = {**os.environ, **(env or {})}
    full_env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reactsse", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=full_env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=max(0.1, deadline - time.monotonic())) == 0, chunks
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_demo_trace_on_a_terminal_never_glues_and_fits_the_width() -> None:
    output = run_in_pty(["demo", "--rate", "400", "--trace"])
    assert "\x1b[" in output  # colours on a terminal
    lines = ANSI.sub("", output).split("\n")
    trace = [line for line in lines if TRACE_LINE.match(line)]
    tokens = [line for line in lines if line and not TRACE_LINE.match(line)]
    assert len(trace) > 100
    assert any(line.startswith("< http   chunk-size line b'") for line in trace)
    assert any(line.startswith("= openai ChatDelta(") for line in trace)
    for line in trace:
        assert len(line) <= COLUMNS, line
    # No token shares a line with a trace line: a trace mark appears only at a line's start.
    for line in lines:
        found = TRACE_ANYWHERE.search(line)
        assert found is None or found.start() == 0, line
    # The tokens are all there, each line of them whole (between trace lines).
    text = "".join(
        line for line in tokens if not line.startswith(("reactsse demo:", "POST ", "-- "))
    )
    assert "White Rabbit" in text


def test_no_color_and_full_on_a_terminal() -> None:
    output = run_in_pty(["demo", "--rate", "0", "--trace=full"], env={"NO_COLOR": "1"})
    assert "\x1b[" not in output
    longest = max(len(line) for line in output.split("\n") if TRACE_LINE.match(line))
    assert longest > COLUMNS  # --trace=full elides nothing
    assert "…(" not in output


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reactsse", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_piped_trace_is_plain_and_elided() -> None:
    result = run("demo", "--rate", "0", "--trace")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr and "\x1b[" not in result.stdout
    trace = [line for line in result.stderr.splitlines() if TRACE_LINE.match(line)]
    assert max(len(line) for line in trace) <= 100
    # A long value elided in the middle, with its length.
    assert re.search(
        r"\| sse    'data: \{\"id\":\"chatcmpl-.*…\(\d+ chars\)….*\}'$", result.stderr, re.M
    )
    # Each layer once: the event is one short line, its JSON is not repeated.
    assert re.search(
        r"^= event  'message', \d+ chars of data, last_event_id ''$", result.stderr, re.M
    )


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as background:
        yield background


def test_get_trace_lines_are_in_the_true_order(server: BackgroundServer) -> None:
    # stdout and stderr on one pipe: the order of the lines is the order they were written.
    url = f"{server.url}/events?count=4&interval=0&drop_every=2&retry=10"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reactsse",
            "get",
            url,
            "--reconnect",
            "--max-events",
            "4",
            "--trace",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    # Every event is printed after its own dispatch and before the next happening after it.
    for n in range(1, 5):
        printed = lines.index(f"event {n}")
        dispatched = lines.index(
            f"= event  'message', {len(f'event {n}')} chars of data, last_event_id '{n}'"
        )
        assert dispatched < printed
        following = lines[dispatched + 1 : printed]
        assert not any(line.startswith(("* source", "< wire", "* conn")) for line in following), (
            following
        )
    first_reconnect = next(i for i, line in enumerate(lines) if "* source reconnecting in" in line)
    assert lines.index("event 2") < first_reconnect < lines.index("event 3")


def test_events_come_before_the_reconnect_they_preceded() -> None:
    # Two events and the end of the stream in one read: the loop handles all three (and
    # schedules the reconnect) before the blocking iterator hands the events out.
    def handler(ex: Exchange) -> None:
        if ex.index == 0:
            body = chunk(b"retry: 10\nid: 1\ndata: one\n\nid: 2\ndata: two\n\n") + b"0\r\n\r\n"
            ex.send(head_bytes(200, sse_head()) + body)
        else:
            ex.send(head_bytes(204, [("Content-Length", "0")]))

    with ScriptedServer(handler) as srv:
        result = subprocess.run(
            [sys.executable, "-m", "reactsse", "get", srv.url("/"), "--reconnect", "--trace"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    reconnect = next(i for i, line in enumerate(lines) if "* source reconnecting in" in line)
    assert lines.index("one") < lines.index("two") < reconnect, result.stdout
    assert lines.index("= event  'message', 3 chars of data, last_event_id '2'") < lines.index(
        "two"
    )


def test_chat_completions_flag_with_trace(server: BackgroundServer) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reactsse",
            "chat",
            "hi",
            "--completions",
            "--trace",
            "--max-tokens",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "sk-test-completions",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "> http   POST /v1/completions HTTP/1.1" in result.stderr
    assert "= openai CompletionDelta(choice_index=0, text=" in result.stderr
    assert "finish_reason=length" in result.stderr
    assert "sk-test-completions" not in result.stderr
    assert len(result.stdout.split()) >= 3


def test_readme_trace_excerpt_matches_a_fresh_run() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "make_trace_excerpt.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
