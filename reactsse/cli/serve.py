"""``reactsse serve``: run the built-in server until Ctrl-C."""

from __future__ import annotations

import argparse

from reactsse.cli.exits import EXIT_OK, UsageError

__all__ = ["cmd_serve"]


def cmd_serve(args: argparse.Namespace) -> int:
    from reactsse.server import serve

    try:
        serve(
            args.host,
            args.port,
            rate=args.rate,
            api_key=args.api_key,
            fault=args.fault,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK
