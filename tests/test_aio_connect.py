"""``reactsse.aio.aconnect``: ``connect()``'s semantics in asyncio and trio programs.

Every test runs on both backends through anyio's pytest plugin, against real servers on
127.0.0.1 (the scripted threaded server of the EventSource tests). Cancellation is checked at
every phase of a connection, three ways (a cancelled scope, an expired ``fail_after``, a
``break``): the socket is closed at once, no descriptor, task or warning is left.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import anyio
import pytest
import trustme
from _connector_helpers import FullBacklog
from _sse_test_servers import Exchange, ScriptedServer, chunk, gzip_stream, sse_head

from reactsse.aio import AnyioLoop, aconnect, hold_shared_loop
from reactsse.errors import (
    EventTimeout,
    HTTPStatusError,
    LimitExceeded,
    ReadTimeout,
    RemoteProtocolError,
)
from reactsse.eventsource import ReadyState, TextTrace

pytestmark = pytest.mark.anyio

BOUND = 10.0  # no test here waits longer for anything


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _events(body: bytes):  # type: ignore[no-untyped-def]
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(body)
        ex.end_chunks()

    return handler


async def _collect(url: str, **options: object) -> list[tuple[str, str, str]]:
    with anyio.fail_after(BOUND):
        async with aconnect(url, **options) as events:
            return [(e.type, e.data, e.last_event_id) async for e in events]


def open_fds() -> set[str]:
    """The open descriptors (not the one listing them, which is closed when it is looked up)."""
    return {fd for fd in os.listdir("/proc/self/fd") if _describe(fd) != "?"}


def host_tasks() -> int:
    """The tasks of the running host (trio: the children of its system nursery included)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        import trio

        root = trio.lowlevel.current_root_task()
        assert root is not None
        return sum(len(n.child_tasks) for n in root.child_nurseries)


async def settle(fds: set[str], tasks: int) -> None:
    """Wait (bounded) until the host has as many tasks and descriptors as at the start."""
    with anyio.move_on_after(BOUND):
        while host_tasks() > tasks or open_fds() - fds:
            await anyio.sleep(0.002)
    left = {fd: _describe(fd) for fd in open_fds() - fds}
    assert (host_tasks(), left) == (tasks, {}), "left behind"
    gc.collect()  # a socket left to the collector would warn now (warnings are errors)


