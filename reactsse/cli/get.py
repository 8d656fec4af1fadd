"""``reactsse get``: read any SSE endpoint, like ``curl -N``."""

from __future__ import annotations

import argparse
import json
import sys

from reactsse.cli.common import client_trace, parse_headers, read_data, write
from reactsse.cli.exits import EXIT_OK
from reactsse.cli.raw_trace import RawTrace
from reactsse.eventsource import Trace
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
    count = 0
    with _connect(
        args.url,
        method=method,
        headers=headers,
        body=body,
        reconnect=args.reconnect,
        reconnect_with_body=args.reconnect,
        last_event_id=args.last_event_id or "",
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        trace=trace,
    ) as events:
        for event in events:
            if args.format == "jsonl":
                write(event_json(event) + "\n")
            elif args.format == "text":
                write(event_text(event) + "\n")
            count += 1
            if shown is not None:
                shown.shown()  # the trace lines that came after this event may go out
            if args.max_events is not None and count >= args.max_events:
                break
    if shown is not None:
        shown.finish()
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
