"""Reconnection: a stream that drops every few events, resumed with ``Last-Event-ID``.

The built-in ``/events`` stream numbers its events (``id: N``) and, with ``drop_every=M``,
closes the connection after every M events. ``EventSource`` reconnects after the server's
``retry:`` time and sends ``Last-Event-ID``; the server resumes after it, so every event arrives
exactly once, in order, across the reconnects (WHATWG HTML §9.2.3).

Run it: ``python examples/reconnect.py``.
"""

from __future__ import annotations

import sys

from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource
from reactsse.loop import StreamSelectLoop
from reactsse.server import ServerOptions, SSEServer
from reactsse.sse import MessageEvent

TOTAL = 10


def main() -> int:
    loop = StreamSelectLoop()
    server = SSEServer(loop, options=ServerOptions(keepalive_interval=None))
    # count: 10 events; interval: 20 ms apart; drop_every: close after every 4 events;
    # retry: the server tells the client to wait 100 ms before reconnecting.
    url = f"{server.url}/events?count={TOTAL}&interval=0.02&drop_every=4&retry=100"
    source = EventSource(url, loop=loop)  # GET: reconnects by default
    received: list[str] = []
    opens = 0

    def on_open() -> None:
        nonlocal opens
        opens += 1
        resume = f" (Last-Event-ID: {source.last_event_id})" if source.last_event_id else ""
        print(f"open #{opens}{resume}")

    def on_message(event: MessageEvent) -> None:
        received.append(event.last_event_id)
        print(f"  id={event.last_event_id:>2}  data={event.data!r}")
        if len(received) == TOTAL:
            source.close()
            server.close()  # nothing left on the loop: run() returns

    def on_error(error: ReactSSEError) -> None:
        # While ready_state is CONNECTING the source reconnects by itself.
        print(f"  dropped: {error}; reconnecting ({source.ready_state.name})")

    source.on("open", on_open)
    source.on("message", on_message)
    source.on("error", on_error)
    loop.run()
    loop.close()
    expected = [str(n) for n in range(1, TOTAL + 1)]
    print(
        f"{len(received)} events over {opens} connections, none lost or repeated:",
        received == expected,
    )
    return 0 if received == expected else 1


if __name__ == "__main__":
    sys.exit(main())
