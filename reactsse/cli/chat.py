"""``reactsse demo`` (the built-in server and the client on one loop) and ``reactsse chat``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from reactsse.cli.common import (
    client_trace,
    load_tools,
    parse_headers,
    say,
    warnings_as_lines,
)
from reactsse.cli.exits import EXIT_OK
from reactsse.cli.printer import ChatPrinter
from reactsse.openai import ChatCompletion, OpenAIClient, ResponseCompleted, ResponseResult

__all__ = ["DEFAULT_MODEL", "DEMO_PROMPT", "cmd_chat", "cmd_demo"]

DEMO_PROMPT = "Tell me how Alice's adventure begins."
DEFAULT_MODEL = "gpt-4o-mini"


def cmd_demo(args: argparse.Namespace) -> int:
    if args.browser:
        from reactsse.cli.serve import serve_relay

        serve_relay(host="127.0.0.1", port=args.port, rate=args.rate or None, open_browser=True)
        return EXIT_OK
    from reactsse.loop import StreamSelectLoop
    from reactsse.mock import MODEL_ID, MockApp, MockOptions
    from reactsse.server import ServerOptions, SSEServer

    loop = StreamSelectLoop()
    app = MockApp(MockOptions(rate=args.rate))
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    trace = client_trace(args)
    # api_key="": the built-in server needs none, and the user's real key must not be sent.
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", loop=loop, trace=trace)
    endpoint = "/v1/responses" if args.responses else "/v1/chat/completions"
    say(
        f"reactsse demo: built-in OpenAI-compatible server on {server.url}, "
        f"client and server on one {type(loop).__name__}"
    )
    say(f"POST {endpoint}  model={MODEL_ID}  rate={args.rate:g} tokens/s  prompt={args.prompt!r}")
    printer = ChatPrinter(trace=trace)
    outcome: list[ChatCompletion | ResponseResult | Exception] = []

    def finished(result: ChatCompletion | ResponseResult | Exception) -> None:
        outcome.append(result)
        server.close()  # nothing left on the loop: run() returns

    # The same request and outcome callbacks through either API; only the per-item one differs.
    request: dict[str, Any] = {
        "model": MODEL_ID,
        "tools": load_tools(args.tools),
        "on_done": finished,
        "on_error": finished,
    }
    try:
        with warnings_as_lines():
            if args.responses:
                handle: Any = client.start_responses(
                    args.prompt, on_event=printer.responses_event, **request
                )
            else:
                handle = client.start_chat(args.prompt, on_delta=printer.chat_delta, **request)
            loop.run()
    finally:
        if not outcome:  # Ctrl-C or a bug: release everything before leaving
            handle.close()
            server.close()
        loop.close()
    (result,) = outcome
    if isinstance(result, Exception):
        printer.end_line()
        raise result
    printer.summary(result)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    client = OpenAIClient(
        api_key=None,  # OPENAI_API_KEY
        base_url=args.base_url,  # None: OPENAI_BASE_URL, else api.openai.com
        headers=dict(parse_headers(args.header)),
        read_timeout=args.read_timeout,
        connect_timeout=args.connect_timeout,
        trace=client_trace(args),
    )
    model = args.model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    tools = load_tools(args.tools)
    extra: dict[str, Any] = {}
    if args.max_tokens is not None:
        extra["max_output_tokens" if args.responses else "max_tokens"] = args.max_tokens
    if args.temperature is not None:
        extra["temperature"] = args.temperature
    printer = ChatPrinter(trace=args.trace)
    try:
        with warnings_as_lines():
            if args.responses:
                with client.iter_responses(
                    args.prompt,
                    model=model,
                    instructions=args.system,
                    tools=tools,
                    extra=extra,
                ) as events:
                    for event in events:
                        if not isinstance(event, ResponseCompleted):
                            printer.responses_event(event)
                result: ChatCompletion | ResponseResult | None = events.result
            else:
                messages: list[dict[str, Any]] = []
                if args.system is not None:
                    messages.append({"role": "system", "content": args.system})
                messages.append({"role": "user", "content": args.prompt})
                with client.iter_chat(messages, model=model, tools=tools, extra=extra) as deltas:
                    for delta in deltas:
                        printer.chat_delta(delta)
                result = deltas.result
    finally:
        printer.end_line()
    if result is not None:
        printer.summary(result)
    return EXIT_OK
