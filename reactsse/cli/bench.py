"""``reactsse bench URL``: load an SSE or OpenAI-compatible streaming server and measure it.

The engine is ``reactsse.loadgen``; this module turns the options into ``LoadOptions``, shows
progress (one line redrawn on a terminal, plain lines otherwise, on stderr) and prints the
report (text, or ``--json``), and writes ``--html``. docs/bench-tool.md explains the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from reactsse.cli.common import parse_headers, passed_through, read_data
from reactsse.cli.exits import EXIT_OK, UsageError
from reactsse.loadgen import LoadOptions, Progress

__all__ = ["cmd_bench"]


def cmd_bench(args: argparse.Namespace) -> int:
    from reactsse.loadgen.html import render_html
    from reactsse.loadgen.report import build_report, format_text
    from reactsse.loadgen.runner import run_local, run_processes

    options = _options(args)
    if args.processes < 1:
        raise UsageError("--processes must be at least 1")
    progress = None if args.quiet else _progress_printer()
    if args.processes == 1:
        result = run_local(options, loop=args.loop, on_progress=progress)
    else:
        result = run_processes(options, args.processes, loop=args.loop, on_progress=progress)
    if progress is not None and sys.stderr.isatty():
        sys.stderr.write("\n")
    report = build_report(options, result, loop=args.loop, processes=args.processes)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as file:
            file.write(render_html(report))
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(format_text(report))
    sys.stdout.flush()
    return EXIT_OK


def _options(args: argparse.Namespace) -> LoadOptions:
    url: str = args.url
    headers = parse_headers(args.header)
    method = args.method
    body: bytes | None = None
    if args.data is not None:
        body = read_data(args.data).encode("utf-8")
    if args.openai:
        url, body, method = _openai_request(args, url, headers, body, method)
    if body is not None and not _has(headers, "content-type") and body.lstrip()[:1] in (b"{", b"["):
        headers.append(("Content-Type", "application/json"))
    duration = args.duration
    if duration is None and args.streams is None:
        duration = 10.0
    connections = args.connections
    if connections is None and args.rate is None:
        connections = 10
    try:
        return LoadOptions(
            url=url,
            method=method or ("POST" if body is not None else "GET"),
            headers=tuple(headers),
            body=body,
            connections=connections,
            duration=duration,
            **passed_through(
                args,
                "streams",
                "rate",
                "warmup",
                "openai",
                "connect_timeout",
                "read_timeout",
                "keep_alive",
            ),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _openai_request(
    args: argparse.Namespace,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    method: str | None,
) -> tuple[str, bytes, str]:
    """``--openai``: a streaming chat completion to ``URL`` (``.../v1`` gets the endpoint)."""
    if url.rstrip("/").endswith("/v1"):
        url = url.rstrip("/") + "/chat/completions"
    if body is None:
        request: dict[str, Any] = {
            "model": args.model,
            "messages": [{"role": "user", "content": args.prompt}],
            "stream": True,
        }
        if args.max_tokens is not None:
            request["max_tokens"] = args.max_tokens
        body = json.dumps(request).encode("utf-8")
    key = os.environ.get("OPENAI_API_KEY")
    if key and not _has(headers, "authorization"):
        headers.append(("Authorization", f"Bearer {key}"))
    return url, body, method or "POST"


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _progress_printer() -> Any:
    tty = sys.stderr.isatty()

    def show(progress: Progress) -> None:
        phase = "warm-up " if progress.warming_up else ""
        line = (
            f"{phase}{progress.elapsed:6.1f} s  {progress.open_streams:>6} streams open  "
            f"{progress.events:>12,} events  {progress.events_per_s:>12,.0f} events/s"
        )
        if tty:
            sys.stderr.write("\r\x1b[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return show
