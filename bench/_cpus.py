"""Internal: keep a benchmark's server and its client on CPUs of their own.

Unpinned, a server's threads and the client share the CPUs as the scheduler pleases, and the
same contestant measured up to 2.5x apart between two runs on a 2-CPU machine. Pinned, the
client has one CPU to itself, which is what "one client process" means in the figures.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable

__all__ = ["allowed", "cpu_pair", "pinned", "set_affinity"]


def allowed() -> list[int]:
    """The CPUs this process may run on (empty where the OS cannot tell)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def cpu_pair() -> tuple[int | None, int | None]:
    """(the server's CPU, the client's CPU): two different ones when this process may use two,
    else (None, None): nothing is pinned."""
    cpus = allowed()
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child (and the threads it starts) on one CPU."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def set_affinity(pid: int, cpus: Iterable[int]) -> None:
    """Move every thread of the running process ``pid`` to ``cpus`` (Linux sets affinity per
    thread; threads started later inherit it from the thread that starts them)."""
    cpus = set(cpus)
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            os.sched_setaffinity(tid, cpus)
