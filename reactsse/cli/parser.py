"""The argparse parser of ``reactsse``: one function per command."""

from __future__ import annotations

import argparse
import importlib.util
from typing import NoReturn, TypeAlias

from reactsse._version import __version__
from reactsse.cli.chat import DEFAULT_MODEL, DEMO_PROMPT
from reactsse.cli.hints import one_line

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other expected failure."""

    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block first; the one line points at --help instead.
        self.exit(2, f"reactsse: usage error: {one_line(message)}; usage: {self.prog} --help\n")


def positive_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text!r}")
    return value


def timeout_option(text: str) -> float | None:
    value = positive_float(text)
    return value or None


def _add_header_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'", help=help_text
    )


def _add_request_options(parser: argparse.ArgumentParser, data_help: str) -> None:
    """``-X``, ``-H`` and ``-d``, as curl spells them (``get`` and ``bench``)."""
    parser.add_argument("-X", "--request", dest="method", metavar="METHOD", help="HTTP method")
    _add_header_option(parser, "request header (repeatable)")
    parser.add_argument("-d", "--data", metavar="DATA|@FILE", help=data_help)


def loop_choice(name: str) -> str:
    """A ``--loop`` value. trio is not a dependency of reactsse: say how to get it, in one line."""
    if name == "trio" and importlib.util.find_spec("trio") is None:
        raise argparse.ArgumentTypeError("--loop trio needs the trio package: pip install trio")
    return name


def add_loop_option(parser: argparse.ArgumentParser) -> None:
    """``--loop``: the event loop a client command runs on (the output is the same on each)."""
    parser.add_argument(
        "--loop",
        type=loop_choice,
        choices=("select", "asyncio", "trio"),
        default="select",
        help="the event loop: reactsse's own StreamSelectLoop (default), or the ReactPHP-style "
        "loop hosted by asyncio or trio (reactsse.aio)",
    )


def add_api_options(parser: argparse.ArgumentParser) -> None:
    api = parser.add_mutually_exclusive_group()
    api.add_argument("--responses", action="store_true", help="use the Responses API")
    api.add_argument(
        "--completions",
        action="store_true",
        help="use the text completions endpoint (POST /v1/completions, a prompt: instruct "
        "models, vLLM, Ollama, llama.cpp)",
    )


def add_trace_options(parser: argparse.ArgumentParser) -> None:
    # "--trace=full" is an option string of its own: argparse matches a whole option string
    # before it splits at "=", and an optional value would swallow a following positional.
    parser.add_argument(
        "--trace",
        action="store_const",
        const="short",
        help="show each layer on stderr, one short line per step: socket reads, the HTTP head "
        "and chunk-size lines, SSE lines, events, typed deltas (secrets redacted)",
    )
    parser.add_argument(
        "--trace=full",
        dest="trace",
        action="store_const",
        const="full",
        help="--trace without eliding long values",
    )


def _add_timeout_options(
    parser: argparse.ArgumentParser, connect: tuple[float, str], read: tuple[float, str]
) -> None:
    """``--connect-timeout`` and ``--read-timeout``: each a (default, what it bounds) pair."""
    for option, (default, text) in (("--connect-timeout", connect), ("--read-timeout", read)):
        parser.add_argument(
            option,
            type=timeout_option,
            default=default,
            metavar="S",
            help=f"{text} (0: none; default {default:g})",
        )


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    add_trace_options(parser)
    _add_timeout_options(
        parser,
        (30.0, "seconds for name resolution, TCP and TLS"),
        (600.0, "seconds without a byte before giving up"),
    )
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help="connect through this proxy: http://[user:pass@]host:port, https://, socks5h://, "
        "socks4a:// (default: HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, minus NO_PROXY)",
    )
    parser.add_argument(
        "--no-proxy-env",
        action="store_true",
        help="ignore the proxy environment variables (connect directly unless --proxy)",
    )
    parser.add_argument(
        "--truststore",
        action="store_true",
        help="verify TLS (the target's and an https:// proxy's) against the operating system's "
        "trust store (needs reactsse[truststore])",
    )
    parser.add_argument(
        "--event-timeout",
        type=timeout_option,
        default=None,
        metavar="S",
        help="seconds without an event before giving up; keep-alive comments do not count "
        "(default: none)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``reactsse`` (exposed for docs and tests)."""
    parser = _Parser(
        prog="reactsse",
        description="Server-Sent Events and OpenAI-style token streams on a Python port of "
        "the ReactPHP event loop.",
        epilog="Exit codes: 0 ok, 1 protocol/other error, 2 usage, 3 network, 4 HTTP status, "
        "5 error inside the stream, 130 Ctrl-C.",
    )
    parser.add_argument("--version", action="version", version=f"reactsse {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(commands)
    _add_chat(commands)
    _add_get(commands)
    _add_serve(commands)
    _add_bench(commands)
    return parser


# The type argparse gives to add_subparsers' result; it is generic only in typeshed.
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"

# What each command is for, in one place: (the line in `reactsse --help`, the paragraph at the
# top of `reactsse COMMAND --help`).
_ABOUT: dict[str, tuple[str, str]] = {
    "demo": (
        "stream a chat completion from the built-in server, on one event loop",
        "Start the built-in OpenAI-compatible server on 127.0.0.1 (a free port) and stream a "
        "chat completion from it through the whole stack, in one event loop.",
    ),
    "chat": (
        "stream a chat completion from OpenAI or a compatible server",
        "Stream an answer from an OpenAI-compatible server. The key comes from OPENAI_API_KEY, "
        "the base URL from --base-url or OPENAI_BASE_URL (default https://api.openai.com/v1), "
        "the model from --model or OPENAI_MODEL.",
    ),
    "get": (
        "read any SSE endpoint, like curl -N",
        "Read an event stream and print its events as they arrive. One-shot by default (the "
        "command ends with the stream); --reconnect behaves like a browser.",
    ),
    "serve": (
        "run the built-in server: the browser page and relay, OpenAI-compatible /v1, a demo "
        "/events stream",
        "Run the built-in SSE server until Ctrl-C or SIGTERM (which closes open streams with a "
        "final comment first). Logs one line per request on stderr.",
    ),
    "bench": (
        "load an SSE or LLM streaming server and measure it (like wrk, for streams)",
        "Open many concurrent streams against URL and report events/s, MB/s, time to first "
        "byte/event/token, the gaps between events, stream durations and errors by kind. "
        "Closed loop by default (--connections streams, each replaced when it ends); --rate "
        "makes it an open loop. See docs/bench-tool.md.",
    ),
}


def _command(commands: _Commands, name: str) -> _Parser:
    summary, description = _ABOUT[name]
    return commands.add_parser(name, help=summary, description=description)


def _add_demo(commands: _Commands) -> None:
    demo = _command(commands, "demo")
    demo.add_argument("--prompt", default=DEMO_PROMPT, help="what to ask")
    _add_token_rate(
        demo, 40.0, "server speed in tokens per second (0: as fast as possible; default 40)"
    )
    add_api_options(demo)
    demo.add_argument(
        "--browser",
        action="store_true",
        help="serve the page that shows the stream in a browser (and open it where one is "
        "available) instead of streaming in this terminal; Ctrl-C ends it",
    )
    demo.add_argument(
        "--port", type=int, default=0, help="with --browser: the port (default: a free one)"
    )
    demo.add_argument("--tools", metavar="JSON|@FILE", help="tool definitions (JSON array)")
    add_trace_options(demo)
    add_loop_option(demo)


def _add_chat(commands: _Commands) -> None:
    chat = _command(commands, "chat")
    chat.add_argument("prompt", metavar="PROMPT", help="the user message")
    chat.add_argument(
        "--model", "-m", help=f"model name (default $OPENAI_MODEL or {DEFAULT_MODEL})"
    )
    chat.add_argument("--base-url", metavar="URL", help="e.g. http://localhost:11434/v1 (Ollama)")
    add_api_options(chat)
    chat.add_argument("--system", "-s", metavar="TEXT", help="system message / instructions")
    chat.add_argument("--tools", metavar="JSON|@FILE", help="tool definitions (JSON array)")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="limit the answer's length")
    chat.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    _add_header_option(
        chat, "extra request header (repeatable), e.g. 'OpenAI-Organization: org-...'"
    )
    _add_client_options(chat)
    add_loop_option(chat)


