"""``AnyioLoop`` inside an asyncio program: a tiny relay server, FastAPI-style, without FastAPI.

An asyncio server (``asyncio.start_server``) answers each request with an event stream that it
relays from an upstream SSE endpoint. The upstream is read by an ``EventSource`` on an
``AnyioLoop``, awaited in the request's own task with ``run_async()``: the ReactPHP-style code
(listeners, reconnects, timeouts) runs unchanged, and the asyncio server keeps serving other
requests meanwhile. Two clients read the relay at once, to show it.

Run it: ``python examples/embed_asyncio_relay.py``.
"""

from __future__ import annotations

import asyncio

from reactsse.aio import AnyioLoop, aconnect
from reactsse.eventsource import EventSource
from reactsse.server import BackgroundServer
from reactsse.sse import MessageEvent, encode_event

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
)


def relay_handler(upstream: str):  # type: ignore[no-untyped-def]
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request (its details do not matter here)
        writer.write(HEAD)
        loop = AnyioLoop()
        source = EventSource(upstream, loop=loop, reconnect=False)

        def forward(event: MessageEvent) -> None:
            # A listener on the loop: no await here; asyncio buffers what the socket refuses.
            writer.write(encode_event(f"relayed {event.data}", id=event.last_event_id))

        source.on("message", forward)
        try:
            await loop.run_async()  # returns when the upstream stream ended (nothing left)
        finally:
            source.close()
            loop.close()
            writer.close()
            await writer.wait_closed()

    return relay


async def read_relay(url: str) -> list[str]:
    async with aconnect(url, reconnect=False) as events:
        return [event.data async for event in events]


async def main() -> None:
    with BackgroundServer() as upstream:
        handler = relay_handler(f"{upstream.url}/events?count=4&interval=0.01")
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            first, second = await asyncio.gather(
                read_relay(f"http://127.0.0.1:{port}/"), read_relay(f"http://127.0.0.1:{port}/")
            )
    print("client 1:", first)
    print("client 2:", second)


if __name__ == "__main__":
    asyncio.run(main())
