"""``reactsse.eventsource.connect``: the blocking iterator, against real servers on 127.0.0.1."""

from __future__ import annotations

import threading

import pytest
from _sse_test_servers import Exchange, ScriptedServer, chunk, sse_head

from reactsse.errors import ConnectError, HTTPStatusError, RemoteProtocolError
from reactsse.eventsource import EventIterator, EventSource, ReadyState, connect
from reactsse.loop import StreamSelectLoop
from reactsse.sse import MessageEvent


def _events(body: bytes):  # type: ignore[no-untyped-def]
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(body)
        ex.end_chunks()

    return handler


def test_iterates_every_event_then_stops() -> None:
    body = b"data: a\n\nevent: tick\ndata: b\nid: 2\n\n: ping\n\ndata: c\n\n"
    with ScriptedServer(_events(body)) as server, connect(server.url(), reconnect=False) as events:
        got = [(e.type, e.data, e.last_event_id) for e in events]
        assert events.last_event_id == "2"
        assert events.source.ready_state is ReadyState.CLOSED
    assert got == [("message", "a", ""), ("tick", "b", "2"), ("message", "c", "2")]


def test_breaking_out_of_the_with_block_closes_the_connection() -> None:
    client_closed = threading.Event()

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: 1\n\ndata: 2\n\n")
        if ex.wait_client_close(5.0):
            client_closed.set()

    with ScriptedServer(handler) as server:
        with connect(server.url()) as events:
            for event in events:
                assert event.data == "1"
                break
        assert client_closed.wait(5.0)
        assert events.source.ready_state is ReadyState.CLOSED
        with pytest.raises(StopIteration):
            next(events)


def test_breaking_out_without_with_closes_the_connection() -> None:
    client_closed = threading.Event()

    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send_chunk(b"data: 1\n\n")
        if ex.wait_client_close(5.0):
            client_closed.set()

    with ScriptedServer(handler) as server:
        for event in connect(server.url()):
            assert event.data == "1"
            break
        # The iterator was dropped with the loop: its finaliser closed the socket.
        assert client_closed.wait(5.0)


def test_http_error_is_raised_from_the_iterator() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(401, [("Content-Type", "application/json"), ("Content-Length", "24")])
        ex.send(b'{"error": "bad api key"}')

    with (
        ScriptedServer(handler) as server,
        connect(server.url()) as events,
        pytest.raises(HTTPStatusError) as info,
    ):
        next(events)
    assert info.value.status == 401
    assert info.value.body == '{"error": "bad api key"}'


def test_events_before_a_fatal_error_are_yielded_first() -> None:
    def handler(ex: Exchange) -> None:
        ex.send_head(200, sse_head())
        ex.send(chunk(b"data: ok\n\n") + b"xyz\r\n")  # then a chunk size that is not hex
        ex.stall()

    with ScriptedServer(handler) as server, connect(server.url()) as events:
        assert next(events).data == "ok"
        with pytest.raises(RemoteProtocolError):
            next(events)
        with pytest.raises(StopIteration):
            next(events)


def test_204_ends_the_iteration_at_once() -> None:
    with (
        ScriptedServer(lambda ex: ex.send_head(204)) as server,
        connect(server.url(), retry=0.01) as events,
    ):
        assert list(events) == []
    assert server.connection_count == 1


def test_reconnects_transparently_with_last_event_id() -> None:
    def handler(ex: Exchange) -> None:
        n = int(ex.request.header("last-event-id") or 0) + 1
        ex.send_head(200, sse_head())
        ex.send_chunk(b"retry: 5\nid: %d\ndata: %d\n\n" % (n, n))
        ex.end_chunks()

    with ScriptedServer(handler) as server, connect(server.url()) as events:
        got = []
        for event in events:
            got.append(event.data)
            if len(got) == 4:
                break
    assert got == ["1", "2", "3", "4"]
    assert [r.header("last-event-id") for r in server.requests] == [None, "1", "2", "3"]


def test_one_shot_post_with_json() -> None:
    with (
        ScriptedServer(_events(b"data: {}\n\ndata: [DONE]\n\n")) as server,
        connect(server.url("/v1/x"), method="POST", json={"stream": True}) as events,
    ):
        assert [e.data for e in events] == ["{}", "[DONE]"]
    request = server.requests[0]
    assert (request.method, request.body) == ("POST", b'{"stream":true}')
    assert request.header("content-type") == "application/json"


def test_refused_connection_raises_with_reconnect_off() -> None:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with (
        connect(f"http://127.0.0.1:{port}/", reconnect=False) as events,
        pytest.raises(ConnectError) as info,
    ):
        next(events)
    assert str(port) in str(info.value)


def test_events_of_one_read_are_queued_in_one_call_and_loop_stops_once_per_read() -> None:
    # The iterator's own listener takes a whole read's events at once (one call, one
    # loop.stop()); the events, their order and their ids are the same as one call per event.
    # connect() is an EventSource and an EventIterator on a private loop: the same pair on a
    # loop of our own counts the runs.
    class CountingLoop(StreamSelectLoop):
        runs = 0

        def run(self) -> None:
            self.runs += 1
            super().run()

    body = b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(50))
    loop = CountingLoop()
    with ScriptedServer(_events(body)) as server:
        source = EventSource(server.url(), loop=loop, reconnect=False)
        with EventIterator(source, loop) as events:
            got = [(e.data, e.last_event_id) for e in events]
    assert got == [(str(i), str(i)) for i in range(50)]
    # One chunk, one read (4 KiB holds it): the head may come in a read of its own, and the end
    # of the stream needs one more run; never one run per event.
    assert loop.runs <= 4


def test_a_listener_added_to_the_source_sees_each_event_and_may_close_it() -> None:
    # With another listener the iterator falls back to one call per event, in registration
    # order, and a close() from that listener stops the rest of the read from being queued.
    body = b"".join(b"data: %d\n\n" % i for i in range(10))
    with ScriptedServer(_events(body)) as server, connect(server.url(), reconnect=False) as events:
        seen: list[str] = []

        def listener(event: MessageEvent) -> None:
            seen.append(event.data)
            if event.data == "4":
                events.source.close()

        events.source.on("*", listener)
        got = [e.data for e in events]
    assert seen == ["0", "1", "2", "3", "4"]
    assert got == ["0", "1", "2", "3", "4"]


def test_connect_iterators_in_threads_share_the_read_buffers_safely() -> None:
    """Reads of every transport go through one free list of buffers (reactsse.connector): four
    connect() iterators in four threads, and the built-in server's own loop thread, read at the
    same time, and every stream arrives whole, in order, with its ids."""
    from reactsse.server import BackgroundServer, ServerOptions

    count = 3000
    results: dict[int, list[tuple[str, str]]] = {}
    errors: list[BaseException] = []

    def read(index: int) -> None:
        try:
            with connect(f"{server.url}/events?count={count}&interval=0", reconnect=False) as it:
                results[index] = [(event.data, event.last_event_id) for event in it]
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with BackgroundServer(options=ServerOptions(keepalive_interval=None)) as server:
        threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors, errors
    expected = [(f"event {n}", str(n)) for n in range(1, count + 1)]
    assert sorted(results) == [0, 1, 2, 3]
    for events in results.values():
        assert events == expected
