"""The ``reactsse`` command line (also ``python -m reactsse``): demo, chat, get, serve.

``reactsse demo`` starts the built-in OpenAI-compatible server and streams a chat completion
from it through the whole stack, on one event loop. ``reactsse chat`` talks to a real OpenAI or
compatible server; ``reactsse get`` reads any SSE endpoint, like ``curl -N``; ``reactsse serve``
runs the built-in server. ``--trace`` on the client commands shows every layer on stderr.

Exit codes (docs/cli.md), stable:

==== =====================================================================================
0    success (also a stream that ended without its ``[DONE]``: a warning is printed)
1    the peer broke the protocol (malformed HTTP or SSE, a limit exceeded), or another error
2    bad usage: unknown option, bad header syntax, a URL that cannot be requested
3    the network failed: connection refused, name not resolved, TLS failure, timeout, reset
4    the server answered with an HTTP error status (401, 404, 429, 500 ...) or not a stream
5    the server reported an error inside the stream (an OpenAI ``error`` payload or event)
130  interrupted (Ctrl-C)
==== =====================================================================================

Expected failures print one line, ``reactsse: <what>: <message>``, and no traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any, TextIO

from reactsse import __version__
from reactsse.errors import (
    APIError,
    HTTPStatusError,
    IncompleteStreamWarning,
    InvalidURL,
    LocalProtocolError,
    ReactSSEError,
    Timeout,
    TLSError,
    TooManyRedirects,
    TransportError,
)
from reactsse.eventsource import TextTrace, Trace
from reactsse.eventsource import connect as _connect
from reactsse.openai import (
    ChatCompletion,
    ChatDelta,
    OpenAIClient,
    ResponseCompleted,
    ResponseFunctionCall,
    ResponseResult,
    ResponseStreamEvent,
    ResponseTextDelta,
    ToolCall,
)
from reactsse.sse import Comment, Dispatch, Field, MessageEvent

__all__ = ["EXIT_API", "EXIT_HTTP", "EXIT_NETWORK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
"""Bad usage, including a URL that cannot be requested (argparse uses 2 too)."""
EXIT_NETWORK = 3
"""Connection refused, name resolution, TLS, timeouts, connection reset."""
EXIT_HTTP = 4
"""An HTTP error status, or a response that is not an event stream."""
EXIT_API = 5
"""An error the server reported inside the stream (``APIError``)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report SIGINT (128 + 2)."""

_DEMO_PROMPT = "Tell me how Alice's adventure begins."
_DEFAULT_MODEL = "gpt-4o-mini"


class _UsageError(Exception):
    """A bad option value found after argparse (e.g. ``-H`` without a colon)."""


# --------------------------------------------------------------------------- output helpers


class _Style:
    """ANSI dim/bold for the decorations on a terminal; nothing when piped or NO_COLOR is set."""

    def __init__(self, stream: TextIO) -> None:
        enabled = stream.isatty() and "NO_COLOR" not in os.environ
        self.dim = "\x1b[2m" if enabled else ""
        self.bold = "\x1b[1m" if enabled else ""
        self.reset = "\x1b[0m" if enabled else ""


def _say(text: str) -> None:
    """A decoration line on stderr (stdout carries only the payload)."""
    style = _Style(sys.stderr)
    sys.stderr.write(f"{style.dim}{text}{style.reset}\n")
    sys.stderr.flush()


def _write(text: str) -> None:
    # Flushed per token: the point of streaming is to see each one as it arrives.
    sys.stdout.write(text)
    sys.stdout.flush()


def _trace_line(text: str) -> None:
    # Same line discipline as TextTrace: one line per happening, flushed.
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _compact(item: object) -> str:
    """``ChatDelta(content=' she')``: a dataclass with only its informative fields."""
    fields = getattr(item, "__dataclass_fields__", {})
    shown = []
    for name in fields:
        value = getattr(item, name)
        if value in (None, (), "") or name in ("id", "model"):
            continue
        shown.append(f"{name}={value!r}")
    return f"{type(item).__name__}({', '.join(shown)})"


def _format_tool_call(call: ToolCall) -> str:
    return f"[tool call {call.id}] {call.name}({call.arguments})"


class _ChatPrinter:
    """Prints chat deltas as they arrive and the summary at the end (shared by demo and chat)."""

    def __init__(self, *, trace: bool = False) -> None:
        # With --trace, the last layer too: what the openai accumulator made of each event.
        self.trace = trace
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self.tokens = 0
        self._ended_with_newline = True
        self._in_reasoning = False

    def _mark_first(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter() - self.started

    def text(self, piece: str) -> None:
        if not piece:
            return
        self._mark_first()
        self.tokens += 1
        _write(piece)
        self._ended_with_newline = piece.endswith("\n")

    def reasoning(self, piece: str) -> None:
        # Reasoning text (vLLM/DeepSeek/Ollama) goes to stderr, dimmed: it is not the answer.
        if piece:
            self._mark_first()
            style = _Style(sys.stderr)
            sys.stderr.write(f"{style.dim}{piece}{style.reset}")
            sys.stderr.flush()

    def chat_delta(self, delta: ChatDelta) -> None:
        if self.trace:
            _trace_line(f"= {_compact(delta)}")
        if delta.reasoning:
            self.reasoning(delta.reasoning)
        if delta.content:
            self.text(delta.content)
        if delta.refusal:
            self.text(delta.refusal)

    def responses_event(self, event: ResponseStreamEvent) -> None:
        if self.trace:
            _trace_line(f"= {_compact(event)}")
        if isinstance(event, ResponseTextDelta):
            self.text(event.text)
        elif isinstance(event, ResponseFunctionCall):
            self.tool_call(event.call)

    def tool_call(self, call: ToolCall) -> None:
        self.end_line()
        _write(_format_tool_call(call) + "\n")
        self._ended_with_newline = True

    def end_line(self) -> None:
        if not self._ended_with_newline:
            _write("\n")
            self._ended_with_newline = True

    def summary(self, result: ChatCompletion | ResponseResult) -> None:
        if isinstance(result, ChatCompletion):
            for call in result.tool_calls:
                self.tool_call(call)
            ending = f"finish_reason={result.finish_reason}"
        else:
            ending = f"status={result.status}"
            if result.incomplete_reason:
                ending += f" ({result.incomplete_reason})"
        self.end_line()
        elapsed = time.perf_counter() - self.started
        parts = [f"{self.tokens} deltas in {elapsed:.2f} s"]
        if self.first_token is not None:
            parts.append(f"first after {self.first_token * 1000:.1f} ms")
        parts.append(ending)
        if result.usage is not None:
            usage = result.usage
            parts.append(f"usage: {usage.input_tokens} in / {usage.output_tokens} out")
        _say("-- " + ", ".join(parts))


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show our IncompleteStreamWarning as one ``reactsse: warning:`` line, not Python's format."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IncompleteStreamWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, IncompleteStreamWarning):
            print(f"reactsse: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


# --------------------------------------------------------------------------- demo


def _load_tools(spec: str | None) -> list[dict[str, Any]] | None:
    if spec is None:
        return None
    text = _read_data(spec)
    try:
        tools = json.loads(text)
    except ValueError as exc:
        raise _UsageError(f"--tools is not valid JSON: {exc}") from None
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise _UsageError("--tools must be a JSON object or an array of tool objects")
    return tools


def _cmd_demo(args: argparse.Namespace) -> int:
    from reactsse.loop import StreamSelectLoop
    from reactsse.mock import MODEL_ID, MockApp, MockOptions
    from reactsse.server import ServerOptions, SSEServer

    loop = StreamSelectLoop()
    app = MockApp(MockOptions(rate=args.rate))
    server = SSEServer(loop, app=app, options=ServerOptions(keepalive_interval=None))
    # api_key="": the built-in server needs none, and the user's real key must not be sent.
    client = OpenAIClient(base_url=server.url + "/v1", api_key="", loop=loop, trace=_trace(args))
    endpoint = "/v1/responses" if args.responses else "/v1/chat/completions"
    _say(
        f"reactsse demo: built-in OpenAI-compatible server on {server.url}, "
        f"client and server on one {type(loop).__name__}"
    )
    _say(f"POST {endpoint}  model={MODEL_ID}  rate={args.rate:g} tokens/s  prompt={args.prompt!r}")
    printer = _ChatPrinter(trace=args.trace)
    outcome: list[ChatCompletion | ResponseResult | Exception] = []

    def finished(result: ChatCompletion | ResponseResult | Exception) -> None:
        outcome.append(result)
        server.close()  # nothing left on the loop: run() returns

    tools = _load_tools(args.tools)
    try:
        with _warnings_as_lines():
            if args.responses:
                handle: Any = client.stream_responses(
                    args.prompt,
                    model=MODEL_ID,
                    on_event=printer.responses_event,
                    on_done=finished,
                    on_error=finished,
                    tools=tools,
                )
            else:
                handle = client.stream_chat(
                    args.prompt,
                    model=MODEL_ID,
                    on_delta=printer.chat_delta,
                    on_done=finished,
                    on_error=finished,
                    tools=tools,
                )
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


# --------------------------------------------------------------------------- chat


def _cmd_chat(args: argparse.Namespace) -> int:
    client = OpenAIClient(
        api_key=None,  # OPENAI_API_KEY
        base_url=args.base_url,  # None: OPENAI_BASE_URL, else api.openai.com
        headers=dict(_parse_headers(args.header)),
        read_timeout=args.read_timeout,
        connect_timeout=args.connect_timeout,
        trace=_trace(args),
    )
    model = args.model or os.environ.get("OPENAI_MODEL") or _DEFAULT_MODEL
    tools = _load_tools(args.tools)
    extra: dict[str, Any] = {}
    if args.max_tokens is not None:
        extra["max_output_tokens" if args.responses else "max_tokens"] = args.max_tokens
    if args.temperature is not None:
        extra["temperature"] = args.temperature
    printer = _ChatPrinter(trace=args.trace)
    try:
        with _warnings_as_lines():
            if args.responses:
                with client.responses_stream(
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
                with client.chat_stream(messages, model=model, tools=tools, extra=extra) as deltas:
                    for delta in deltas:
                        printer.chat_delta(delta)
                result = deltas.result
    finally:
        printer.end_line()
    if result is not None:
        printer.summary(result)
    return EXIT_OK


# --------------------------------------------------------------------------- get


def _read_data(spec: str) -> str:
    """``@file`` reads a file (``@-`` stdin), anything else is the text itself (like curl -d)."""
    if not spec.startswith("@"):
        return spec
    path = spec[1:]
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise _UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def _parse_headers(values: Sequence[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            raise _UsageError(f"-H wants 'Name: value', got {value!r}")
        headers.append((name.strip(), rest.strip()))
    return headers


def _event_json(event: MessageEvent) -> str:
    # The stable --format jsonl interface: exactly these three keys, in this order.
    record = {"type": event.type, "data": event.data, "last_event_id": event.last_event_id}
    return json.dumps(record, ensure_ascii=False)


def _event_text(event: MessageEvent) -> str:
    return event.data if event.type == "message" else f"[{event.type}] {event.data}"


class _RawTrace(Trace):
    """``--format raw``: the event stream line by line, as the SSE decoder read it.

    That is the response body after HTTP de-chunking and decompression, with its comments and
    fields intact; every line ends with LF (the original CR/CRLF endings are normalised).
    """

    def __init__(self, inner: Trace | None, out: IO[str]) -> None:
        self._inner = inner
        self._out = out

    def sse(self, record: Comment | Field | Dispatch) -> None:
        if isinstance(record, Comment):
            self._out.write(f":{record.text}\n")
        elif isinstance(record, Field):
            self._out.write(record.line + "\n")
        else:
            self._out.write("\n")
        self._out.flush()
        if self._inner is not None:
            self._inner.sse(record)

    # Every other happening goes to the --trace renderer, if any.
    def connecting(self, host: str, port: int, tls: bool) -> None:
        if self._inner is not None:
            self._inner.connecting(host, port, tls)

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        if self._inner is not None:
            self._inner.request_sent(request_line, headers, body_size)

    def socket_read(self, data: bytes | memoryview) -> None:
        if self._inner is not None:
            self._inner.socket_read(data)

    def response_head(self, head: Any) -> None:
        if self._inner is not None:
            self._inner.response_head(head)

    def body(self, size: int, decoded_size: int) -> None:
        if self._inner is not None:
            self._inner.body(size, decoded_size)

    def redirect(self, status: int, location: str) -> None:
        if self._inner is not None:
            self._inner.redirect(status, location)

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        if self._inner is not None:
            self._inner.reconnect_scheduled(delay, reason, last_event_id)

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        if self._inner is not None:
            self._inner.error(error, fatal)

    def closed(self) -> None:
        if self._inner is not None:
            self._inner.closed()


def _cmd_get(args: argparse.Namespace) -> int:
    headers = _parse_headers(args.header)
    body = _read_data(args.data) if args.data is not None else None
    method = args.method or ("POST" if body is not None else "GET")
    if (
        body is not None
        and not any(name.lower() == "content-type" for name, _ in headers)
        and _looks_like_json(body)
    ):
        headers.append(("Content-Type", "application/json"))
    trace = _trace(args)
    if args.format == "raw":
        trace = _RawTrace(trace, sys.stdout)
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
                _write(_event_json(event) + "\n")
            elif args.format == "text":
                _write(_event_text(event) + "\n")
            count += 1
            if args.max_events is not None and count >= args.max_events:
                break
    return EXIT_OK


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- serve


def _cmd_serve(args: argparse.Namespace) -> int:
    from reactsse.mock import MockApp, MockOptions
    from reactsse.server import SSEServer, serve

    try:
        app = MockApp(MockOptions(rate=args.rate, api_key=args.api_key, fault=args.fault))
    except ValueError as exc:
        raise _UsageError(str(exc)) from None

    def endpoints(server: SSEServer) -> None:
        print(f"  OpenAI base_url: {server.url}/v1    demo stream: {server.url}/events", flush=True)

    serve(app, host=args.host, port=args.port, on_listening=endpoints)
    return EXIT_OK


# --------------------------------------------------------------------------- parsing, main


def _trace(args: argparse.Namespace) -> Trace | None:
    return TextTrace(sys.stderr) if args.trace else None


def _positive_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text!r}")
    return value


def _timeout(text: str) -> float | None:
    value = _positive_float(text)
    return value or None


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trace",
        action="store_true",
        help="show every layer on stderr: socket reads, HTTP head and body pieces, SSE lines, "
        "dispatched events (Authorization redacted)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=_timeout,
        default=30.0,
        metavar="S",
        help="seconds for name resolution, TCP and TLS (0: none; default 30)",
    )
    parser.add_argument(
        "--read-timeout",
        type=_timeout,
        default=600.0,
        metavar="S",
        help="seconds without a byte before giving up (0: none; default 600)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``reactsse`` (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="reactsse",
        description="Server-Sent Events and OpenAI-style token streams on a Python port of "
        "the ReactPHP event loop.",
        epilog="Exit codes: 0 ok, 1 protocol/other error, 2 usage, 3 network, 4 HTTP status, "
        "5 error inside the stream, 130 Ctrl-C.",
    )
    parser.add_argument("--version", action="version", version=f"reactsse {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="stream a chat completion from the built-in server, on one event loop",
        description="Start the built-in OpenAI-compatible server on 127.0.0.1 (a free port) "
        "and stream a chat completion from it through the whole stack, in one event loop.",
    )
    demo.add_argument("--prompt", default=_DEMO_PROMPT, help="what to ask")
    demo.add_argument(
        "--rate",
        type=_positive_float,
        default=40.0,
        metavar="TOKENS_PER_S",
        help="server speed in tokens per second (0: as fast as possible; default 40)",
    )
    demo.add_argument("--responses", action="store_true", help="use the Responses API")
    demo.add_argument("--tools", metavar="JSON|@FILE", help="tool definitions (JSON array)")
    demo.add_argument(
        "--trace", action="store_true", help="show every layer of the client on stderr"
    )

    chat = commands.add_parser(
        "chat",
        help="stream a chat completion from OpenAI or a compatible server",
        description="Stream an answer from an OpenAI-compatible server. The key comes from "
        "OPENAI_API_KEY, the base URL from --base-url or OPENAI_BASE_URL "
        "(default https://api.openai.com/v1), the model from --model or OPENAI_MODEL.",
    )
    chat.add_argument("prompt", metavar="PROMPT", help="the user message")
    chat.add_argument(
        "--model", "-m", help=f"model name (default $OPENAI_MODEL or {_DEFAULT_MODEL})"
    )
    chat.add_argument("--base-url", metavar="URL", help="e.g. http://localhost:11434/v1 (Ollama)")
    chat.add_argument("--responses", action="store_true", help="use the Responses API")
    chat.add_argument("--system", "-s", metavar="TEXT", help="system message / instructions")
    chat.add_argument("--tools", metavar="JSON|@FILE", help="tool definitions (JSON array)")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="limit the answer's length")
    chat.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    chat.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="extra request header (repeatable), e.g. 'OpenAI-Organization: org-...'",
    )
    _add_client_options(chat)

    get = commands.add_parser(
        "get",
        help="read any SSE endpoint, like curl -N",
        description="Read an event stream and print its events as they arrive. One-shot by "
        "default (the command ends with the stream); --reconnect behaves like a browser.",
    )
    get.add_argument("url", metavar="URL")
    get.add_argument("-X", "--request", dest="method", metavar="METHOD", help="HTTP method")
    get.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="request header (repeatable)",
    )
    get.add_argument(
        "-d",
        "--data",
        metavar="DATA|@FILE",
        help="request body (implies POST; JSON bodies get Content-Type: application/json)",
    )
    get.add_argument("--last-event-id", metavar="ID", help="resume after this event id")
    get.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    get.add_argument(
        "--format",
        choices=("text", "jsonl", "raw"),
        default="text",
        help="text: each event's data ([type] prefix for named events); jsonl: one "
        '{"type", "data", "last_event_id"} object per line; raw: the stream\'s lines as read',
    )
    get.add_argument(
        "--reconnect",
        action="store_true",
        help="reconnect (with Last-Event-ID) when the stream ends or the network fails",
    )
    _add_client_options(get)

    serve = commands.add_parser(
        "serve",
        help="run the built-in server (OpenAI-compatible /v1 and a demo /events stream)",
        description="Run the built-in SSE server until Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (0: a free one; default 8000)")
    serve.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        metavar="TOKENS_PER_S",
        help="token rate of the OpenAI streams (default: as fast as the client reads)",
    )
    serve.add_argument("--api-key", metavar="KEY", help="require this bearer key (401 otherwise)")
    serve.add_argument(
        "--fault", metavar="SPEC", help="inject faults: error-after=N, disconnect-after=N, status=N"
    )
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _cmd_demo,
    "chat": _cmd_chat,
    "get": _cmd_get,
    "serve": _cmd_serve,
}


def _describe(error: BaseException) -> tuple[int, str]:
    """Map an expected failure to its exit code and one line of text."""
    if isinstance(error, _UsageError):
        return EXIT_USAGE, f"usage error: {error}"
    if isinstance(error, (InvalidURL, LocalProtocolError)):
        return EXIT_USAGE, f"invalid request: {error}"
    if isinstance(error, APIError):
        code = f" ({error.code})" if error.code is not None else ""
        return EXIT_API, f"the server reported an error{code}: {error}"
    if isinstance(error, (HTTPStatusError, TooManyRedirects)):
        return EXIT_HTTP, f"HTTP error: {error}"
    if isinstance(error, TLSError):
        return EXIT_NETWORK, f"TLS error: {error}"
    if isinstance(error, Timeout):
        return EXIT_NETWORK, f"timeout: {error}"
    if isinstance(error, TransportError):
        return EXIT_NETWORK, f"network error: {error}"
    if isinstance(error, ReactSSEError):
        return EXIT_ERROR, f"{type(error).__name__}: {error}"
    # An OSError outside our translation: e.g. `serve` cannot bind its port.
    if isinstance(error, OSError) and error.strerror:
        return EXIT_ERROR, error.strerror
    return EXIT_ERROR, str(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for an expected failure: it prints one line to stderr and returns the code
    (see the module docstring). ``argparse`` exits with 2 itself on bad options.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A model may stream any character; never die on a narrow terminal encoding.
        sys.stdout.reconfigure(errors="replace")
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _interrupted_cleanly()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `reactsse get ... | head`: the reader left; that is not an error. Point stdout at
        # devnull so that the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (ReactSSEError, _UsageError, OSError) as error:
        code, text = _describe(error)
        print(f"reactsse: {text}", file=sys.stderr)
        return code


def _interrupted_cleanly() -> None:
    with suppress(OSError, ValueError):
        sys.stdout.flush()
    print("\nreactsse: interrupted", file=sys.stderr)