def _describe(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


async def wait_for(flag: threading.Event) -> None:
    with anyio.fail_after(BOUND):
        while not flag.is_set():
            await anyio.sleep(0.002)


# -- the semantics of connect() -------------------------------------------------------------------


async def test_iterates_every_event_then_stops() -> None:
    body = b"data: a\n\nevent: tick\ndata: b\nid: 2\n\n: ping\n\ndata: c\n\n"
    with ScriptedServer(_events(body)) as server:
        async with aconnect(server.url(), reconnect=False) as events:
            got = [(e.type, e.data, e.last_event_id) async for e in events]
            assert events.last_event_id == "2"
            assert events.source.ready_state is ReadyState.CLOSED
    assert got == [("message", "a", ""), ("tick", "b", "2"), ("message", "c", "2")]


async def test_reconnects_with_last_event_id() -> None:
    def handler(ex: Exchange) -> None:
        n = int(ex.request.header("last-event-id") or 0) + 1
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 5\nid: %d\ndata: %d\n\n" % (n, n))
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        got = []
        with anyio.fail_after(BOUND):
            async with aconnect(server.url()) as events:
                async for event in events:
                    got.append(event.data)
                    if len(got) == 4:
                        break
    assert got == ["1", "2", "3", "4"]
    assert [r.header("last-event-id") for r in server.requests] == [None, "1", "2", "3"]


async def test_204_ends_the_iteration() -> None:
    with ScriptedServer(lambda ex: ex.send_head(204)) as server:
        assert await _collect(server.url(), retry=0.01) == []
    assert server.connection_count == 1


async def test_5xx_honours_retry_after() -> None:
    def handler(ex: Exchange) -> None:
        if ex.index == 0:
            ex.send_head(503, [("Retry-After", "1"), ("Content-Length", "0")])
        else:
            _events(b"data: back\n\n")(ex)

    with ScriptedServer(handler) as server:
        start = anyio.current_time()
        with anyio.fail_after(BOUND):
            async with aconnect(server.url(), retry=0.01) as events:
                async for event in events:
                    assert event.data == "back"
                    break
        # The backoff alone would be 10 ms: the server's Retry-After (1 s) wins.
        assert anyio.current_time() - start >= 0.95


async def test_follows_redirects() -> None:
    def handler(ex: Exchange) -> None:
        if ex.request.target == "/old":
            ex.send_head(302, [("Location", "/new"), ("Content-Length", "0")])
        else:
            _events(b"data: moved\n\n")(ex)

    with ScriptedServer(handler) as server:
        got = await _collect(server.url("/old"), reconnect=False)
    assert got == [("message", "moved", "")]
    assert [r.target for r in server.requests] == ["/old", "/new"]


async def test_http_error_after_no_event_and_events_before_a_fatal_error() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(chunk(b"data: ok\n\n") + b"xyz\r\n")  # then a chunk size that is not hex
        ex.stall()

    with ScriptedServer(handler) as server:
        got = []
        with anyio.fail_after(BOUND), pytest.raises(RemoteProtocolError):
            async with aconnect(server.url()) as events:
                async for event in events:
                    got.append(event.data)
    assert got == ["ok"]

    def refuse(ex: Exchange) -> None:
        ex.send_head(401, [("Content-Type", "application/json"), ("Content-Length", "2")])
        ex.send(b"{}")

    with ScriptedServer(refuse) as server, pytest.raises(HTTPStatusError) as info:
        await _collect(server.url())
    assert info.value.status == 401


async def test_read_and_event_timeouts() -> None:
    def silent(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.stall()

    def comments(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        for _ in range(200):
            ex.send_chunk(b": keep-alive\n\n")
            if ex.server.stopping.wait(0.01):
                return

    with ScriptedServer(silent) as server, pytest.raises(ReadTimeout):
        await _collect(server.url(), reconnect=False, read_timeout=0.1)
    with ScriptedServer(comments) as server, pytest.raises(EventTimeout):
        await _collect(server.url(), reconnect=False, event_timeout=0.2, read_timeout=0.1)


async def test_event_size_limit() -> None:
    body = b"data: small\n\ndata: " + b"x" * 5000 + b"\n\n"
    with ScriptedServer(_events(body)) as server:
        got = []
        with anyio.fail_after(BOUND), pytest.raises(LimitExceeded):
            async with aconnect(server.url(), reconnect=False, max_event_size=1000) as events:
                async for event in events:
                    got.append(event.data)
    assert got == ["small"]


async def test_gzip() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head(("Content-Encoding", "gzip")))
        for part in gzip_stream([b"data: one\n\n", b"data: two\n\n"]):
            ex.send_chunk(part)
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        got = await _collect(server.url(), reconnect=False)
    assert [data for _t, data, _i in got] == ["one", "two"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_tls_and_trace(ca: trustme.CA) -> None:
    server_context, client_context = _tls_contexts(ca)
    out = io.StringIO()
    with ScriptedServer(_events(b"data: secure\n\n"), ssl_context=server_context) as server:
        got = await _collect(
            server.url(), reconnect=False, ssl_context=client_context, trace=TextTrace(out)
        )
    assert got == [("message", "secure", "")]
    assert f"* conn   connected to 127.0.0.1:{server.port} (TLSv1." in out.getvalue()


async def test_bad_arguments_fail_at_once() -> None:
    with pytest.raises(TypeError):
        aconnect("http://127.0.0.1:1/", no_such_option=1)
    with pytest.raises(ValueError):
        aconnect("http://127.0.0.1:1/", max_buffered_events=0)
    with pytest.raises(RuntimeError):
        aconnect("http://127.0.0.1:1/").__aiter__()


# -- backpressure ---------------------------------------------------------------------------------


async def test_a_slow_consumer_pauses_reading_and_loses_nothing() -> None:
    total = 3000
    sent = threading.Event()

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        for start in range(0, total, 100):
            ex.send_chunk(b"".join(b"data: %d\n\n" % n for n in range(start, start + 100)))
        ex.end_chunks()
        sent.set()

    with ScriptedServer(handler) as server:
        peak = 0
        got = []
        with anyio.fail_after(BOUND * 3):
            async with aconnect(server.url(), reconnect=False, max_buffered_events=64) as events:
                async for event in events:
                    got.append(int(event.data))
                    peak = max(peak, events.buffered)
                    if len(got) % 50 == 0:
                        await anyio.sleep(0.001)  # a consumer slower than the socket
    assert got == list(range(total))
    # At most the bound plus one socket read's events (a read is at most the 64 KiB+ buffer:
    # about 6,000 of these 10-byte events; far fewer come in one read here).
    assert peak < 64 + 6600
    assert peak < total  # the lag did not grow with the stream


async def test_a_paused_stream_does_not_time_out() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"".join(b"data: %d\n\n" % n for n in range(40)))
        ex.end_chunks()

    with ScriptedServer(handler) as server:
        got = []
        with anyio.fail_after(BOUND):
            async with aconnect(
                server.url(), reconnect=False, max_buffered_events=4, read_timeout=0.1
            ) as events:
                async for event in events:
                    got.append(event.data)
                    if len(got) == 1:
                        await anyio.sleep(0.3)  # paused for longer than the read timeout
    assert len(got) == 40


# -- cancellation at every phase -----------------------------------------------------------------


class Mute:
    """A TCP listener that accepts and never says a word (a TLS handshake waits forever)."""

    def __enter__(self) -> Mute:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port: int = self.server.getsockname()[1]
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        try:
            peer, _ = self.server.accept()
        except OSError:
            return
        self.accepted.set()
        with peer:  # read the ClientHello and answer nothing, until the client goes
            peer.settimeout(BOUND)
            try:
                while peer.recv(65536):
                    pass
            except OSError:
                pass

    def __exit__(self, *_exc: object) -> None:
        self.server.close()


PHASES = ["connecting", "tls handshake", "reading the head", "open", "waiting to reconnect"]
WAYS = ["cancel", "fail_after", "break"]


@pytest.fixture
def phase_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, threading.Event, dict]]:  # type: ignore[type-arg]
    """A server holding the client in ``request.param``'s phase: (url, reached, options)."""
    phase = request.param
    reached = threading.Event()
    if phase == "connecting":
        with FullBacklog() as full:
            reached.set()
            yield f"http://127.0.0.1:{full.port}/", reached, {}
    elif phase == "tls handshake":
        with Mute() as mute:
            yield f"https://127.0.0.1:{mute.port}/", mute.accepted, {}
    else:

        def handler(ex: Exchange) -> None:
            if phase == "reading the head":
                reached.set()
            elif phase == "open":
                ex.send_head(200, sse_head())
                ex.send_chunk(b"data: first\n\n")
                reached.set()
            else:
                ex.send_head(503, [("Content-Length", "0")])
                ex.close()
                reached.set()
                return
            ex.stall()

        with ScriptedServer(handler) as server:
            options = {"retry": 30.0} if phase == "waiting to reconnect" else {}
            yield server.url(), reached, options


