"""Hostile clients against ``reactsse.server``: each case opens raw sockets on 127.0.0.1, does
what a careless or malicious client does, and checks the outcome its docstring states.

Every socket operation has a timeout, so no case can hang; the servers are started by the
cases (``BackgroundServer``, or an ``SSEServer`` on a loop the case runs itself).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import resource
import socket
import sys
import threading
import time
from collections.abc import Iterator

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactsse.loop import TimerInterface, VirtualTimeLoop
from reactsse.mock import MockApp
from reactsse.server import BackgroundServer, BodyReply, Request, ServerOptions, SSEServer
from reactsse.server.server import ACCEPT_RETRY_DELAY

TIMEOUT = 5.0


def path_app(request: Request) -> BodyReply:
    """Answers every request with its own path, so that order can be checked."""
    return BodyReply(200, request.path)


class Records(logging.Handler):
    """Every record of the ``reactsse.server`` logger, from any thread, while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@contextlib.contextmanager
def server_records() -> Iterator[Records]:
    logger = logging.getLogger("reactsse.server")
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a timeout fails the test)."""
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


class Responses:
    """Reads HTTP/1.1 responses off a raw socket in order, with h11 as the client."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = h11.Connection(h11.CLIENT)

    def next(self, target: str = "/") -> tuple[int, bytes]:
        """The next response's status and body (``target``: what the request asked for)."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        # h11 tracks the request it answers; these bytes were already sent by the case.
        self.conn.send(h11.Request(method="GET", target=target, headers=[("host", "x")]))
        self.conn.send(h11.EndOfMessage())
        status, body = 0, bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError("the server closed before the response")


@pytest.fixture
def path_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(path_app) as server:
        yield server


@pytest.fixture
def mock_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(MockApp()) as server:
        yield server


# -- pipelining ----------------------------------------------------------------------------------


def test_5000_pipelined_requests_are_all_answered_in_order(path_server: BackgroundServer) -> None:
    """5,000 requests sent back to back on one connection, before reading any answer: every one
    is answered, in order, with no RecursionError; while the client does not read, the server
    holds at most ``high_water`` bytes plus one response for it (it stops taking requests)."""
    count = 5000
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in range(count))
    sock = connect(path_server.port)
    sender = threading.Thread(target=sock.sendall, args=(requests,), daemon=True)
    with sock, server_records() as records:
        sender.start()
        time.sleep(0.3)  # the client reads nothing yet
        held = path_server.call(lambda server: server.buffered_size)
        assert held <= ServerOptions().high_water + 1024
        responses = Responses(sock)
        for n in range(count):
            assert responses.next(f"/{n}") == (200, b"/%d" % n)
        sender.join(TIMEOUT)
        assert not sender.is_alive()
    assert records.at(logging.ERROR) == []


# -- Transfer-Encoding with Content-Length --------------------------------------------------------


def test_transfer_encoding_with_content_length_is_refused_and_closed(
    path_server: BackgroundServer,
) -> None:
    """A request with both ``Transfer-Encoding`` and ``Content-Length``, followed by a pipelined
    GET: one 400 with ``Connection: close`` and a JSON error naming both headers, then the
    connection closes; the pipelined GET is never answered (RFC 9112 §6.1, request smuggling)."""
    with connect(path_server.port) as sock:
        sock.sendall(
            b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        data = read_to_close(sock)
    assert data.count(b"HTTP/1.1") == 1
    assert b"/smuggled" not in data
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(body) == {
        "error": {
            "message": "Bad request: both Transfer-Encoding and Content-Length.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


# -- limits on what a client sends ----------------------------------------------------------------


@pytest.mark.parametrize(
    "last_event_id",
    [b"9" * 5000, b"1" * 19, b"\xb2", b"-1", b"abc"],
    ids=["5000-digits", "19-digits", "superscript-two", "negative", "letters"],
)
def test_last_event_id_not_ours_restarts_at_1(
    mock_server: BackgroundServer, last_event_id: bytes
) -> None:
    """``GET /events`` with a ``Last-Event-ID`` the server never sent (5,000 digits, more digits
    than its ids have, a non-ASCII digit, a sign, letters): 200 and the stream starts at 1."""
    with connect(mock_server.port) as sock:
        sock.sendall(
            b"GET /events?count=2&interval=0 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: "
            + last_event_id
            + b"\r\n\r\n"
        )
        status, body = Responses(sock).next()
    assert status == 200
    assert body == b"id: 1\nretry: 1000\ndata: event 1\n\nid: 2\ndata: event 2\n\n"


def test_query_count_with_hundreds_of_digits_is_a_400(mock_server: BackgroundServer) -> None:
    """``GET /events?count=`` with 400 digits (too big for a float): 400 naming ``count``."""
    with connect(mock_server.port) as sock:
        sock.sendall(b"GET /events?count=" + b"9" * 400 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = Responses(sock).next()
    assert status == 400
    assert json.loads(body)["error"]["param"] == "count"


def test_json_body_nested_100000_deep_is_a_400(mock_server: BackgroundServer) -> None:
    """A chat request whose JSON body is nested 100,000 deep: 400 with a JSON error saying it is
    nested too deeply; the connection then serves the next request."""
    nested = b"[" * 100_000 + b"]" * 100_000
    with connect(mock_server.port) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n"
            % len(nested)
            + nested
            + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        responses = Responses(sock)
        status, body = responses.next()
        assert (status, responses.next("/v1/models")[0]) == (400, 200)
    assert json.loads(body) == {
        "error": {
            "message": "The JSON body of your request is nested too deeply to be parsed.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


# -- accept() out of file descriptors -------------------------------------------------------------


@contextlib.contextmanager
def descriptors_exhausted() -> Iterator[list[int]]:
    """Fill this process's file descriptor table (under a lowered soft RLIMIT_NOFILE).

    Yields the list of filler descriptors; clearing it early (``free(fillers)``) makes room
    again. Everything is closed and the limit restored on the way out.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 64
    low = in_use + 64 if soft == resource.RLIM_INFINITY else min(soft, in_use + 64)
    fillers: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as error:
                assert error.errno == errno.EMFILE
                break
        yield fillers
    finally:
        free(fillers)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def free(fillers: list[int]) -> None:
    while fillers:
        os.close(fillers.pop())


