"""``reactsse get``: read any SSE endpoint, like ``curl -N``."""

from __future__ import annotations

import argparse
import json
import sys

from reactsse.cli.common import client_trace, parse_headers, reach_options, read_data, write
from reactsse.cli.exits import EXIT_OK
from reactsse.cli.raw_trace import RawTrace
from reactsse.cli.tracing import CliTrace
from reactsse.eventsource import EventSourceOptions, Trace
from reactsse.eventsource import connect as _connect
from reactsse.sse import MessageEvent

__all__ = ["cmd_get"]


def cmd_get(args: argparse.Namespace) -> int:
    headers = parse_headers(args.header)
    body = read_data(args.data) if args.data is not None else None
    method = args.method or ("POST" if body is not None else "GET")
    if (
        body is not None
        and not any(name.lower() == "content-type" for name, _ in headers)
        and looks_like_json(body)
    ):
        headers.append(("Content-Type", "application/json"))
    # ordered: the events are shown after the loop delivered them (a blocking iterator).
    shown = client_trace(args, ordered=True)
    trace: Trace | None = shown
    if args.format == "raw":
        trace = RawTrace(shown, sys.stdout)
    options = EventSourceOptions(
        method=method,
        headers=headers,
        body=body,
        reconnect=args.reconnect,
        reconnect_with_body=args.reconnect,
        last_event_id=args.last_event_id or "",
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        **reach_options(args),
        event_timeout=args.event_timeout,
        trace=trace,
    )
    if args.loop != "select":
        from reactsse.aio import run

        return run(lambda: _get_async(args, options, shown), backend=args.loop)
    printer = _Printer(args, shown)
    with _connect(args.url, options=options) as events:
        for event in events:
            if printer.show(event):
                break
    return printer.finish()


async def _get_async(
    args: argparse.Namespace, options: EventSourceOptions, shown: CliTrace | None
) -> int:
    """``cmd_get`` in an asyncio or trio program: the same events, through ``aconnect``."""
    from reactsse.aio import aconnect

    printer = _Printer(args, shown)
    async with aconnect(args.url, options=options) as events:
        async for event in events:
            if printer.show(event):
                break
    return printer.finish()


class _Printer:
    """Prints the events of ``get`` as ``--format`` says, for the blocking and the async loop."""

    def __init__(self, args: argparse.Namespace, shown: CliTrace | None) -> None:
        self._format = args.format
        self._max_events: int | None = args.max_events
        self._shown = shown
        self._count = 0

    def show(self, event: MessageEvent) -> bool:
        """Print one event; True when ``--max-events`` is reached.

        Then the trace lines that came after this event may go out (``shown``: the trace holds
        them until the event they followed is printed).
        """
        self._count += 1
        if self._format == "jsonl":
            write(event_json(event) + "\n")
        elif self._format == "text":
            write(event_text(event) + "\n")
        if self._shown is not None:
            self._shown.shown()
        return self._max_events is not None and self._count >= self._max_events

    def finish(self) -> int:
        """The stream ended (or ``--max-events`` was reached): the trace's last lines go out."""
        if self._shown is not None:
            self._shown.finish()
        return EXIT_OK


def looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def event_json(event: MessageEvent) -> str:
    # The stable --format jsonl interface: exactly these three keys, in this order.
    record = {"type": event.type, "data": event.data, "last_event_id": event.last_event_id}
    return json.dumps(record, ensure_ascii=False)


def event_text(event: MessageEvent) -> str:
    return event.data if event.type == "message" else f"[{event.type}] {event.data}"
