"""Re-exports imported on first use (PEP 562), for a package's ``__init__``.

A package that re-exports its names eagerly makes every import of one of its modules load them
all: ``import reactsse.sse`` would bring the loop, sockets and TLS with it, because Python runs
``reactsse/__init__.py`` first. A lazy re-export keeps ``from reactsse import EventSource``
working and loads ``reactsse.eventsource`` only then.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, MutableMapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: MutableMapping[str, object], homes: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package ``package`` whose globals are ``namespace``:
    ``homes`` maps each lazily exported name to the module that defines it. A submodule of the
    package is also imported when its name is first looked up (``import reactsse`` then
    ``reactsse.sse``), as an eager package's imports made it an attribute."""

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
        elif name.isidentifier() and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next lookup is an ordinary one
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
