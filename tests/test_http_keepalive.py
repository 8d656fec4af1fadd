"""Keep-alive in the sans-IO client: ``ClientConnection.keep_alive`` and ``start_next_cycle``.

RFC 9112 §9.3: an HTTP/1.1 connection persists unless either side sends ``Connection: close``;
a close-delimited body ends with the connection. Both body readers are checked, then two
requests on one real socket to the built-in server.
"""

from __future__ import annotations

import socket

import pytest

from reactsse.errors import LocalProtocolError
from reactsse.http import ClientConnection, ConnectionState, ResponseEnd, ResponseHead, parse_url
from reactsse.server import BackgroundServer

pytestmark = pytest.mark.timeout(20)

URL = parse_url("http://127.0.0.1:8000/stream")
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
CHUNKED = HEAD + b"transfer-encoding: chunked\r\n\r\n6\r\ndata:1\r\n2\r\n\n\n\r\n0\r\n\r\n"
LENGTH = HEAD + b"content-length: 8\r\n\r\ndata:1\n\n"


@pytest.fixture(params=["batch", "h11"])
def reader(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def _exchange(
    reader: str, response: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> ClientConnection:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    conn.send_request("GET", URL, headers)
    events = conn.receive_data(response)
    assert isinstance(events[0], ResponseHead)
    assert events[1] == b"data:1\n\n"
    assert isinstance(events[-1], ResponseEnd)
    assert conn.state is ConnectionState.DONE
    return conn


@pytest.mark.parametrize("response", [CHUNKED, LENGTH], ids=["chunked", "length"])
def test_a_complete_http11_response_keeps_the_connection(reader: str, response: bytes) -> None:
    conn = _exchange(reader, response)
    assert conn.keep_alive
    conn.start_next_cycle()
    assert conn.state is ConnectionState.IDLE
    assert not conn.keep_alive
    # The next cycle is a full exchange again, on the same object.
    wire = conn.send_request("GET", URL)
    assert wire.startswith(b"GET /stream HTTP/1.1\r\n")
    events = conn.receive_data(response)
    assert events[1] == b"data:1\n\n" and isinstance(events[-1], ResponseEnd)
    assert conn.keep_alive


@pytest.mark.parametrize(
    "response",
    [
        CHUNKED.replace(b"HTTP/1.1", b"HTTP/1.0"),
        CHUNKED.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1),
        CHUNKED.replace(b"\r\n\r\n", b"\r\nConnection: Upgrade, CLOSE\r\n\r\n", 1),
        LENGTH.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1),
    ],
    ids=["http10", "close", "close-listed", "length-close"],
)
def test_the_server_asks_to_close(reader: str, response: bytes) -> None:
    conn = _exchange(reader, response)
    assert not conn.keep_alive
    with pytest.raises(LocalProtocolError, match="keep-alive"):
        conn.start_next_cycle()


def test_the_client_asks_to_close(reader: str) -> None:
    conn = _exchange(reader, CHUNKED, (("connection", "close"),))
    assert not conn.keep_alive


def test_a_close_delimited_body_ends_the_connection(reader: str) -> None:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    conn.send_request("GET", URL)
    conn.receive_data(HEAD + b"\r\ndata:1\n\n")
    events = conn.receive_data(b"")
    assert isinstance(events[-1], ResponseEnd)
    assert conn.state is ConnectionState.DONE
    assert not conn.keep_alive


def test_bytes_after_the_end_forbid_reuse(reader: str) -> None:
    conn = _exchange(reader, CHUNKED)
    assert conn.keep_alive
    assert conn.receive_data(b"HTTP/1.1 200 OK\r\n") == []  # nobody asked for it
    assert not conn.keep_alive


@pytest.mark.parametrize(
    "response",
    [LENGTH, CHUNKED, CHUNKED.replace(b"0\r\n\r\n", b"0\r\nx-t: 1\r\n\r\n")],
    ids=["length", "chunked", "chunked-trailers"],
)
@pytest.mark.parametrize("junk", [b"j", b"HTTP/1.1 200 OK\r\n"])
def test_bytes_after_the_end_in_the_same_read_forbid_reuse(
    reader: str, response: bytes, junk: bytes
) -> None:
    # Whoever reads the body (h11 keeps what follows a message; the de-chunker counts it),
    # bytes in the read that ends the response, after its end, are not returned and forbid
    # reuse; without them the connection is kept (the other tests).
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    conn.send_request("GET", URL)
    events = conn.receive_data(response + junk)
    assert events[1] == b"data:1\n\n"
    assert isinstance(events[-1], ResponseEnd)
    assert conn.state is ConnectionState.DONE
    assert not conn.keep_alive


def test_start_next_cycle_only_after_the_end(reader: str) -> None:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    with pytest.raises(LocalProtocolError, match="state idle"):
        conn.start_next_cycle()
    conn.send_request("GET", URL)
    conn.receive_data(CHUNKED[:-5])
    assert conn.state is ConnectionState.BODY and not conn.keep_alive
    with pytest.raises(LocalProtocolError, match="state body"):
        conn.start_next_cycle()


def _read_response(sock: socket.socket, conn: ClientConnection) -> bytes:
    body = b""
    while True:
        data = sock.recv(65536)
        for event in conn.receive_data(data):
            if type(event) is bytes:
                body += event
            elif isinstance(event, ResponseEnd):
                return body
        assert data, "the server closed before the end of the response"


def test_two_streams_on_one_socket_to_the_built_in_server(reader: str) -> None:
    with BackgroundServer() as server:
        url = parse_url(f"{server.url}/events?count=3&interval=0")
        conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            for _ in range(2):
                sock.sendall(conn.send_request("GET", url))
                body = _read_response(sock, conn)
                assert body.count(b"data:") == 3
                assert conn.keep_alive
                conn.start_next_cycle()


def test_a_request_built_once_is_sent_the_same_and_a_bad_one_fails_every_time() -> None:
    headers = (("X-Run", "1"), ("Connection", "close"))
    first, second = ClientConnection(), ClientConnection()
    wire = first.send_request("GET", URL, headers)
    assert second.send_request("GET", URL, iter(headers)) == wire
    assert b"\r\nX-Run: 1\r\n" in wire and b"\r\nConnection: close\r\n" in wire
    assert first.receive_data(CHUNKED)[-1] == ResponseEnd() and not first.keep_alive
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="invalid request"):
            ClientConnection().send_request("GET", URL, (("Bad Name", "x"),))
