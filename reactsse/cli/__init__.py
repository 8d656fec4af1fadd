"""The ``reactsse`` command line (also ``python -m reactsse``): demo, chat, get, serve, bench.

The console script ``reactsse`` runs ``reactsse.cli:main``; docs/cli.md documents every command
and the exit codes.
"""

from __future__ import annotations

from reactsse.cli.main import (
    EXIT_API,
    EXIT_HTTP,
    EXIT_NETWORK,
    EXIT_USAGE,
    build_parser,
    main,
)

__all__ = ["EXIT_API", "EXIT_HTTP", "EXIT_NETWORK", "EXIT_USAGE", "build_parser", "main"]
