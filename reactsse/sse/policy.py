"""``FastPathPolicy``: when the decoder tries each of its fast paths, in one place.

The fast paths themselves are in ``reactsse.sse.fastpaths``; this module only decides, from
what the last chunks looked like, which of them the next chunk is worth trying. It holds no
bytes and imports nothing of the decoder, so the decoder's state can declare it plainly.
"""

from __future__ import annotations

__all__ = ["COOLDOWN", "DENSE", "FastPathPolicy"]

DENSE = 160
"""A stream is "dense" (regions go through ``_blocks``) while its chunks have more than 3 lines
per event and events under this many bytes: the regex costs a few ns per byte in C where the
line loop costs a Python iteration per line, so it wins on short events of several lines, and
loses on long one-line ones (chat chunks: those take ``_data_blocks``)."""
COOLDOWN = 16
"""Chunks that go through the line loop alone after a region with blocks of another shape."""


class FastPathPolicy:
    """When each fast path is tried, why, and what switches it: the one place that decides.

    ============================  ==================================  ===========================
    fast path                     tried when                          switched by
    ============================  ==================================  ===========================
    whole-event chunk (``feed``)  ``decoder._idle`` and the chunk     the interpreters set
                                  within ``max_event_size``           ``_idle`` at the end of
                                                                      each chunk: OPEN, no
                                                                      trace, nothing pending (no
                                                                      partial line, CR, data or
                                                                      type); keeping a partial
                                                                      line, a fault or
                                                                      ``close`` clears it
    regions (``_regions``)        ``many`` and not ``cooldown``, no   ``after_chunk``
                                  trace, the chunk cannot break the
                                  limit, and the region starts with
                                  ``data: `` / ``event: `` or the
                                  stream is ``dense``
    regex region (``_blocks``)    ``dense``                           ``after_chunk``,
                                                                      ``fell_back``, ``pause``
    one-split regions             not ``dense``                       (the region's first bytes)
    line loop                     no trace, and the held bytes plus   (the chunk's size)
    (``_interpret_fast``)         the chunk fit ``max_event_size``
    ============================  ==================================  ===========================

    Why: ``_idle`` is what makes a whole-event chunk mean exactly one event (nothing before it
    to complete); it is a slot of the decoder, not of this object, because it is read on every
    call. ``many``: the last chunk completed more than two events (or there was none yet: a
    first chunk is often a burst), else the ``find`` and ``rfind`` of a region could cost more
    than they save (64 KiB events). ``dense``: the regex
    pays for many lines per event, not for one-line events (``DENSE``). ``cooldown``: a stream
    whose blocks often have other shapes (comments in every block, ``data:`` without the space)
    would pay a failed region attempt on every other chunk, so after one the decoder stays on
    the line loop for ``COOLDOWN`` chunks.
    """

    __slots__ = ("cooldown", "dense", "many")

    def __init__(self) -> None:
        # A stream's first chunk is often a burst (a short response read whole, a server's
        # backlog after a reconnect): look for a region in it. The worst case is one failed
        # find per stream, on a first chunk with no blank line.
        self.many = True
        self.dense = False
        self.cooldown = 0

    def after_chunk(self, lines: int, events: int, size: int) -> None:
        """A chunk is done: ``lines`` went through the line loop, ``events`` came out of the
        whole chunk; ``size`` is its length if it went through the line loop alone, else 0."""
        self.many = events > 2  # a region is worth looking for in the next chunk
        if size:
            if self.cooldown:  # the last region had blocks of other shapes: wait a while
                self.cooldown -= 1
            else:
                # The regex region pays for many lines per event (6 in a CRLF event with an id
                # and 3 data lines), not for one-line events: measured on this chunk.
                self.dense = lines > 3 * events and events * DENSE > size

    def fell_back(self, lines: int, events: int, size: int) -> None:
        """A region of ``size`` bytes went through the line loop (``lines`` lines, ``events``
        events): measure the stream again, and unless it is dense, pause the regions."""
        self.dense = lines > 3 * events and events * DENSE > size
        if not self.dense:
            self.cooldown = COOLDOWN

    def pause(self) -> None:
        """The regex region met blocks of another shape: leave it for ``COOLDOWN`` chunks."""
        self.dense = False
        self.cooldown = COOLDOWN
