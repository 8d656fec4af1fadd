"""The ReactPHP event loop, ported, and the few primitives every layer above it shares.

``LoopInterface``, ``StreamSelectLoop`` and the ``Loop`` facade are reactphp/event-loop in
snake_case; ``VirtualTimeLoop`` runs the same loop on a virtual clock for tests. The primitives
are written once here so that no layer above writes its own: ``Deferred`` (a one-shot result, as
ReactPHP's promises), ``OneShotTimer`` (one timer armed, re-armed and cancelled by its owner),
``ThreadWaker`` (wake the loop from another thread) and ``BlockingIterator`` (a plain iterator
over a private loop). This package knows nothing of HTTP or SSE: every import in it points at
the standard library or at itself.
"""

from __future__ import annotations

from reactsse.loop.blocking import BlockingIterator
from reactsse.loop.deferred import Deferred
from reactsse.loop.facade import Loop
from reactsse.loop.interface import LoopInterface, Stream, TimerInterface
from reactsse.loop.oneshot import OneShotTimer
from reactsse.loop.select_loop import StreamSelectLoop
from reactsse.loop.timer import Timer
from reactsse.loop.virtual import VirtualClock, VirtualTimeLoop
from reactsse.loop.waker import ThreadWaker

__all__ = [
    "BlockingIterator",
    "Deferred",
    "Loop",
    "LoopInterface",
    "OneShotTimer",
    "Stream",
    "StreamSelectLoop",
    "ThreadWaker",
    "Timer",
    "TimerInterface",
    "VirtualClock",
    "VirtualTimeLoop",
]
