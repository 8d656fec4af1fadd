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
from reactsse.loop import LoopInterface, StreamSelectLoop
from reactsse.openai import ChatCompletion, Completion, OpenAIClient, ResponseResult

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
    trace = client_trace(args)
    # api_key="": the built-in server needs none, and the user's real key must not be sent.
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", loop=loop, trace=trace)
    endpoint = (
        "/v1/responses"
        if args.responses
        else "/v1/completions"
        if args.completions
        else "/v1/chat/completions"
    )
    say(
        f"reactsse demo: built-in OpenAI-compatible server on {server.url}, "
        f"client and server on one {loop_name(args.loop)}"
    )
    rate = f"{args.rate:g} tokens/s" if args.rate else "unlimited"
    say(f"POST {endpoint}  model={MODEL_ID}  rate={rate}  prompt={args.prompt!r}")
    printer = ChatPrinter(loop.now, trace=trace)
    request: dict[str, Any] = {"model": MODEL_ID, "tools": load_tools(args.tools)}
    try:
        result = run_stream(loop, client, args, args.prompt, printer, request)
    finally:
        server.close()
        loop.close()
    printer.summary(result)
    return EXIT_OK


def _warn_demo_ignored(args: argparse.Namespace) -> None:
    browser = args.browser
    warn_ignored(
        [
            (browser and args.prompt != DEMO_PROMPT, "--prompt is ignored with --browser"),
            (browser and args.tools is not None, "--tools is ignored with --browser"),
            (browser and args.responses, "--responses is ignored with --browser"),
            (browser and args.completions, "--completions is ignored with --browser"),
            (browser and args.trace, "--trace is ignored with --browser"),
            (not browser and args.port != 0, "--port is ignored without --browser"),
            (
                not browser and args.responses and args.tools is not None,
                "--tools is ignored with --responses: the built-in server answers tool "
                "calls on chat completions only",
            ),
            (
                not browser and args.completions and args.tools is not None,
                "--tools is ignored with --completions: text completions take no tools",
            ),
        ]
    )


def run_stream(
    loop: LoopInterface,
    client: OpenAIClient,
    args: argparse.Namespace,
    prompt: str,
    printer: ChatPrinter,
    request: dict[str, Any],
) -> ChatCompletion | Completion | ResponseResult:
    """Stream one answer on ``loop``, callback style, and return its result (or raise).

    Callbacks print each delta as the loop delivers it, so stdout and the trace are in the
    order things happened (a blocking iterator would show a read's deltas after everything
    else the loop did in that read, such as the end of the stream).
    """
    outcome: list[ChatCompletion | Completion | ResponseResult | Exception] = []

    def finished(result: ChatCompletion | Completion | ResponseResult | Exception) -> None:
        outcome.append(result)
        loop.stop()

    request = {**request, "on_done": finished, "on_error": finished}
    system = request.pop("system", None)
    tools = request.pop("tools", None)
    handle: Any = None
    try:
        with warnings_as_lines():
            if args.responses:
                handle = client.start_responses(
                    prompt, on_event=printer.responses_event, instructions=system, tools=tools,
                    **request,
                )  # fmt: skip
            elif args.completions:
                text = prompt if system is None else f"{system}\n\n{prompt}"
                handle = client.start_completion(text, on_delta=printer.completion_delta, **request)
            else:
                messages: list[dict[str, Any]] = []
                if system is not None:
                    messages.append({"role": "system", "content": system})
                messages.append({"role": "user", "content": prompt})
                handle = client.start_chat(
                    messages, on_delta=printer.chat_delta, tools=tools, **request
                )
            loop.run()
    finally:
        if not outcome and handle is not None:  # Ctrl-C or a bug: release the connection
            handle.close()
        printer.end_line()
    (result,) = outcome
    if isinstance(result, Exception):
        raise result
    return result


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
    loop = new_loop(args.loop)
    trace = client_trace(args)
    client = OpenAIClient(
        api_key=None,  # OPENAI_API_KEY
        base_url=args.base_url,  # None: OPENAI_BASE_URL, else api.openai.com
        headers=dict(parse_headers(args.header)),
        read_timeout=args.read_timeout,
        connect_timeout=args.connect_timeout,
        **reach_options(args),
        event_timeout=args.event_timeout,
        trace=trace,
        loop=loop,
    )
    model = args.model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    extra: dict[str, Any] = {}
    if args.max_tokens is not None:
        extra["max_output_tokens" if args.responses else "max_tokens"] = args.max_tokens
    if args.temperature is not None:
        extra["temperature"] = args.temperature
    request: dict[str, Any] = {"model": model, "extra": extra, "system": args.system}
    if not args.completions:
        request["tools"] = load_tools(args.tools)
    printer = ChatPrinter(loop.now, trace=trace)
    try:
        result = run_stream(loop, client, args, args.prompt, printer, request)
    finally:
        loop.close()
    printer.summary(result)
    return EXIT_OK