def _add_get(commands: _Commands) -> None:
    get = _command(commands, "get")
    get.add_argument("url", metavar="URL")
    _add_request_options(
        get, "request body (implies POST; JSON bodies get Content-Type: application/json)"
    )
    get.add_argument("--last-event-id", metavar="ID", help="resume after this event id")
    get.add_argument(
        "--max-events", type=positive_int, metavar="N", help="stop after N events (N >= 1)"
    )
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
    add_loop_option(get)


def _add_serve(commands: _Commands) -> None:
    serve = _command(commands, "serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (0: a free one; default 8000)")
    _add_token_rate(
        serve, None, "token rate of the OpenAI streams (default: as fast as the client reads)"
    )
    serve.add_argument(
        "--reply-tokens",
        type=positive_int,
        metavar="N",
        help="answer every OpenAI stream with exactly N tokens, one event each (default: one "
        "paragraph of the bundled text); for load tests that want streams of one length",
    )
    serve.add_argument("--api-key", metavar="KEY", help="require this bearer key (401 otherwise)")
    serve.add_argument(
        "--fault",
        metavar="SPEC",
        help="inject faults into every stream, comma-separated: error-after=N (an error event "
        "after N events), disconnect-after=N (the connection cut after N events), "
        "stall-after=N (silence but keep-alives after N events), status=CODE (an HTTP error "
        "instead); a request can ask with the header X-Reactsse-Fault: SPEC",
    )
    serve.add_argument(
        "--upstream",
        metavar="URL",
        help="relay this OpenAI-compatible API on /chat (its key from OPENAI_API_KEY; "
        "default: the built-in mock)",
    )
    serve.add_argument(
        "--model", help="model the relay asks for (default: OPENAI_MODEL, or the mock's)"
    )
    serve.add_argument(
        "--keepalive",
        type=positive_float,
        default=15.0,
        metavar="SECONDS",
        help="send a ': keep-alive' comment after this many seconds of silence on a stream "
        "(0: never; default 15)",
    )
    serve.add_argument(
        "-q", "--quiet", action="store_true", help="no access log (one line per request)"
    )


