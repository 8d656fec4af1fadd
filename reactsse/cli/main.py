"""The ``reactsse`` command line (also ``python -m reactsse``): demo, chat, get, serve, bench.

``reactsse demo`` starts the built-in OpenAI-compatible server and streams a chat completion
from it through the whole stack, on one event loop. ``reactsse chat`` talks to a real OpenAI or
compatible server; ``reactsse get`` reads any SSE endpoint, like ``curl -N``; ``reactsse serve``
runs the built-in server; ``reactsse bench`` loads a streaming server and measures it.
``--trace`` on the client commands shows every layer on stderr.

Exit codes and the one-line failure messages: ``reactsse.cli.exits`` (and docs/cli.md).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress

from reactsse.cli.bench import cmd_bench
from reactsse.cli.chat import cmd_chat, cmd_demo
from reactsse.cli.exits import (
    EXIT_API,
    EXIT_HTTP,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    describe,
)
from reactsse.cli.get import cmd_get
from reactsse.cli.hints import hint, one_line
from reactsse.cli.parser import build_parser
from reactsse.cli.serve import cmd_serve
from reactsse.errors import ReactSSEError

__all__ = ["EXIT_API", "EXIT_HTTP", "EXIT_NETWORK", "EXIT_USAGE", "build_parser", "main"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo,
    "chat": cmd_chat,
    "get": cmd_get,
    "serve": cmd_serve,
    "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Never raises for an expected failure: it prints one line to stderr and returns the code
    (see ``reactsse.cli.exits``). ``argparse`` exits with 2 itself on bad options.
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
    except (ReactSSEError, UsageError, OSError) as error:
        code, text = describe(error)
        advice = hint(error, args)
        line = one_line(f"{text}; {advice}" if advice else text)
        print(f"reactsse: {line}", file=sys.stderr)
        return code


def _interrupted_cleanly() -> None:
    with suppress(OSError, ValueError):
        sys.stdout.flush()
    print("\nreactsse: interrupted", file=sys.stderr)