async def _cancel_in_phase(url: str, reached: threading.Event, options: dict, way: str) -> None:  # type: ignore[type-arg]
    opened = anyio.Event()

    async def consume() -> None:
        async with aconnect(url, **options) as events:
            opened.set()
            async for _event in events:
                await wait_for(reached)
                await anyio.sleep(0.01)
                if way == "break":
                    break
            else:
                raise AssertionError("the stream ended by itself")

    if way == "fail_after":
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.3):
                await consume()
        return
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(consume)
        await opened.wait()
        await wait_for(reached)
        await anyio.sleep(0.02)
        tasks.cancel_scope.cancel()


@pytest.mark.parametrize("way", ["cancel", "fail_after"])
@pytest.mark.parametrize("phase_server", PHASES, indirect=True)
async def test_cancellation_closes_everything_at_once(
    phase_server: tuple[str, threading.Event, dict],  # type: ignore[type-arg]
    way: str,
) -> None:
    url, reached, options = phase_server
    await anyio.sleep(0)
    fds, tasks = open_fds(), host_tasks()
    with anyio.fail_after(BOUND):
        await _cancel_in_phase(url, reached, options, way)
    await settle(fds, tasks)


@pytest.mark.parametrize("way", WAYS)
async def test_leaving_an_open_stream_closes_the_socket_at_once(way: str) -> None:
    closed = threading.Event()

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: 1\n\ndata: 2\n\n")
        if ex.wait_client_close(BOUND):
            closed.set()

    with ScriptedServer(handler) as server:
        reached = threading.Event()
        reached.set()
        fds, tasks = open_fds(), host_tasks()
        with anyio.fail_after(BOUND):
            await _cancel_in_phase(server.url(), reached, {}, way)
            await wait_for(closed)
        await settle(fds, tasks)


async def test_an_unused_stream_can_be_closed_before_entering() -> None:
    stream = aconnect("http://127.0.0.1:9/")
    await stream.aclose()


async def _open_cancel_cycles(url: str, cycles: int) -> None:
    for n in range(cycles):
        with anyio.move_on_after(0.5 if n % 2 else 0):
            async with aconnect(url) as events:
                async for _event in events:
                    break


