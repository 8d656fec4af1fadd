"""``reactsse serve``: run the built-in server until Ctrl-C."""

from __future__ import annotations

import argparse

from reactsse.cli.exits import EXIT_OK, UsageError

__all__ = ["cmd_serve"]


def cmd_serve(args: argparse.Namespace) -> int:
    from reactsse.mock import MockApp, MockOptions
    from reactsse.server import SSEServer, serve

    try:
        app = MockApp(MockOptions(rate=args.rate, api_key=args.api_key, fault=args.fault))
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def endpoints(server: SSEServer) -> None:
        print(f"  OpenAI base_url: {server.url}/v1    demo stream: {server.url}/events", flush=True)

    serve(app, host=args.host, port=args.port, on_listening=endpoints)
    return EXIT_OK
