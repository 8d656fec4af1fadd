"""Fixtures shared by several test files (only what more than one file needs)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis' defaults judge wall-clock time: a 200 ms deadline per example and a too_slow health
# check on data generation. On a shared 2-core CI machine both measure the scheduler, not the
# code (a test preempted for 250 ms fails as "Flaky: Unreliable test timings"). Speed is measured
# in bench/, and pytest-timeout (60 s per test) still bounds every test. Explicit @settings in a
# test inherit these values for whatever they do not set.
settings.register_profile("reactsse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("reactsse")


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
