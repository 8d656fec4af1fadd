"""The server's pure crossing between h11's events and the app's types (``server/messages.py``).

The same behaviour is tested over real sockets in ``test_server.py``; these pin down the rules
one by one, and h11 itself reads back what the functions produce.
"""

from __future__ import annotations

import h11
from hypothesis import given
from hypothesis import strategies as st

from reactsse.server import BodyReply, EventStream
from reactsse.server.messages import (
    STREAM_HEADERS,
    app_request,
    body_reply_events,
    content_length,
    stream_head,
)

_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)


def _wire(events: list[h11.Event], method: bytes = b"GET") -> tuple[h11.Response, bytes]:
    """Send ``events`` as a server answering ``method``, and read them back as a client."""
    server, client = h11.Connection(h11.SERVER), h11.Connection(h11.CLIENT)
    request = h11.Request(method=method, target="/", headers=[("host", "x")])
    server.receive_data(client.send(request) + (client.send(h11.EndOfMessage()) or b""))
    assert isinstance(server.next_event(), h11.Request)
    assert isinstance(server.next_event(), h11.EndOfMessage)
    client.receive_data(b"".join(server.send(event) or b"" for event in events))
    # Every event h11 reads out of the bytes, up to its asking for more.
    head, *rest = iter(client.next_event, h11.NEED_DATA)
    assert isinstance(head, h11.Response)
    assert rest and isinstance(rest[-1], h11.EndOfMessage), rest
    return head, b"".join(event.data for event in rest if isinstance(event, h11.Data))


@given(
    headers=st.lists(st.tuples(_TOKEN, _VALUE), max_size=8),
    body=st.binary(max_size=64),
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE"]),
)
def test_the_app_sees_lower_case_names_the_last_value_and_head_as_get(
    headers: list[tuple[str, str]], body: bytes, method: str
) -> None:
    raw = [(name.upper(), value.strip(" \t")) for name, value in headers]
    request = h11.Request(
        method=method,
        target="/p?q=1",
        headers=[("Host", "x"), *((n, v.encode("latin-1")) for n, v in raw)],
    )
    seen, head_only = app_request(request, body)
    assert head_only is (method == "HEAD")
    assert seen.method == ("GET" if method == "HEAD" else method)
    assert (seen.target, seen.path, seen.body) == ("/p?q=1", "/p", body)
    expected = {"host": "x"}
    for name, value in raw:
        expected[name.lower()] = value
    assert dict(seen.headers) == expected


def test_content_length_is_read_and_absent_is_zero() -> None:
    with_length = h11.Request(
        method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "12")]
    )
    assert content_length(with_length) == 12
    assert content_length(h11.Request(method="GET", target="/", headers=[("Host", "x")])) == 0


def test_a_json_reply_is_one_response_with_its_length_type_and_cors() -> None:
    events = body_reply_events(BodyReply(201, {"a": 1}, (("x-extra", "1"),)))
    assert [type(event) for event in events] == [h11.Response, h11.Data, h11.EndOfMessage]
    head, body = _wire(events)
    fields = {name: value for name, value in head.headers}
    assert head.status_code == 201 and head.reason == b"Created"
    assert body == b'{"a":1}'
    assert fields[b"content-length"] == b"7"
    assert fields[b"content-type"] == b"application/json"
    assert fields[b"access-control-allow-origin"] == b"*"
    assert fields[b"x-extra"] == b"1"
    assert b"connection" not in fields


def test_a_reply_may_name_its_own_content_type_and_ask_for_the_close() -> None:
    reply = BodyReply(400, "no", (("Content-Type", "text/x-mine"),))
    head, body = _wire(body_reply_events(reply, close=True))
    fields = [(name, value) for name, value in head.headers]
    assert [v for n, v in fields if n == b"content-type"] == [b"text/x-mine"]
    assert (b"connection", b"close") in fields
    assert body == b"no"


def test_head_204_and_304_carry_no_content() -> None:
    # HEAD: the length of the GET answer, without its content.
    head, body = _wire(body_reply_events(BodyReply(200, "abc"), head_only=True), b"HEAD")
    assert dict(head.headers)[b"content-length"] == b"3" and body == b""
    # 204 has no Content-Length and no content, even when an app gives it a body.
    events = body_reply_events(BodyReply(204, "ignored"))
    assert [type(event) for event in events] == [h11.Response, h11.EndOfMessage]
    head, body = _wire(events)
    assert b"content-length" not in dict(head.headers) and body == b""
    # 304: no content either (h11 would refuse to send any).
    assert not any(isinstance(e, h11.Data) for e in body_reply_events(BodyReply(304, "x")))


def test_a_plain_stream_gets_the_shared_head_and_others_their_own() -> None:
    plain = stream_head(EventStream(iter(())))
    assert plain is stream_head(EventStream(iter(())))  # built once
    assert (
        plain.status_code == 200
        and plain.headers == h11.Response(status_code=200, headers=STREAM_HEADERS).headers
    )
    own = stream_head(EventStream(iter(()), status=203, headers=(("x-a", "b"),)))
    assert own.status_code == 203 and own.reason == b"Non-Authoritative Information"
    assert own.headers[-1] == (b"x-a", b"b")
