"""``AnyioLoop`` inside a trio program, next to trio's own tasks.

An ``EventSource`` (the same code that runs on ``StreamSelectLoop``) runs on an ``AnyioLoop``
awaited in a trio nursery, while another trio task ticks: the stream does not stop the host.

Run it: ``python examples/embed_trio.py``.
"""

from __future__ import annotations

import trio

from reactsse.aio import AnyioLoop
from reactsse.eventsource import EventSource
from reactsse.server import BackgroundServer
from reactsse.sse import MessageEvent


async def main(url: str) -> None:
    loop = AnyioLoop()  # hosted by whatever runs it: here trio
    source = EventSource(url, loop=loop, reconnect=False)
    ticks = 0

    def on_message(event: MessageEvent) -> None:
        print(f"event {event.last_event_id}: {event.data}")

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0.005)

    source.on("message", on_message)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await loop.run_async()  # until the stream ends
        nursery.cancel_scope.cancel()
    loop.close()
    print(f"meanwhile, trio's other task ticked {ticks} times")


if __name__ == "__main__":
    with BackgroundServer() as server:
        trio.run(main, f"{server.url}/events?count=5&interval=0.02")
