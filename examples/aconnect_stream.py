"""The common case: ``aconnect`` and ``AsyncOpenAIClient`` in an async program (asyncio or trio).

``async with aconnect(url) as events: async for event in events`` has the semantics of
``reactsse.connect()`` (reconnects with ``Last-Event-ID``, timeouts, limits, TLS, gzip, trace);
leaving the block, by any way, closes the connection at once. ``AsyncOpenAIClient`` gives the
typed deltas of ``OpenAIClient`` the same way.

Run it: ``python examples/aconnect_stream.py`` (``--trio`` to run it on trio).
"""

from __future__ import annotations

import sys

import anyio

from reactsse.aio import AsyncOpenAIClient, aconnect
from reactsse.server import BackgroundServer


async def main(base: str) -> None:
    # Any SSE endpoint; the stream drops every 3 events and is resumed with Last-Event-ID.
    async with aconnect(f"{base}/events?count=6&interval=0&drop_every=3&retry=10") as events:
        async for event in events:
            print(f"event {event.last_event_id}: {event.data}")
            if event.last_event_id == "6":
                break  # closes the connection at once

    # An OpenAI-compatible chat completion (here the built-in mock server).
    client = AsyncOpenAIClient(base_url=f"{base}/v1", api_key="")
    async with client.iter_chat("Tell me about Alice", model="any") as deltas:
        text = "".join([delta.content or "" async for delta in deltas])
    assert deltas.result is not None
    print(f"chat: {len(text.split())} words, finish_reason={deltas.result.finish_reason}")


if __name__ == "__main__":
    with BackgroundServer() as server:
        anyio.run(main, server.url, backend="trio" if "--trio" in sys.argv else "asyncio")
