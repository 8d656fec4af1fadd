"""Tests of reactsse.http: URLs, request bytes, response events, errors, content decoding.

The differential tests of the two chunked-body readers live in test_http_dechunk.py.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse import __version__
from reactsse.errors import (
    ConnectionClosed,
    InvalidURL,
    LimitExceeded,
    LocalProtocolError,
    ReactSSEError,
    RemoteProtocolError,
)
from reactsse.http import (
    URL,
    ClientConnection,
    ConnectionState,
    ContentDecoder,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    content_decoder_for,
    parse_url,
)
from reactsse.http.content import DEFAULT_MAX_DECODED_PER_CALL

READERS = ["batch", "h11"]


@pytest.fixture(params=READERS)
def reader(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def _connection(reader: str, method: str = "GET", **kwargs: int) -> ClientConnection:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11", **kwargs)
    conn.send_request(method, parse_url("http://127.0.0.1:8000/stream"))
    return conn


def _fault(
    conn: ClientConnection, data: bytes, kind: type[ReactSSEError], words: str | None = None
) -> tuple[list[ResponseEvent], ReactSSEError]:
    """Feed ``data``, which holds a fault: the call returns what came before the fault and leaves
    the connection in ERROR; the next call raises the fault (``kind``, matching ``words``), the
    one after it LocalProtocolError. Returns what the faulty call returned, and the fault."""
    events = conn.receive_data(data)
    assert conn.state is ConnectionState.ERROR
    with pytest.raises(kind, match=words) as info:
        conn.receive_data(b"more")
    with pytest.raises(LocalProtocolError, match="after the connection failed"):
        conn.receive_data(b"more")
    return events, info.value


def _feed_all(conn: ClientConnection, *pieces: bytes) -> list[ResponseEvent]:
    events: list[ResponseEvent] = []
    for piece in pieces:
        events += conn.receive_data(piece)
    return events


def _body(events: list[ResponseEvent]) -> bytes:
    return b"".join(e for e in events if isinstance(e, bytes))


HEAD_CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)

# --------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target", "host_header", "text"),
    [
        (
            "http://example.com",
            "http",
            "example.com",
            80,
            "/",
            "example.com",
            "http://example.com/",
        ),
        (
            "HTTPS://Example.COM:443/a/b?x=1&y=2#frag",
            "https",
            "example.com",
            443,
            "/a/b?x=1&y=2",
            "example.com",
            "https://example.com/a/b?x=1&y=2",
        ),
        (
            "http://127.0.0.1:8080?q",
            "http",
            "127.0.0.1",
            8080,
            "/?q",
            "127.0.0.1:8080",
            "http://127.0.0.1:8080/?q",
        ),
        ("http://[::1]/x", "http", "::1", 80, "/x", "[::1]", "http://[::1]/x"),
        ("https://[::1]:8443/", "https", "::1", 8443, "/", "[::1]:8443", "https://[::1]:8443/"),
        (
            "http://bücher.de/ä b",
            "http",
            "xn--bcher-kva.de",
            80,
            "/%C3%A4%20b",
            "xn--bcher-kva.de",
            "http://xn--bcher-kva.de/%C3%A4%20b",
        ),
        ("http://h/%41%2F", "http", "h", 80, "/%41%2F", "h", "http://h/%41%2F"),
    ],
)
def test_parse_url(
    url: str, scheme: str, host: str, port: int, target: str, host_header: str, text: str
) -> None:
    parsed = parse_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == (scheme, host, port, target)
    assert parsed.host_header == host_header
    assert str(parsed) == text
    assert parsed.origin == (scheme, host, port)
    assert parsed.is_tls is (scheme == "https")
    assert parse_url(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/", "ftp"),
        ("example.com/path", "no scheme"),
        ("//example.com/", "no scheme"),
        ("http://", "no host"),
        ("http:///path", "no host"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com:abc/", "bad port"),
        ("http://example.com:70000/", "bad port"),
        ("http://example.com:0/", "port 0"),
        ("http://[::1/", "invalid URL"),
        ("http://[nothex::1]/", "IPv6"),
        ("http://exa mple.com/", "bad host"),
        ("http://exa\x00mple.com/", "bad host"),
    ],
)
def test_parse_url_rejects(url: str, words: str) -> None:
    with pytest.raises(InvalidURL, match=words) as info:
        parse_url(url)
    assert isinstance(info.value, ValueError)


def test_parse_url_rejects_non_str() -> None:
    with pytest.raises(InvalidURL):
        parse_url(b"http://x/")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/other?x=1", "http://h:8080/other?x=1"),
        ("next", "http://h:8080/a/next"),
        ("../up", "http://h:8080/up"),
        ("?q=2", "http://h:8080/a/b?q=2"),
        ("//elsewhere/p", "http://elsewhere/p"),
        ("https://secure.example/p#f", "https://secure.example/p"),
    ],
)
def test_url_join(location: str, expected: str) -> None:
    assert str(parse_url("http://h:8080/a/b?x").join(location)) == expected


def test_url_join_rejects_other_scheme() -> None:
    with pytest.raises(InvalidURL):
        parse_url("http://h/").join("ftp://h/x")


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.text(max_size=30),
)
def test_parse_url_property(scheme: str, host: str, port: int | None, path: str) -> None:
    authority = host if port is None else f"{host}:{port}"
    raw = f"{scheme}://{authority}/{path}"
    try:
        url = parse_url(raw)
    except InvalidURL:
        return  # some random paths are not URLs (e.g. contain '[' that urlsplit rejects)
    assert url.host == host
    assert url.port == (port if port is not None else {"http": 80, "https": 443}[scheme])
    assert url.target.startswith("/")
    assert all(0x21 <= ord(ch) <= 0x7E for ch in url.target)  # h11 accepts it as a target
    assert parse_url(str(url)) == url


# --------------------------------------------------------------------------------------------
# Requests


def _request_headers(wire: bytes) -> tuple[h11.Request, list[tuple[bytes, bytes]], bytes]:
    server = h11.Connection(h11.SERVER)
    server.receive_data(wire)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while True:
        event = server.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        else:
            assert isinstance(event, h11.EndOfMessage)
            break
    return request, list(request.headers.raw_items()), body


def test_send_request_defaults() -> None:
    wire = ClientConnection().send_request("GET", parse_url("http://127.0.0.1:8000/s?x=1"))
    request, headers, body = _request_headers(wire)
    assert request.method == b"GET"
    assert request.target == b"/s?x=1"
    assert headers == [
        (b"Host", b"127.0.0.1:8000"),
        (b"Accept", b"text/event-stream"),
        (b"Cache-Control", b"no-cache"),
        (b"User-Agent", f"reactsse/{__version__}".encode()),
    ]
    assert body == b""
    assert b"accept-encoding" not in wire.lower()


def test_send_request_user_headers_override_case_insensitively() -> None:
    wire = ClientConnection().send_request(
        "POST",
        parse_url("https://api.example/v1"),
        headers=[("accept", "application/json"), ("X-A", "1"), ("x-a", " 2\t"), ("HOST", "h")],
        body=b'{"a": 1}',
    )
    _, headers, body = _request_headers(wire)
    assert headers == [
        (b"HOST", b"h"),  # h11 writes Host first (RFC 9112 §3.2 SHOULD)
        (b"Cache-Control", b"no-cache"),
        (b"User-Agent", f"reactsse/{__version__}".encode()),
        (b"accept", b"application/json"),
        (b"X-A", b"1"),
        (b"x-a", b"2"),
        (b"Content-Length", b"8"),
    ]
    assert body == b'{"a": 1}'


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "post"])
def test_bodiless_post_put_patch_send_content_length_zero(method: str) -> None:
    wire = ClientConnection().send_request(method, parse_url("http://h/"))
    assert b"\r\nContent-Length: 0\r\n" in wire


def test_get_with_body_and_user_content_length() -> None:
    wire = ClientConnection().send_request("GET", parse_url("http://h/"), body=b"abc")
    assert wire.endswith(b"Content-Length: 3\r\n\r\nabc")
    with pytest.raises(LocalProtocolError):
        ClientConnection().send_request(
            "POST", parse_url("http://h/"), [("Content-Length", "5")], body=b"abc"
        )


@pytest.mark.parametrize(
    "header",
    [
        ("X-Bad", "a\r\nInjected: 1"),
        ("X-Bad", "a\nb"),
        ("X-Bad", "a\x00b"),
        ("X-Bad\r\n", "a"),
        ("X Bad", "a"),
        ("", "a"),
        ("X-Bad", "€"),
    ],
)
def test_send_request_rejects_bad_headers(header: tuple[str, str]) -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection().send_request("GET", parse_url("http://h/"), [header])


def test_send_request_once_and_receive_before_send() -> None:
    conn = ClientConnection()
    with pytest.raises(LocalProtocolError, match="before send_request"):
        conn.receive_data(b"HTTP/1.1 200 OK\r\n\r\n")
    conn = ClientConnection()
    assert conn.state is ConnectionState.IDLE
    conn.send_request("GET", parse_url("http://h/"))
    assert conn.state is ConnectionState.HEAD
    with pytest.raises(LocalProtocolError, match="once"):
        conn.send_request("GET", parse_url("http://h/"))


def test_bad_method_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection().send_request("GE T", parse_url("http://h/"))


# --------------------------------------------------------------------------------------------
# Responses


def test_response_head_and_chunked_body(reader: str) -> None:
    conn = _connection(reader)
    events = conn.receive_data(HEAD_CHUNKED + b"5\r\nhello\r\n6\r\n world\r\n")
    assert len(events) == 2
    head, body = events
    assert isinstance(head, ResponseHead)
    assert head.status == 200
    assert head.reason == "OK"
    assert head.http_version == "1.1"
    assert head.content_type == "text/event-stream"
    assert head.get("TRANSFER-ENCODING") == "chunked"
    assert body == b"hello world"
    assert conn.state is ConnectionState.BODY
    assert conn.receive_data(b"0\r\nX-Trailer: t\r\n\r\n") == [
        ResponseEnd(trailers=(("x-trailer", "t"),))
    ]
    assert conn.state is ConnectionState.DONE
    assert conn.receive_data(b"junk after the end") == []
    assert conn.receive_data(b"") == []


def test_everything_in_one_call_is_ordered(reader: str) -> None:
    conn = _connection(reader)
    events = conn.receive_data(HEAD_CHUNKED + b"3\r\nabc\r\n0\r\n\r\n")
    assert [type(e) for e in events] == [ResponseHead, bytes, ResponseEnd]
    assert events[1] == b"abc"
    assert events[2] == ResponseEnd()


def test_response_head_get_joins_repeats_and_content_type() -> None:
    head = ResponseHead(
        200,
        "OK",
        (
            ("set-cookie", "a=1"),
            ("content-type", "Text/Event-Stream ; charset=utf-8"),
            ("set-cookie", "b"),
        ),
        "1.1",
    )
    assert head.get("Set-Cookie") == "a=1, b"
    assert head.get("missing") is None
    assert head.content_type == "text/event-stream"
    assert ResponseHead(200, "OK", (), "1.1").content_type is None


def test_header_values_are_latin1(reader: str) -> None:
    conn = _connection(reader)
    (head,) = conn.receive_data(
        b"HTTP/1.1 200 \xc3\xa9\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n"
    )[:1]
    assert isinstance(head, ResponseHead)
    assert head.get("x-name") == "caf\xe9"
    assert head.reason == "\xc3\xa9"


def test_informational_responses_are_skipped(reader: str) -> None:
    conn = _connection(reader)
    events = _feed_all(
        conn,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n",
        b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    )
    assert [type(e) for e in events] == [ResponseHead, bytes, ResponseEnd]
    assert isinstance(events[0], ResponseHead) and events[0].status == 200


def test_content_length_body(reader: str) -> None:
    conn = _connection(reader)
    events = _feed_all(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", b"56789extra")
    assert _body(events) == b"0123456789"
    assert events[-1] == ResponseEnd()


def test_close_delimited_body_ends_cleanly_at_eof(reader: str) -> None:
    conn = _connection(reader)
    events = _feed_all(conn, b"HTTP/1.0 200 OK\r\n\r\ndata: 1\n\n", b"data: 2\n\n")
    assert _body(events) == b"data: 1\n\ndata: 2\n\n"
    assert conn.receive_data(b"") == [ResponseEnd()]
    assert conn.state is ConnectionState.DONE


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(reader: str, status: int) -> None:
    conn = _connection(reader)
    events = conn.receive_data(
        f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    assert [type(e) for e in events] == [ResponseHead, ResponseEnd]


def test_head_request_has_no_body(reader: str) -> None:
    conn = _connection(reader, method="HEAD")
    events = conn.receive_data(HEAD_CHUNKED)
    assert [type(e) for e in events] == [ResponseHead, ResponseEnd]


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed HTTP response"),
        (b"\x16\x03\x01\x02\x00\x01\x00", "did not send an HTTP"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed HTTP response"),
        (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "Bad Header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"),
        (b"\r\nHTTP/1.1 200 OK\r\n\r\n", "no response line"),
    ],
)
def test_malformed_heads(reader: str, data: bytes, words: str) -> None:
    conn = _connection(reader)
    events, error = _fault(conn, data, RemoteProtocolError, words)
    assert events == []
    assert isinstance(error.__cause__, h11.RemoteProtocolError) or b"\x16" in data


def test_head_too_large(reader: str) -> None:
    conn = _connection(reader, max_header_size=1024)
    events, error = _fault(conn, b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1100, LimitExceeded)
    assert events == []
    assert isinstance(error, LimitExceeded) and error.limit == 1024
    conn = _connection(reader, max_header_size=1024)
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1100 + b"\r\n\r\n"
    assert _fault(conn, big, LimitExceeded)[0] == []  # complete but too big, in one piece
    conn = _connection(reader, max_header_size=1024)
    assert conn.receive_data(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 900 + b"\r\n\r\n")


def test_bad_chunk_keeps_earlier_body(reader: str) -> None:
    conn = _connection(reader)
    wire = HEAD_CHUNKED + b"5\r\nhello\r\nzz\r\nnever"
    events, error = _fault(conn, wire, RemoteProtocolError, "chunk")
    assert [type(e) for e in events] == [ResponseHead, bytes]
    assert events[1] == b"hello"
    assert not isinstance(error, ConnectionClosed)
    with pytest.raises(LocalProtocolError, match="after the connection failed"):
        conn.receive_data(b"5\r\nhello\r\n")
    with pytest.raises(LocalProtocolError, match="after the connection failed"):
        conn.receive_data(b"")


def test_the_fault_is_raised_by_raise_error_too(reader: str) -> None:
    conn = _connection(reader)
    conn.raise_error()  # nothing to raise
    assert conn.receive_data(HEAD_CHUNKED + b"2\r\nab\r\nzz\r\n")[1:] == [b"ab"]
    with pytest.raises(RemoteProtocolError, match="chunk"):
        conn.raise_error()
    with pytest.raises(LocalProtocolError, match="after the connection failed"):
        conn.raise_error()


def test_error_in_the_hot_path_then_nothing_more(reader: str) -> None:
    conn = _connection(reader)
    assert conn.receive_data(HEAD_CHUNKED + b"2\r\nab\r\n")[1] == b"ab"
    assert _fault(conn, b"3\r\ncde\r\nxyz\r\n", RemoteProtocolError)[0] == [b"cde"]
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"3\r\ncde\r\n")


def test_bad_chunk_footer(reader: str) -> None:
    conn = _connection(reader)
    conn.receive_data(HEAD_CHUNKED + b"3\r\nabc\r")
    assert _fault(conn, b"X", RemoteProtocolError, "chunk footer")[0] == []


@pytest.mark.parametrize(
    "response",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-",
        HEAD_CHUNKED,
        HEAD_CHUNKED + b"5\r\nhel",
        HEAD_CHUNKED + b"5\r\nhello\r\n",
        HEAD_CHUNKED + b"5\r\nhello\r\n0\r\n",
        HEAD_CHUNKED + b"5\r\nhello\r\n0\r\nX-T: 1\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
    ],
)
def test_eof_before_the_end_is_connection_closed(reader: str, response: bytes) -> None:
    conn = _connection(reader)
    if response:
        conn.receive_data(response)
    _, error = _fault(conn, b"", ConnectionClosed, "before the response was complete")
    assert isinstance(error, ConnectionClosed)
    assert error.host == "127.0.0.1"
    assert error.port == 8000


def test_constructor_validates() -> None:
    with pytest.raises(ValueError):
        ClientConnection(body_reader="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ClientConnection(max_header_size=0)


# --------------------------------------------------------------------------------------------
# A real server on 127.0.0.1


class _OneShotServer:
    """Accepts one connection on 127.0.0.1, reads the request head, writes ``response``."""

    def __init__(self, response: list[bytes]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.request = b""
        self._response = response
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sock, _ = self._listener.accept()
        with sock:
            while b"\r\n\r\n" not in self.request:
                self.request += sock.recv(65536)
            for piece in self._response:
                sock.sendall(piece)

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.fixture
def sse_server() -> Iterator[_OneShotServer]:
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in (b"data: %d\n\n" % i for i in range(200))]
    server = _OneShotServer([HEAD_CHUNKED, *chunks, b"0\r\n\r\n"])
    yield server
    server.close()


def test_real_socket_round_trip(reader: str, sse_server: _OneShotServer) -> None:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    url = parse_url(f"http://127.0.0.1:{sse_server.port}/events")
    events: list[ResponseEvent] = []
    with socket.create_connection(("127.0.0.1", sse_server.port), timeout=10) as sock:
        sock.sendall(conn.send_request("GET", url))
        while conn.state is not ConnectionState.DONE:
            events += conn.receive_data(sock.recv(65536))
    assert sse_server.request.startswith(b"GET /events HTTP/1.1\r\n")
    assert b"".join(b"data: %d\n\n" % i for i in range(200)) == _body(events)
    assert isinstance(events[0], ResponseHead) and events[-1] == ResponseEnd()


# --------------------------------------------------------------------------------------------
# Content-Encoding


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


PAYLOAD = b"data: " + b"token " * 2000 + b"\n\n"


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(PAYLOAD)),
        ("x-gzip", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("deflate", _deflate_raw(PAYLOAD)),
        ("gzip", gzip.compress(PAYLOAD[:5000]) + gzip.compress(PAYLOAD[5000:])),
        ("identity, gzip", gzip.compress(PAYLOAD)),
        ("deflate, gzip", gzip.compress(zlib.compress(PAYLOAD))),
    ],
)
@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_content_decoder(coding: str, encoded: bytes, step: int) -> None:
    decoder = ContentDecoder(coding)
    out = b"".join(decoder.decode(encoded[i : i + step]) for i in range(0, len(encoded), step))
    assert out + decoder.flush() == PAYLOAD


def test_content_decoder_for() -> None:
    def head(*headers: tuple[str, str]) -> ResponseHead:
        return ResponseHead(200, "OK", headers, "1.1")

    assert content_decoder_for(head()) is None
    assert content_decoder_for(head(("content-encoding", "identity"))) is None
    assert isinstance(content_decoder_for(head(("content-encoding", "GZIP"))), ContentDecoder)
    with pytest.raises(RemoteProtocolError, match="'br'"):
        content_decoder_for(head(("content-encoding", "br")))


def test_content_decoder_errors() -> None:
    with pytest.raises(RemoteProtocolError, match="gzip"):
        ContentDecoder("gzip").decode(b"definitely not gzip")
    truncated = ContentDecoder("gzip")
    truncated.decode(gzip.compress(PAYLOAD)[:-10])
    with pytest.raises(RemoteProtocolError, match="truncated"):
        truncated.flush()
    assert ContentDecoder("gzip").flush() == b""  # an empty body is fine


def test_content_decoder_bounds_a_decompression_bomb() -> None:
    bomb = gzip.compress(b"\0" * (8 << 20))  # ~8 KiB that inflate to 8 MiB
    decoder = ContentDecoder("gzip", max_output_per_call=1 << 20)
    with pytest.raises(LimitExceeded) as info:
        decoder.decode(bomb)
    assert info.value.limit == 1 << 20
    # Fed in small reads, the same body is fine: each read inflates to less than the cap.
    decoder = ContentDecoder("gzip", max_output_per_call=1 << 20)
    total = sum(len(decoder.decode(bomb[i : i + 64])) for i in range(0, len(bomb), 64))
    assert total + len(decoder.flush()) == 8 << 20


@settings(max_examples=50)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 500), min_size=1, max_size=20))
def test_content_decoder_any_cuts(payload: bytes, cuts: list[int]) -> None:
    for coding, encoded in (("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload))):
        decoder = ContentDecoder(coding)
        out, pos, i = b"", 0, 0
        while pos < len(encoded):
            step = cuts[i % len(cuts)]
            out += decoder.decode(encoded[pos : pos + step])
            pos += step
            i += 1
        assert out + decoder.flush() == payload


def test_url_is_frozen() -> None:
    url = parse_url("http://h/")
    with pytest.raises(AttributeError):
        url.host = "x"  # type: ignore[misc]
    assert isinstance(url, URL)


def test_switching_protocols_is_an_error(reader: str) -> None:
    conn = ClientConnection(body_reader="batch" if reader == "batch" else "h11")
    conn.send_request("GET", parse_url("http://h/"), [("Connection", "upgrade"), ("Upgrade", "x")])
    response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"
    assert _fault(conn, response, RemoteProtocolError, "switched protocols")[0] == []


def test_receive_data_copies_a_reused_buffer(reader: str) -> None:
    conn = _connection(reader)
    buffer = bytearray(HEAD_CHUNKED + b"3\r\nabc\r\n")
    events = conn.receive_data(buffer)  # type: ignore[arg-type]
    buffer[:] = b"X" * len(buffer)
    assert events[1] == b"abc"


# --------------------------------------------------------------------------------------------
# Properties of head parsing: any cut gives the head h11 parses from the whole; no crash on noise

_token = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", fullmatch=True)
_value = st.from_regex(
    r"[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]{0,20}[\x21-\x7e\x80-\xff])?", fullmatch=True
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(200, 599),
    st.from_regex(r"[A-Za-z ]{0,12}", fullmatch=True),
    st.lists(st.tuples(_token, _value), max_size=6),
    st.lists(st.integers(100, 199).filter(lambda s: s != 101), max_size=2),
    st.lists(st.integers(0, 400), max_size=6),
    st.sampled_from(["batch", "h11"]),
)
def test_head_at_any_cut_equals_h11(
    status: int,
    reason: str,
    headers: list[tuple[str, str]],
    informational: list[int],
    cuts: list[int],
    reader: str,
) -> None:
    headers = [
        (n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")
    ]
    final = f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    final += b"".join(n.encode() + b": " + v.encode("latin-1") + b"\r\n" for n, v in headers)
    final += b"Content-Length: 0\r\n\r\n"
    wire = b"".join(b"HTTP/1.1 %d Info\r\n\r\n" % s for s in informational) + final
    reference = h11.Connection(h11.CLIENT)
    reference.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
    reference.receive_data(final)
    expected = reference.next_event()
    assert isinstance(expected, h11.Response)

    conn = _connection(reader)
    points = sorted({c for c in cuts if 0 < c < len(wire)})
    events: list[ResponseEvent] = []
    for a, b in zip([0, *points], [*points, len(wire)], strict=True):
        events += conn.receive_data(wire[a:b])
    assert [type(e) for e in events] == [ResponseHead, ResponseEnd]
    head = events[0]
    assert isinstance(head, ResponseHead)
    assert head.status == expected.status_code == status
    assert head.reason == expected.reason.decode("latin-1")
    assert head.headers == tuple(
        (n.decode("latin-1"), v.decode("latin-1")) for n, v in expected.headers
    )


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=4), st.booleans())
def test_noise_raises_only_our_errors(noise: bytes, cuts: list[int], prefix: bool) -> None:
    wire = (b"HTTP/1.1 200 OK\r\n" if prefix else b"") + noise
    conn = ClientConnection(max_header_size=128)
    conn.send_request("GET", parse_url("http://h/"))
    points = sorted({c for c in cuts if 0 < c < len(wire)})
    try:
        for a, b in zip([0, *points], [*points, len(wire)], strict=True):
            conn.receive_data(wire[a:b])
        conn.receive_data(b"")
    except (RemoteProtocolError, ConnectionClosed):
        assert conn.state is ConnectionState.ERROR


def _gzip_events(count: int, coding: str = "gzip") -> tuple[bytes, bytes]:
    """``count`` SSE events, and them compressed as a streaming server does: flushed every
    100 bytes (Z_SYNC_FLUSH), so that what arrived so far always decodes."""
    events_text = b"".join(b"data: %d\n\n" % i for i in range(count))
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    compressor = zlib.compressobj(wbits=wbits)
    compressed = b"".join(
        compressor.compress(events_text[i : i + 100]) + compressor.flush(zlib.Z_SYNC_FLUSH)
        for i in range(0, len(events_text), 100)
    )
    return events_text, compressed + compressor.flush()


def _chunked(head: bytes, body: bytes, size: int = 77, last: bool = True) -> bytes:
    wire = head
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        wire += b"%x\r\n%s\r\n" % (len(piece), piece)
    return wire + (b"0\r\n\r\n" if last else b"")


GZIP_CHUNKED = HEAD_CHUNKED.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
GZIP_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"
GZIP_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"


def test_gzip_chunked_stream_end_to_end(reader: str) -> None:
    """The body bytes come out decoded; the decoder's last bytes come with the end."""
    events_text, compressed = _gzip_events(300)
    wire = _chunked(GZIP_CHUNKED, compressed)
    conn = _connection(reader)
    events: list[ResponseEvent] = []
    for i in range(0, len(wire), 500):
        events += conn.receive_data(wire[i : i + 500])
    assert _body(events) == events_text
    assert isinstance(events[0], ResponseHead) and events[-1] == ResponseEnd()
    assert conn.state is ConnectionState.DONE
    assert conn.encoded_size is not None


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["chunked", "close", "length"]),
    st.sampled_from(["gzip", "deflate", "identity"]),
    st.lists(st.integers(0, 3000), max_size=10),
    st.sampled_from(READERS),
    st.booleans(),
)
def test_any_split_gives_the_same_decoded_body_and_end(
    framing: str, coding: str, cuts: list[int], reader: str, views: bool
) -> None:
    events_text, compressed = _gzip_events(150, coding if coding != "identity" else "gzip")
    body = events_text if coding == "identity" else compressed
    head = GZIP_CLOSE.replace(b"gzip", coding.encode())
    if framing == "chunked":
        wire = _chunked(GZIP_CHUNKED.replace(b"gzip", coding.encode()), body)
    elif framing == "length":
        wire = GZIP_LENGTH.replace(b"gzip", coding.encode()) % len(body) + body
    else:
        wire = head + body
    conn = _connection(reader)
    points = sorted({c % len(wire) for c in cuts if c % len(wire)})
    events: list[ResponseEvent] = []
    for a, b in zip([0, *points, len(wire)], [*points, len(wire), len(wire)], strict=True):
        piece = wire[a:b]
        if views and piece:
            events += conn.receive_data(memoryview(bytearray(piece)))
        elif piece or framing == "close":
            events += conn.receive_data(piece)  # the last, empty piece is EOF
    assert _body(events) == events_text
    assert [type(e) for e in events if not isinstance(e, bytes)] == [ResponseHead, ResponseEnd]
    assert conn.state is ConnectionState.DONE


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_gzip_fault_after_whole_events_keeps_them(reader: str, framing: str) -> None:
    """Valid gzip data holding whole events, then corrupt bytes, in one read: the call returns
    the events decoded from the valid part; the fault comes with the next call."""
    events_text, compressed = _gzip_events(100)
    valid = compressed[: len(compressed) // 2]
    corrupt = b"\xff" * 40
    if framing == "chunked":
        wire = _chunked(GZIP_CHUNKED, valid + corrupt, size=4096, last=False)
    else:
        wire = GZIP_CLOSE + valid + corrupt
    conn = _connection(reader)
    events, _ = _fault(conn, wire, RemoteProtocolError, "cannot decode the gzip")
    assert isinstance(events[0], ResponseHead)
    decoded = _body(events)
    expected = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(valid)
    assert decoded == expected
    assert decoded.count(b"\n\n") >= 40 and events_text.startswith(decoded)


def test_gzip_fault_in_a_later_read_keeps_the_earlier_part_of_that_read(reader: str) -> None:
    events_text, compressed = _gzip_events(400)
    third = len(compressed) // 3
    # Cut where the server flushed (Z_SYNC_FLUSH ends with 00 00 ff ff): a block header follows,
    # and 0xff there is an invalid block type.
    flushed = compressed.index(b"\x00\x00\xff\xff", 2 * third) + 4
    conn = _connection(reader)
    first = conn.receive_data(GZIP_CLOSE + compressed[:third])
    events, _ = _fault(conn, compressed[third:flushed] + b"\xff" * 8, RemoteProtocolError)
    decoded = _body(first) + _body(events)
    assert decoded == zlib.decompressobj(31).decompress(compressed[:flushed])
    assert len(decoded) > len(events_text) // 2 and events_text.startswith(decoded)


def test_gzip_truncated_at_the_end_is_a_fault(reader: str) -> None:
    events_text, compressed = _gzip_events(50)
    conn = _connection(reader)
    events = conn.receive_data(GZIP_CLOSE + compressed[:-4])
    assert _body(events) == events_text
    assert _fault(conn, b"", RemoteProtocolError, "truncated")[0] == []


def test_gzip_bomb_is_a_limit_fault(reader: str) -> None:
    bomb = gzip.compress(b"\0" * (DEFAULT_MAX_DECODED_PER_CALL + 1))
    conn = _connection(reader)
    events, _ = _fault(conn, GZIP_CLOSE + bomb, LimitExceeded, "decompression bomb")
    assert [type(e) for e in events] == [ResponseHead]


def test_unsupported_coding_is_a_fault_after_the_head(reader: str) -> None:
    conn = _connection(reader)
    head = GZIP_CHUNKED.replace(b"gzip", b"br")
    events, _ = _fault(conn, head + b"5\r\nhello\r\n", RemoteProtocolError, "'br'")
    assert [type(e) for e in events] == [ResponseHead]


@pytest.mark.parametrize(
    ("informational", "limit", "outcome"),
    [
        (0, 0, "head"),
        (2, 2, "head"),  # exactly the cap: skipped
        (3, 2, "limit"),  # one more: LimitExceeded
        (32, 32, "head"),
        (33, None, "limit"),  # the default cap, 32
    ],
)
def test_the_count_of_1xx_heads_is_capped(
    informational: int, limit: int | None, outcome: str
) -> None:
    connection = ClientConnection() if limit is None else ClientConnection(max_informational=limit)
    connection.send_request("GET", parse_url("http://127.0.0.1:8000/"))
    wire = b"HTTP/1.1 102 Processing\r\n\r\n" * informational
    wire += b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    events = connection.receive_data(wire)
    if outcome == "head":
        assert isinstance(events[0], ResponseHead) and events[0].status == 200
        return
    assert events == []
    with pytest.raises(LimitExceeded, match=r"more than max_informational=\d+ 1xx responses"):
        connection.receive_data(b"")


def test_max_informational_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_informational"):
        ClientConnection(max_informational=-1)
