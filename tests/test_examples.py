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