async def test_open_cancel_cycles_leave_nothing_behind() -> None:
    # AIO_TEST_SCALE (default 1) scales the count; 1,000 cycles per backend at scale 1.
    cycles = int(1000 * float(os.environ.get("AIO_TEST_SCALE", "1")))

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: x\n\n")
        ex.wait_client_close(BOUND)

    with ScriptedServer(handler) as server:
        tasks = host_tasks()
        await _open_cancel_cycles(server.url(), 5)  # warm up: imports, first buffers
        await settle(open_fds(), tasks)
        fds, threads = open_fds(), threading.active_count()
        with anyio.fail_after(BOUND * 4):
            await _open_cancel_cycles(server.url(), cycles)
        await settle(fds, tasks)
        assert open_fds() - fds == set()
        # The server's own threads end as their clients go; none of ours was started.
        with anyio.fail_after(BOUND):
            while threading.active_count() > threads:
                await anyio.sleep(0.01)


# -- the held shared loop ------------------------------------------------------------------------


async def test_a_held_loop_serves_stream_after_stream_then_closes() -> None:
    body = b"data: a\n\ndata: b\n\n"
    with ScriptedServer(_events(body)) as server:
        tasks, fds = host_tasks(), open_fds()
        await _collect(server.url(), reconnect=False)  # warm up: imports, first buffers
        await settle(fds, tasks)  # that stream's shared loop is gone
        with anyio.fail_after(BOUND):
            async with hold_shared_loop() as loop:
                assert isinstance(loop, AnyioLoop)
                runner_tasks = host_tasks()
                assert runner_tasks == tasks + 1  # the runner started, before any stream
                loops = []
                for _ in range(3):
                    async with aconnect(server.url(), reconnect=False) as events:
                        loops.append(events.source.loop)
                        assert [e.data async for e in events] == ["a", "b"]
                    assert host_tasks() == runner_tasks  # between streams the runner stays
        assert loops == [loop, loop, loop]
        await settle(fds, tasks)  # left: the runner ended, the selector is closed
        async with aconnect(server.url(), reconnect=False) as events:
            assert events.source.loop is not loop  # a new loop for a new user


async def test_a_held_loop_carries_your_own_timers() -> None:
    fired: list[float] = []
    with anyio.fail_after(BOUND):
        async with hold_shared_loop() as loop:
            loop.add_timer(0.01, lambda _timer: fired.append(loop.now()))
            while not fired:
                await anyio.sleep(0.005)
    assert len(fired) == 1


# -- responsiveness ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_process() -> Iterator[str]:
    """The built-in server in a process of its own: its work must not share our GIL."""
    code = (
        "import sys\n"
        "from reactsse.server import BackgroundServer\n"
        "with BackgroundServer() as server:\n"
        "    print(server.url, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        try:
            yield process.stdout.readline().strip()
        finally:
            process.stdin.close()
            process.wait(BOUND)
            process.stdout.close()


async def test_the_host_stays_responsive_under_100_fast_streams(server_process: str) -> None:
    # A tick late by more than 50 ms counts against us only if this thread was busy for 50 ms
    # of it (CPU time): on a shared, loaded machine the kernel may preempt the whole process
    # for longer, and that is no delay caused by the host's other tasks.
    streams = int(100 * float(os.environ.get("AIO_TEST_SCALE", "1")))
    late: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before, cpu = anyio.current_time(), time.thread_time()
            await anyio.sleep(0.01)
            wall = anyio.current_time() - before - 0.01
            late.append(min(wall, time.thread_time() - cpu - 0.01))

    async def stream(url: str, counts: list[int]) -> None:
        async with aconnect(url, reconnect=False) as events:
            async for _event in events:
                counts[0] += 1

    url = server_process + "/events?count=1000&interval=0"
    counts = [0]
    # The objects of the tests run before this one go to the permanent generation: a full
    # collection over them (tens of ms in a long test session) is not the host's scheduling.
    gc.collect()
    gc.freeze()
    try:
        with anyio.fail_after(BOUND * 3):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(ticker)
                async with anyio.create_task_group() as clients:
                    for _ in range(streams):
                        clients.start_soon(stream, url, counts)
                done.set()
    finally:
        gc.unfreeze()
    assert counts[0] == streams * 1000
    worst = sorted(late)[-3:]
    assert late and max(late) < 0.05, (
        f"the ticker was late by {[round(t * 1000) for t in worst]} ms"
    )
