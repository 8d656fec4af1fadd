"""``reactsse serve``: run the built-in server (the relay, its page and the mock) until Ctrl-C.

``reactsse demo --browser`` is the same server on a free port, with the page's URL printed and
opened in a browser where one is available.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser

from reactsse.cli.exits import EXIT_OK, UsageError

__all__ = ["cmd_serve", "serve_relay"]


def serve_relay(
    *,
    host: str,
    port: int,
    rate: float | None,
    api_key: str | None = None,
    fault: str | None = None,
    upstream: str | None = None,
    model: str | None = None,
    open_browser: bool = False,
) -> None:
    """Serve the relay at ``/chat``, its page at ``/`` and the mock everywhere else.

    Without ``upstream`` the relay reads the mock on the same server (with ``api_key``, which
    the mock then requires); with it, the key comes from ``OPENAI_API_KEY`` and never reaches a
    browser.
    """
    from reactsse.mock import MODEL_ID, MockApp, MockOptions
    from reactsse.relay import RelayApp, RelayOptions
    from reactsse.server import SSEServer, serve

    try:
        mock = MockApp(MockOptions(rate=rate, api_key=api_key, fault=fault))
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

    serve(relay, host=host, port=port, on_listening=listening)


def _has_display() -> bool:
    # Without a display, webbrowser may start a text-mode browser in this terminal (lynx, w3m).
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_serve(args: argparse.Namespace) -> int:
    serve_relay(
        host=args.host,
        port=args.port,
        rate=args.rate,
        api_key=args.api_key,
        fault=args.fault,
        upstream=args.upstream,
        model=args.model,
    )
    return EXIT_OK
