"""Internal: which peers of a benchmark are installed; one line for each one that is not.

The peers come with the ``bench`` extra (``pip install -e '.[bench]'``). Without it, every
script still runs reactsse and the peers it finds, and says in one line per missing peer that it
skipped it, instead of failing. (The tests simulate a missing package by setting its
``sys.modules`` entry to None, which is what ``importlib.util.find_spec`` reports as absent.)
"""

from __future__ import annotations

import importlib.util

__all__ = ["installed", "skip_missing"]


def installed(*modules: str) -> bool:
    """Whether every one of ``modules`` can be imported."""
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def skip_missing(peers: dict[str, tuple[str, ...]]) -> list[str]:
    """The names of ``peers`` (name -> the modules it needs) whose modules are all installed;
    prints one ``skipped`` line for each of the others."""
    kept = []
    for name, modules in peers.items():
        missing = [module for module in modules if not installed(module)]
        if missing:
            print(
                f"skipped {name}: {', '.join(missing)} not installed "
                "(pip install -e '.[bench]' brings every peer)",
                flush=True,
            )
        else:
            kept.append(name)
    return kept
