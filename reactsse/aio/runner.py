"""``run()``: start an asyncio or trio program, for callers that must not import anyio themselves.

The command line runs its commands on the loop the user picks (``--loop asyncio|trio``); this
is its one entry into a host, so that ``reactsse.aio`` stays the only package importing anyio.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["run"]

T = TypeVar("T")


def run(function: Callable[[], Awaitable[T]], *, backend: str = "asyncio") -> T:
    """Run ``function()`` in a new host event loop (``backend``: "asyncio" or "trio")."""
    if backend not in ("asyncio", "trio"):
        raise ValueError(f"backend must be 'asyncio' or 'trio', not {backend!r}")
    return anyio.run(function, backend=backend)