@pytest.mark.skipif(sys.platform != "linux", reason="counts descriptors in /proc/self/fd")
def test_accept_without_descriptors_backs_off_and_recovers(path_server: BackgroundServer) -> None:
    """Clients connect while the server has no file descriptor left (accept() fails with EMFILE):
    the server neither spins (its loop thread uses little CPU; one WARNING, no ERROR) nor dies,
    and once descriptors are free it answers the waiting clients and new ones."""
    # The client sockets exist before the table is full, and connect once it is: the server's
    # thread accepts at once, and must find no descriptor left.
    clients = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
    with server_records() as records, contextlib.ExitStack() as stack:
        for sock in clients:
            stack.enter_context(sock)
            sock.settimeout(TIMEOUT)
        with descriptors_exhausted() as fillers:
            for n, sock in enumerate(clients):
                sock.connect(("127.0.0.1", path_server.port))
                sock.sendall(b"GET /waiting%d HTTP/1.1\r\nHost: x\r\n\r\n" % n)
            cpu_before = path_server.call(lambda _server: time.thread_time())
            time.sleep(1.2)
            cpu = path_server.call(lambda _server: time.thread_time()) - cpu_before
            failed = records.at(logging.WARNING)
            free(fillers)
            for n, sock in enumerate(clients):
                assert Responses(sock).next() == (200, b"/waiting%d" % n)
        assert cpu < 0.3, f"the server's loop used {cpu:.2f} s of CPU in 1.2 s"
        assert len(failed) == 1 and "accept() out of resources" in failed[0]
        assert "Too many open files" in failed[0]
        with connect(path_server.port) as sock:
            sock.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            assert Responses(sock).next() == (200, b"/after")
    assert records.at(logging.ERROR) == []
    assert records.at(logging.INFO) == ["accept() works again; accepting clients"]


