"""Embedding without any event loop library: the sans-IO layers on a bare ``selectors`` loop.

``reactsse.http.ClientConnection`` turns a request into bytes and the response's bytes into a
head, body pieces and an end; ``reactsse.sse.EventStreamDecoder`` turns body bytes into events.
Neither touches a socket, a clock or a loop, so any loop can drive them: here, thirty lines of
``selectors`` that read three streams at once from the built-in server.

Run it: ``python examples/embed_selectors.py``.
"""

from __future__ import annotations

import selectors
import socket

from reactsse.http import ClientConnection, ResponseEnd, ResponseHead, parse_url
from reactsse.server import BackgroundServer
from reactsse.sse import EventStreamDecoder


def stream_all(urls: list[str]) -> dict[str, list[str]]:
    """Read every event of every URL, concurrently, on one selector; the data per URL."""
    selector = selectors.DefaultSelector()
    received: dict[str, list[str]] = {}
    for text in urls:
        url = parse_url(text)
        http, decoder = ClientConnection(), EventStreamDecoder()
        sock = socket.create_connection((url.host, url.port))
        sock.sendall(http.send_request("GET", url))  # a few hundred bytes: one send
        sock.setblocking(False)
        received[text] = []
        selector.register(sock, selectors.EVENT_READ, (text, http, decoder))
    while selector.get_map():
        for key, _mask in selector.select():
            text, http, decoder = key.data
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            ended = not data  # EOF; receive_data(b"") ends a close-delimited body or fails
            for item in http.receive_data(data):
                if isinstance(item, ResponseHead):
                    assert item.status == 200, item.status
                elif isinstance(item, ResponseEnd):
                    ended = True
                else:  # body bytes (de-chunked, decompressed): the decoder makes events
                    received[text].extend(event.data for event in decoder.feed(item))
            if ended:
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return received


def main() -> int:
    with BackgroundServer() as server:
        urls = [f"{server.url}/events?count={n}&interval=0" for n in (3, 5, 7)]
        for url, data in stream_all(urls).items():
            print(f"{url.split('?')[1]}: {len(data)} events, last {data[-1]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
