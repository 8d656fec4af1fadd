"""``reactsse bench`` keep-alive: the next stream reuses a connection the server kept open.

Exact counts of streams, events and connections opened and reused, in virtual time against the
built-in server (which keeps connections after a complete chunked response), and against real
servers on 127.0.0.1 that close after each response, with or without saying so (the close race:
a reused connection that closes before any byte of the new response is retried, not an error),
or that cut a reused connection mid-response (an error, not retried).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from _sse_test_servers import accepting

from reactsse.loadgen import LoadEngine, LoadOptions
from reactsse.loadgen.report import build_report, format_text
from reactsse.loadgen.runner import ProcessCPU, RunResult, run_local
from reactsse.loop import VirtualTimeLoop
from reactsse.mock import MockApp, MockOptions
from reactsse.server import BackgroundServer, SSEServer

pytestmark = pytest.mark.timeout(60)

EVENTS = b"data: a\n\ndata: b\n\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    b"%s\r\n%x\r\n%s\r\n0\r\n\r\n"
)


def _run_virtual(options: LoadOptions) -> LoadEngine:
    loop = VirtualTimeLoop()
    server = SSEServer(loop, app=MockApp(MockOptions()))
    options = dataclasses.replace(options, url=server.url + options.url)
    engine = LoadEngine(loop, options, on_finish=server.close)
    engine.start()
    loop.run()
    assert not engine.running
    return engine


@pytest.mark.parametrize("keep_alive", [True, False])
def test_closed_loop_reuses_each_connection(keep_alive: bool) -> None:
    """3 connections, streams of 10 events 0.1 s apart, 5 s: the numbers of
    test_bench_tool's closed loop, with 3 connections opened in all (or one per stream)."""
    options = LoadOptions(
        url="/events?count=10&interval=0.1", connections=3, duration=5.0, keep_alive=keep_alive
    )
    stats = _run_virtual(options).stats
    assert (stats.started, stats.completed, stats.cut, stats.failed) == (18, 15, 3, 0)
    assert stats.events == 15 * 10 + 3 * 5
    assert stats.gap.min == stats.gap.max == 100_000
    opened = 3 if keep_alive else 18
    assert (stats.connections_opened, stats.connections_reused) == (opened, 18 - opened)
    assert stats.connections_opened + stats.connections_reused == stats.started
    assert stats.keepalive_retries == 0 and stats.errors == {}


def test_open_loop_takes_an_idle_connection() -> None:
    """A stream every 0.5 s, each 0.4 s long: one connection carries them all."""
    options = LoadOptions(
        url="/events?count=5&interval=0.1", connections=None, rate=2.0, duration=4.0
    )
    stats = _run_virtual(options).stats
    assert (stats.started, stats.completed, stats.failed) == (8, 8, 0)
    assert stats.events == 40
    assert (stats.connections_opened, stats.connections_reused) == (1, 7)


def test_warmup_connections_are_reused_but_not_counted() -> None:
    options = LoadOptions(
        url="/events?count=10&interval=0.1", connections=2, duration=2.0, warmup=1.0
    )
    stats = _run_virtual(options).stats
    # Both connections were opened in the warm-up: every measured stream reuses one.
    assert stats.started == 4 and stats.connections_opened == 0
    assert stats.connections_reused == 4


# -- real servers that close -----------------------------------------------------------------


def _server(script: Callable[[socket.socket], None]) -> Iterator[int]:
    """Serve each accepted connection with ``script`` in a thread; yield the port."""

    def on_accept(sock: socket.socket, _index: int) -> None:
        threading.Thread(target=_guarded, args=(script, sock), daemon=True).start()

    with accepting(on_accept) as port:
        yield port


def _guarded(script: Callable[[socket.socket], None], sock: socket.socket) -> None:
    with sock, contextlib.suppress(OSError):
        script(sock)


def _one_response(header: bytes) -> Callable[[socket.socket], None]:
    def script(sock: socket.socket) -> None:
        sock.recv(65536)
        sock.sendall(RESPONSE % (header, len(EVENTS), EVENTS))
        sock.shutdown(socket.SHUT_WR)  # then the close (a FIN, not a reset)
        while sock.recv(65536):
            pass

    return script


@pytest.fixture
def says_close() -> Iterator[int]:
    yield from _server(_one_response(b"connection: close\r\n"))


