"""``reactsse get|chat|demo --loop select|asyncio|trio``: the same command, the same output.

Each command runs as a subprocess on each loop; its stdout (the payload) and exit code must be
identical. The decorations on stderr name the loop, so only their outcome lines are compared.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from _cli_helpers import run

from reactsse.server import BackgroundServer, ServerOptions

LOOPS = ("select", "asyncio", "trio")


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as bg:
        yield bg


def same_on_every_loop(*args: str) -> subprocess.CompletedProcess[str]:
    results = {loop: run(*args, "--loop", loop) for loop in LOOPS}
    first = results["select"]
    for loop, result in results.items():
        assert (result.returncode, result.stdout) == (first.returncode, first.stdout), (
            loop,
            result.stderr,
        )
    return first


@pytest.mark.parametrize("form", ["text", "jsonl"])
def test_get(server: BackgroundServer, form: str) -> None:
    url = f"{server.url}/events?count=20&interval=0"
    result = same_on_every_loop("get", url, "--format", form, "--max-events", "15")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 15


def test_get_error_exits_the_same(server: BackgroundServer) -> None:
    results = [run("get", f"{server.url}/nowhere", "--loop", loop) for loop in LOOPS]
    assert {r.returncode for r in results} == {4}
    assert len({r.stderr for r in results}) == 1, [r.stderr for r in results]


@pytest.mark.parametrize("api", [[], ["--responses"]], ids=["chat", "responses"])
def test_chat(server: BackgroundServer, api: list[str]) -> None:
    result = same_on_every_loop("chat", "Hello", "--base-url", server.url + "/v1", *api)
    assert result.returncode == 0 and len(result.stdout.strip()) > 20


def test_demo() -> None:
    result = same_on_every_loop("demo", "--rate", "0")
    assert result.returncode == 0 and len(result.stdout.strip()) > 20


@pytest.mark.parametrize(
    "command", [["get", "http://127.0.0.1:9/"], ["demo"], ["bench", "http://127.0.0.1:9/"]]
)
def test_loop_trio_without_trio_is_one_usage_line(command: list[str]) -> None:
    """trio is not a dependency: without it, ``--loop trio`` says how to get it, in one line."""
    script = (
        "import sys; sys.modules['trio'] = None\n"  # as if trio were not installed
        "from reactsse.cli import main\n"
        f"sys.exit(main({[*command, '--loop', 'trio']!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "--loop trio needs the trio package: pip install trio" in result.stderr
