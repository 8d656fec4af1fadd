"""The ReactPHP event loop, ported: ``LoopInterface``, ``StreamSelectLoop`` and the ``Loop`` facade.

This package knows nothing of HTTP or SSE (house plan: layers point down).
"""

from __future__ import annotations

from reactsse.loop.facade import Loop
from reactsse.loop.interface import LoopInterface, Stream, TimerInterface
from reactsse.loop.select_loop import StreamSelectLoop
from reactsse.loop.timer import Timer

__all__ = ["Loop", "LoopInterface", "Stream", "StreamSelectLoop", "Timer", "TimerInterface"]