@pytest.fixture
def closes_silently() -> Iterator[int]:
    yield from _server(_one_response(b""))


def test_a_server_that_says_close_gets_a_new_connection_per_stream(says_close: int) -> None:
    options = LoadOptions(url=f"http://127.0.0.1:{says_close}/", connections=2, streams=10)
    stats = run_local(options).stats
    assert (stats.started, stats.completed, stats.failed, stats.events) == (10, 10, 0, 20)
    assert (stats.connections_opened, stats.connections_reused) == (10, 0)
    assert stats.keepalive_retries == 0 and stats.errors == {}


def test_the_close_race_is_retried_not_counted_as_an_error(closes_silently: int) -> None:
    """The server looks keep-alive (HTTP/1.1, no close) but closes after each response: every
    reuse meets the close before any byte, and its request goes again on a new connection."""
    options = LoadOptions(url=f"http://127.0.0.1:{closes_silently}/", connections=1, streams=5)
    stats = run_local(options).stats
    assert (stats.started, stats.completed, stats.failed, stats.events) == (5, 5, 0, 10)
    assert stats.errors == {} and stats.reconnections == 0
    assert (stats.connections_reused, stats.keepalive_retries) == (4, 4)
    assert stats.connections_opened == 5  # the first, and one per retry
    assert stats.connections_opened + stats.connections_reused == stats.started + 4
    assert stats.ttfb.count == 5 and stats.duration.count == 5


@pytest.fixture
def cuts_the_second_response() -> Iterator[int]:
    def script(sock: socket.socket) -> None:
        sock.recv(65536)
        sock.sendall(RESPONSE % (b"", len(EVENTS), EVENTS))
        sock.recv(65536)  # the next request, on the kept connection
        sock.sendall(RESPONSE.split(b"%s\r\n%x")[0] + b"\r\n7\r\ndata: a")  # then cut

    yield from _server(script)


def test_a_reused_connection_cut_mid_response_is_an_error(cuts_the_second_response: int) -> None:
    port = cuts_the_second_response
    options = LoadOptions(url=f"http://127.0.0.1:{port}/", connections=1, streams=2)
    stats = run_local(options).stats
    assert (stats.started, stats.completed, stats.failed) == (2, 1, 1)
    assert stats.errors == {"closed": 1} and stats.keepalive_retries == 0
    assert (stats.connections_opened, stats.connections_reused) == (1, 1)


def test_the_report_counts_connections() -> None:
    options = LoadOptions(url="/events?count=10&interval=0.1", connections=3, duration=5.0)
    engine = _run_virtual(options)
    result = RunResult(engine.stats, engine.elapsed, [ProcessCPU(0.1, 5.0)])
    report = build_report(options, result, loop="v", processes=1)
    assert report["connections"] == {"opened": 3, "reused": 15, "retried": 0}
    assert report["load"]["keep_alive"] is True
    assert "connections: 3 opened, 15 reused (keep-alive)" in format_text(report)


# -- the command -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(app=MockApp(MockOptions(rate=0))) as server:
        yield server.url


def _bench_json(*args: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-m", "reactsse", "bench", *args, "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report: dict[str, object] = json.loads(run.stdout)
    return report


@pytest.mark.parametrize("flag", ["--no-keep-alive", "--new-connections"])
def test_cli_no_keep_alive_opens_one_connection_per_stream(mock_url: str, flag: str) -> None:
    report = _bench_json(f"{mock_url}/events?count=5&interval=0", "-c", "2", "-n", "8", flag)
    assert report["load"] == {**report["load"], "keep_alive": False}  # type: ignore[dict-item]
    assert report["connections"] == {"opened": 8, "reused": 0, "retried": 0}
    assert report["events"]["total"] == 40  # type: ignore[index]


def test_cli_processes_reuse_connections_and_merge_the_counts(mock_url: str) -> None:
    url = f"{mock_url}/events?count=5&interval=0"
    report = _bench_json(url, "-c", "4", "-p", "2", "-n", "40")
    streams, connections = report["streams"], report["connections"]
    assert isinstance(streams, dict) and isinstance(connections, dict)
    assert streams["started"] == streams["completed"] == 40 and report["errors"] == {}
    assert report["events"]["total"] == 200  # type: ignore[index]
    # 2 connections in each process, each kept for every stream of its process.
    assert connections == {"opened": 4, "reused": 36, "retried": 0}