@pytest.mark.skipif(sys.platform != "linux", reason="counts descriptors in /proc/self/fd")
def test_accept_back_off_is_exactly_the_retry_delay_on_the_loop_clock() -> None:
    """On a VirtualTimeLoop: accept() fails at t0, again at the retry t0 + 1 s (descriptors are
    freed at t0 + 1.5 s), and succeeds at t0 + 2 s, where the request reaches the app; the
    failure is logged once as a WARNING, the second at DEBUG."""
    loop = VirtualTimeLoop()
    seen: list[float] = []

    def app(request: Request) -> BodyReply:
        seen.append(loop.now())
        loop.future_tick(loop.stop)
        return BodyReply(200, request.path)

    server = SSEServer(loop, app=app)
    t0 = loop.now()
    with server, connect(server.port) as sock, server_records() as records:
        sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        with descriptors_exhausted() as fillers:

            def make_room(_timer: TimerInterface) -> None:
                free(fillers)

            loop.add_timer(1.5 * ACCEPT_RETRY_DELAY, make_room)
            loop.add_timer(10.0, lambda _timer: loop.stop())  # bounds the case if it fails
            loop.run()
        assert Responses(sock).next() == (200, b"/late")
    assert ACCEPT_RETRY_DELAY == 1.0
    assert seen == [pytest.approx(t0 + 2 * ACCEPT_RETRY_DELAY, abs=1e-9)]
    assert len(records.at(logging.WARNING)) == 1
    assert len(records.at(logging.DEBUG)) == 1
    assert records.at(logging.INFO) == ["accept() works again; accepting clients"]


# -- fuzzing the request parsing ------------------------------------------------------------------

METHODS = [b"GET", b"POST", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"G\x00T", b""]
TARGETS = [b"/", b"/events?count=2&interval=0", b"/v1/models", b"/v1/chat/completions"]
HEADER_NAMES = [
    b"host",
    b"content-length",
    b"transfer-encoding",
    b"last-event-id",
    b"expect",
    b"connection",
    b"content-type",
    b"authorization",
]
header_value = st.one_of(
    st.binary(max_size=24),
    st.sampled_from([b"chunked", b"0", b"5", b"-1", b"100-continue", b"close", b"9" * 5000]),
)
structured_request = st.builds(
    lambda method, target, version, headers, body: (
        method
        + b" "
        + target
        + b" "
        + version
        + b"\r\n"
        + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        + b"\r\n"
        + body
    ),
    st.sampled_from(METHODS),
    st.one_of(st.sampled_from(TARGETS), st.binary(max_size=30)),
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.x"]),
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=5),
    st.binary(max_size=40),
)
request_bytes = st.one_of(st.binary(max_size=200), structured_request)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(MockApp()) as server:
        yield server


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=request_bytes)
def test_random_request_bytes_get_a_4xx_or_an_answer_never_a_500(
    fuzz_server: BackgroundServer, data: bytes
) -> None:
    """Random bytes, or random requests from plausible parts, then the client's EOF: every
    response the server sends is a 4xx or a correct answer (a 501 only for a Transfer-Encoding
    other than one "chunked"), never a 500; nothing is logged as an error, and the server answers a
    good request afterwards."""
    with server_records() as records:
        with connect(fuzz_server.port) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            answer = read_to_close(sock)
        for line in answer.split(b"\r\n"):
            if line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")):
                status = int(line[9:12])
                # RFC 9112 §6.1: a transfer coding the server does not implement gets a 501
                # (h11's hint for any Transfer-Encoding other than one "chunked").
                unknown_coding = b"Not implemented: " in answer and b"Transfer-Encoding" in answer
                assert status < 500 or (status == 501 and unknown_coding), answer[:300]
        with connect(fuzz_server.port) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            assert Responses(sock).next("/v1/models")[0] == 200
    assert records.at(logging.ERROR) == []


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "model",
    "messages",
    "input",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "tools",
    "tool_choice",
    "n",
]
api_body = st.one_of(
    json_value,
    st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=6),
    st.fixed_dictionaries(
        {
            "model": st.text(max_size=8),
            "messages": st.lists(
                st.fixed_dictionaries({"role": st.text(max_size=6), "content": json_value}),
                max_size=2,
            ),
        },
        optional={name: json_value for name in FIELDS[3:]},
    ),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v1/chat/completions", "/v1/responses"]),
    body=api_body,
)
def test_random_json_bodies_get_a_4xx_or_an_answer_never_a_500(
    fuzz_server: BackgroundServer, path: str, body: object
) -> None:
    """Random JSON values, and objects made of the API's own field names with random values,
    posted to the OpenAI-compatible endpoints: a 2xx or a 4xx, never a 5xx, nothing logged as
    an error; the connection then serves the next request."""
    data = json.dumps(body).encode()
    with server_records() as records, connect(fuzz_server.port) as sock:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n"
            % (path.encode(), len(data))
            + data
            + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        responses = Responses(sock)
        status, answer = responses.next(path)
        assert 200 <= status < 500, answer[:300]
        assert responses.next("/v1/models")[0] == 200
    assert records.at(logging.ERROR) == []
