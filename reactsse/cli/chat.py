"""``reactsse demo`` (the built-in server and the client on one loop) and ``reactsse chat``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from reactsse.cli.common import (
    client_trace,
    load_tools,
    parse_headers,
    reach_options,
    say,
    warn_ignored,
    warnings_as_lines,
)
from reactsse.cli.exits import EXIT_OK, UsageError
from reactsse.cli.printer import ChatPrinter
from reactsse.loop import StreamSelectLoop
from reactsse.openai import ChatCompletion, OpenAIClient, ResponseCompleted, ResponseResult

__all__ = ["DEFAULT_MODEL", "DEMO_PROMPT", "cmd_chat", "cmd_demo"]

DEMO_PROMPT = "Tell me how Alice's adventure begins."
DEFAULT_MODEL = "gpt-4o-mini"


def cmd_demo(args: argparse.Namespace) -> int:
    _warn_demo_ignored(args)
    if args.browser:
        from reactsse.cli.serve import serve_relay

        serve_relay(host="127.0.0.1", port=args.port, rate=args.rate or None, open_browser=True)
        return EXIT_OK
    from reactsse.mock import MODEL_ID, MockApp, MockOptions
    from reactsse.server import ServerOptions, SSEServer

    loop = new_loop(args.loop)
    app = MockApp(MockOptions(rate=args.rate))
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    # api_key="": the built-in server needs none, and the user's real key must not be sent.
    client = OpenAIClient(
        base_url=server.url + "/v1", api_key="", loop=loop, trace=client_trace(args)
    )
    endpoint = "/v1/responses" if args.responses else "/v1/chat/completions"
    say(
        f"reactsse demo: built-in OpenAI-compatible server on {server.url}, "
        f"client and server on one {loop_name(args.loop)}"
    )
    rate = f"{args.rate:g} tokens/s" if args.rate else "unlimited"
    say(f"POST {endpoint}  model={MODEL_ID}  rate={rate}  prompt={args.prompt!r}")
    printer = ChatPrinter(trace=args.trace)
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


def _warn_demo_ignored(args: argparse.Namespace) -> None:
    browser = args.browser
    warn_ignored(
        [
            (browser and args.prompt != DEMO_PROMPT, "--prompt is ignored with --browser"),
            (browser and args.tools is not None, "--tools is ignored with --browser"),
            (browser and args.responses, "--responses is ignored with --browser"),
            (browser and args.trace, "--trace is ignored with --browser"),
            (not browser and args.port != 0, "--port is ignored without --browser"),
            (
                not browser and args.responses and args.tools is not None,
                "--tools is ignored with --responses: the built-in server answers tool "
                "calls on chat completions only",
            ),
        ]
    )


def new_loop(name: str) -> StreamSelectLoop:
    """The loop ``--loop`` names: ``StreamSelectLoop``, or an ``AnyioLoop`` on asyncio or trio."""
    if name == "select":
        return StreamSelectLoop()
    from reactsse.aio import AnyioLoop

    return AnyioLoop(name)


def loop_name(name: str) -> str:
    return "StreamSelectLoop" if name == "select" else f"AnyioLoop on {name}"


def cmd_chat(args: argparse.Namespace) -> int:
    if not (args.base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        # api.openai.com without a key can only answer 401: say so before any traffic.
        raise UsageError(
            "OPENAI_API_KEY is not set; export it, or use --base-url for a server that needs "
            "no key (e.g. reactsse serve)"
        )
    client_options: dict[str, Any] = {
        "api_key": None,  # OPENAI_API_KEY
        "base_url": args.base_url,  # None: OPENAI_BASE_URL, else api.openai.com
        "headers": dict(parse_headers(args.header)),
        "read_timeout": args.read_timeout,
        "connect_timeout": args.connect_timeout,
        **reach_options(args),
        "event_timeout": args.event_timeout,
        "trace": client_trace(args),
    }
    model = args.model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    tools = load_tools(args.tools)
    extra: dict[str, Any] = {}
    if args.max_tokens is not None:
        extra["max_output_tokens" if args.responses else "max_tokens"] = args.max_tokens
    if args.temperature is not None:
        extra["temperature"] = args.temperature
    messages: list[dict[str, Any]] = []
    if args.system is not None:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": args.prompt})
    printer = ChatPrinter(trace=args.trace)
    result: ChatCompletion | ResponseResult | None
    try:
        with warnings_as_lines():
            if args.loop != "select":
                from reactsse.aio import AsyncOpenAIClient, run

                aclient = AsyncOpenAIClient(**client_options)

                async def chat_async() -> ChatCompletion | ResponseResult | None:
                    if args.responses:
                        async with aclient.iter_responses(
                            args.prompt,
                            model=model,
                            instructions=args.system,
                            tools=tools,
                            extra=extra,
                        ) as aevents:
                            async for event in aevents:
                                if not isinstance(event, ResponseCompleted):
                                    printer.responses_event(event)
                        return aevents.result
                    async with aclient.iter_chat(
                        messages, model=model, tools=tools, extra=extra
                    ) as adeltas:
                        async for delta in adeltas:
                            printer.chat_delta(delta)
                    return adeltas.result

                result = run(chat_async, backend=args.loop)
            elif args.responses:
                client = OpenAIClient(**client_options)
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
                result = events.result
            else:
                client = OpenAIClient(**client_options)
                with client.iter_chat(messages, model=model, tools=tools, extra=extra) as deltas:
                    for delta in deltas:
                        printer.chat_delta(delta)
                result = deltas.result
    finally:
        printer.end_line()
    if result is not None:
        printer.summary(result)
    return EXIT_OK
