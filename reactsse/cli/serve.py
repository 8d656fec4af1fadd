"""``reactsse serve``: run the built-in server (the relay, its page and the mock) until Ctrl-C.

``reactsse demo --browser`` is the same server on a free port, with the page's URL printed and
opened in a browser where one is available.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import webbrowser

from reactsse.cli.common import passed_through
from reactsse.cli.exits import EXIT_OK, UsageError

__all__ = ["cmd_serve", "serve_relay"]


def serve_relay(
    *,
    host: str,
    port: int,
    rate: float | None,
    reply_tokens: int | None = None,
    api_key: str | None = None,
    fault: str | None = None,
    upstream: str | None = None,
    model: str | None = None,
    open_browser: bool = False,
    keepalive: float | None = None,
    access_log: bool = False,
) -> None:
    """Serve the relay at ``/chat``, its page at ``/`` and the mock everywhere else.

    Without ``upstream`` the relay reads the mock on the same server (with ``api_key``, which
    the mock then requires); with it, the key comes from ``OPENAI_API_KEY`` and never reaches a
    browser. ``keepalive``: seconds of silence before a comment ping (``None``: the server's
    default; ``0``: none); ``access_log``: one line per request on stderr.
    """
    from reactsse.mock import MODEL_ID, MockApp, MockOptions
    from reactsse.relay import RelayApp, RelayOptions
    from reactsse.server import AccessRecord, ServerOptions, SSEServer, format_access, serve

    try:
        mock = MockApp(
            MockOptions(rate=rate, reply_tokens=reply_tokens, api_key=api_key, fault=fault)
        )
        if upstream is None:
            options = RelayOptions(
                api_key=api_key or "", model=model or MODEL_ID, allow_faults=True
            )
        else:
            default_model = os.environ.get("OPENAI_MODEL") or "gpt-4o-mini"
            options = RelayOptions(upstream=upstream, model=model or default_model)
        relay = RelayApp(options, fallback=mock)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def listening(server: SSEServer) -> None:
        relay.use_server(server)
        print(f"  page: {server.url}/    relay: {server.url}/chat?prompt=...", flush=True)
        print(f"  OpenAI base_url: {server.url}/v1    demo stream: {server.url}/events", flush=True)
        if upstream is not None:
            print(f"  relaying {upstream} (model {options.model})", flush=True)
        if open_browser and _has_display():
            server.loop.future_tick(lambda: webbrowser.open(server.url + "/"))

    def log(record: AccessRecord) -> None:
        sys.stderr.write(format_access(record) + "\n")
        sys.stderr.flush()

    server_options = ServerOptions(access_log=log if access_log else None)
    if keepalive is not None:
        server_options = dataclasses.replace(server_options, keepalive_interval=keepalive or None)
    serve(relay, host=host, port=port, options=server_options, on_listening=listening)


def _has_display() -> bool:
    # Without a display, webbrowser may start a text-mode browser in this terminal (lynx, w3m).
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_serve(args: argparse.Namespace) -> int:
    names = (
        "host",
        "port",
        "rate",
        "reply_tokens",
        "api_key",
        "fault",
        "upstream",
        "model",
        "keepalive",
    )
    serve_relay(**passed_through(args, *names), access_log=not args.quiet)
    return EXIT_OK
