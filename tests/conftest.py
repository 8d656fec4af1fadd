"""Fixtures shared by several test files (only what more than one file needs)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def sigint_default() -> Iterator[None]:
    """Python's own SIGINT handler in this process for the test, restored afterwards.

    A process started in the background by a non-interactive shell (``cmd &`` in a script, some
    CI runners) inherits SIGINT *ignored*; Python then installs no KeyboardInterrupt handler, and
    every child it spawns inherits the ignored disposition too (POSIX keeps SIG_IGN across
    exec(), and resets caught signals to SIG_DFL). Tests that send Ctrl-C to a child, or raise
    SIGINT in this process, would then hang or see the child run to its end. With Python's
    handler installed here, children start with SIGINT at its default, as from a terminal, and
    Python installs its KeyboardInterrupt handler in them as usual.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        # None: a handler that Python did not install; SIG_DFL is the closest we can restore.
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