def _add_token_rate(parser: argparse.ArgumentParser, default: float | None, help: str) -> None:
    # The built-in server's pace, for `demo` (its own server) and `serve`.
    parser.add_argument(
        "--rate", type=positive_float, default=default, metavar="TOKENS_PER_S", help=help
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def _add_bench(commands: _Commands) -> None:
    bench = _command(commands, "bench")
    bench.add_argument("url", metavar="URL")
    bench.add_argument(
        "-c",
        "--connections",
        type=positive_int,
        metavar="N",
        help="concurrent streams (default 10; with --rate: the most at once, default no cap)",
    )
    bench.add_argument(
        "--duration",
        type=positive_float,
        metavar="S",
        help="measured seconds, after the warm-up (default 10 unless --streams)",
    )
    bench.add_argument(
        "-n", "--streams", type=positive_int, metavar="N", help="stop after N measured streams"
    )
    bench.add_argument(
        "-r",
        "--rate",
        type=positive_float,
        metavar="PER_S",
        help="start this many streams per second (an open loop)",
    )
    bench.add_argument(
        "--warmup", type=positive_float, default=0.0, metavar="S", help="unmeasured seconds first"
    )
    _add_bench_request(bench)
    _add_bench_output(bench)


def _add_bench_request(bench: argparse.ArgumentParser) -> None:
    _add_request_options(bench, "request body (implies POST unless -X)")
    bench.add_argument(
        "--openai",
        action="store_true",
        help="POST a streaming chat completion (from --model and --prompt unless -d) and count "
        "tokens; a URL ending in /v1 gets /chat/completions; OPENAI_API_KEY is sent if set",
    )
    bench.add_argument("--model", "-m", default=DEFAULT_MODEL, help="model name for --openai")
    bench.add_argument("--prompt", default=DEMO_PROMPT, help="user message for --openai")
    bench.add_argument("--max-tokens", type=int, metavar="N", help="max_tokens for --openai")


def _add_bench_output(bench: argparse.ArgumentParser) -> None:
    from reactsse.loadgen.runner import LOOPS

    bench.add_argument(
        "--loop",
        type=loop_choice,
        choices=LOOPS,
        default="select",
        help="event loop of the client (default select)",
    )
    bench.add_argument(
        "-p",
        "--processes",
        type=positive_int,
        default=1,
        metavar="P",
        help="client processes, each with its share of the load; results merged (default 1)",
    )
    bench.add_argument(
        "--no-keep-alive",
        "--new-connections",
        dest="keep_alive",
        action="store_false",
        help="open a new connection for every stream (default: reuse kept-alive connections)",
    )
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    _add_timeout_options(
        bench,
        (10.0, "seconds to connect before a stream fails as a timeout"),
        (30.0, "seconds without a byte before a stream fails as a timeout"),
    )
