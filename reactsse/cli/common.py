"""What every command shares: decorated output on stderr, the payload on stdout, option values."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from reactsse.cli.exits import UsageError
from reactsse.cli.tracing import client_trace, stdout_wrote
from reactsse.connector import system_trust_context
from reactsse.errors import IncompleteStreamWarning

__all__ = [
    "Style",
    "client_trace",
    "load_tools",
    "parse_headers",
    "passed_through",
    "reach_options",
    "read_data",
    "say",
    "warn_ignored",
    "warnings_as_lines",
    "write",
]

# --------------------------------------------------------------------------- output


class Style:
    """ANSI dim/bold for the decorations on a terminal; nothing when piped or NO_COLOR is set."""

    def __init__(self, stream: TextIO) -> None:
        enabled = stream.isatty() and "NO_COLOR" not in os.environ
        self.dim = "\x1b[2m" if enabled else ""
        self.bold = "\x1b[1m" if enabled else ""
        self.reset = "\x1b[0m" if enabled else ""


def say(text: str) -> None:
    """A decoration line on stderr (stdout carries only the payload)."""
    style = Style(sys.stderr)
    sys.stderr.write(f"{style.dim}{text}{style.reset}\n")
    sys.stderr.flush()


def write(text: str) -> None:
    # Flushed per token: the point of streaming is to see each one as it arrives.
    sys.stdout.write(text)
    sys.stdout.flush()
    stdout_wrote(text)  # a trace line on a terminal first ends a line that this left open


@contextmanager
def warnings_as_lines() -> Iterator[None]:
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


# --------------------------------------------------------------------------- option values


def passed_through(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options ``names`` (their ``dest``) as they were parsed, as keywords: for a call
    whose parameters are named as the options are (``--api-key`` to ``api_key=``)."""
    return {name: getattr(args, name) for name in names}


def reach_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--proxy``, ``--no-proxy-env`` and ``--truststore`` as ``EventSourceOptions`` values."""
    options: dict[str, Any] = {}
    if args.proxy:
        options["proxy"] = args.proxy
    elif args.no_proxy_env:
        options["proxy"] = False
    if args.truststore:
        try:
            # The operating system's store for the target and for an https:// proxy alike.
            options["ssl_context"] = options["proxy_ssl_context"] = system_trust_context()
        except ImportError as exc:
            raise UsageError(str(exc)) from None
    return options


def read_data(spec: str) -> str:
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
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None


# RFC 9110 §5.1: a field name is a token (RFC 9110 §5.6.2 tchar): no spaces, no separators.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_headers(values: Sequence[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"-H wants 'Name: value', got {value!r}")
        name = name.strip()
        if not _FIELD_NAME.fullmatch(name):
            raise UsageError(
                f"-H: invalid header name {name!r} (letters, digits and !#$%&'*+-.^_`|~ only)"
            )
        headers.append((name, rest.strip()))
    return headers


def warn_ignored(problems: Sequence[tuple[bool, str]]) -> None:
    """One ``reactsse: warning:`` line per option given that the command will ignore."""
    for ignored, text in problems:
        if ignored:
            print(f"reactsse: warning: {text}", file=sys.stderr)


def load_tools(spec: str | None) -> list[dict[str, Any]] | None:
    if spec is None:
        return None
    text = read_data(spec)
    try:
        tools = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--tools is not valid JSON: {exc}") from None
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise UsageError("--tools must be a JSON object or an array of tool objects")
    return tools
