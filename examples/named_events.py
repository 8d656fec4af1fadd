"""Named events: listen to ``response.output_text.delta`` and friends with ``EventSource.on``.

The Responses API sends every event with an ``event:`` name. A browser-style client that only
listens to ``message`` sees none of them (a classic bug); ``EventSource.on(<name>, listener)``
gets exactly the events of that name, and ``on("*", listener)`` gets every event.

Run it: ``python examples/named_events.py`` (uses the built-in server, on the same loop).
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource
from reactsse.loop import StreamSelectLoop
from reactsse.mock import MODEL_ID, MockApp, MockOptions
from reactsse.server import ServerOptions, SSEServer
from reactsse.sse import MessageEvent


def main() -> int:
    loop = StreamSelectLoop()
    server = SSEServer(
        loop, app=MockApp(MockOptions(rate=200)), options=ServerOptions(keepalive_interval=None)
    )
    source = EventSource(
        server.url + "/v1/responses",
        loop=loop,
        method="POST",
        json={"model": MODEL_ID, "input": "Tell me a story", "stream": True},
        reconnect=False,  # a POST that generated tokens is never replayed
    )
    seen: Counter[str] = Counter()
    errors: list[ReactSSEError] = []

    def on_any(event: MessageEvent) -> None:
        seen[event.type] += 1

    def on_delta(event: MessageEvent) -> None:
        sys.stdout.write(json.loads(event.data)["delta"])
        sys.stdout.flush()

    def on_completed(event: MessageEvent) -> None:
        usage = json.loads(event.data)["response"]["usage"]
        print(f"\n[response.completed] {usage['output_tokens']} output tokens")
        loop.future_tick(stop)  # after the "*" listener has seen this event too

    def on_error(error: ReactSSEError) -> None:
        errors.append(error)
        stop()

    def stop() -> None:
        source.close()
        server.close()  # nothing left on the loop: run() returns

    source.on("*", on_any)
    source.on("response.output_text.delta", on_delta)
    source.on("response.completed", on_completed)
    source.on("message", lambda _event: print("(never called: every event here is named)"))
    source.on("error", on_error)
    loop.run()
    loop.close()
    if errors:
        print(f"error: {errors[0]}", file=sys.stderr)
        return 1
    print("events by name:", ", ".join(f"{name} x{count}" for name, count in seen.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
