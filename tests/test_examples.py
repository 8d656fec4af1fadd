"""Every program in examples/ runs against the built-in server and exits 0 (as a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        env=env,
    )


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "aconnect_stream.py",
        "embed_asyncio_relay.py",
        "embed_selectors.py",
        "embed_trio.py",
        "article_port.py",
        "named_events.py",
        "reconnect.py",
        "tool_calls.py",
    }


def test_article_port_streams_the_whole_answer() -> None:
    result = run_example("article_port.py", "--prompt", "hello")
    assert result.returncode == 0, result.stderr
    # The whole paragraph, not only the first event (the original's bug, FIX 4).
    assert len(result.stdout.split()) > 20
    assert result.stderr == ""
    # The article's own endpoint by default; the chat endpoint one flag away, same answer.
    chat = run_example("article_port.py", "--prompt", "hello", "--chat")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == result.stdout


def test_article_port_reports_a_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_example("article_port.py", "--base-url", f"http://127.0.0.1:{port}/v1")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr


def test_named_events() -> None:
    result = run_example("named_events.py")
    assert result.returncode == 0, result.stderr
    assert "[response.completed]" in result.stdout
    assert "response.output_text.delta x" in result.stdout
    assert "never called" not in result.stdout


def test_reconnect_loses_and_repeats_nothing() -> None:
    result = run_example("reconnect.py")
    assert result.returncode == 0, result.stderr
    assert "open #3 (Last-Event-ID: 8)" in result.stdout
    assert "10 events over 3 connections, none lost or repeated: True" in result.stdout


def test_tool_calls_round_trip() -> None:
    result = run_example("tool_calls.py")
    assert result.returncode == 0, result.stderr
    assert "finish_reason=tool_calls" in result.stdout
    assert "ran get_weather(" in result.stdout
    assert "answer: " in result.stdout


def test_embed_selectors_reads_three_streams_on_a_bare_selector() -> None:
    result = run_example("embed_selectors.py")
    assert result.returncode == 0, result.stderr
    assert "count=3&interval=0: 3 events, last 'event 3'" in result.stdout
    assert "count=7&interval=0: 7 events, last 'event 7'" in result.stdout


def test_embed_asyncio_relay_serves_two_clients_at_once() -> None:
    result = run_example("embed_asyncio_relay.py")
    assert result.returncode == 0, result.stderr
    relayed = "['relayed event 1', 'relayed event 2', 'relayed event 3', 'relayed event 4']"
    assert f"client 1: {relayed}" in result.stdout
    assert f"client 2: {relayed}" in result.stdout


def test_embed_trio_keeps_the_host_running() -> None:
    result = run_example("embed_trio.py")
    assert result.returncode == 0, result.stderr
    assert "event 5: event 5" in result.stdout
    ticks = int(result.stdout.split("ticked ")[1].split()[0])
    assert ticks >= 3  # five events 20 ms apart: a blocked host would tick once


def test_aconnect_stream_on_asyncio_and_trio() -> None:
    for args in ((), ("--trio",)):
        result = run_example("aconnect_stream.py", *args)
        assert result.returncode == 0, result.stderr
        assert "event 6: event 6" in result.stdout
        assert "finish_reason=stop" in result.stdout
