"""The ``text/event-stream`` format, sans-IO: bytes in, events out (WHATWG HTML §9.2.5–9.2.6).

``EventStreamDecoder`` turns the bytes of an event stream, fed in chunks of any size, into
``MessageEvent`` objects; ``encode_event`` and ``encode_comment`` produce the bytes a server
sends. The package owns no socket, clock, loop or thread: any loop can drive it.

The decoder works in three stages, which ``trace`` (and ``python -m reactsse.sse``) make visible:

1. bytes → lines (``lines``): one leading BOM is dropped; lines end in CRLF, LF or a lone CR,
   and in nothing else; the text is UTF-8 (§9.2.5), invalid sequences replaced by U+FFFD.
2. lines → ``Comment`` / ``Field`` (``interpreter``): a line starting with ``:`` is a comment;
   otherwise the name is the text before the first colon and the value the text after it,
   minus one leading space.
3. fields → events (``interpreter``): a blank line dispatches (``Dispatch``) the block's data as
   a ``MessageEvent``.

Modules: ``model`` (the data types), ``lines`` (stage 1), ``interpreter`` (stages 2 and 3, the
reference, written rule by rule), ``fastpaths`` (the same rules, faster, for the inputs they
take), ``decoder`` (``EventStreamDecoder``: the state, and which path each chunk takes),
``encoder``.

How the fast paths relate to the rules: the reference interpreter runs whenever ``trace`` is on
or a chunk could pass ``max_event_size``. Otherwise a chunk goes, in this order, to the
whole-event shortcut (a chunk that is exactly one block of a common shape, on a decoder with
nothing pending), to the region paths (the whole blocks between a chunk's first and last blank
lines, when every block has one common shape: one ``data: v`` line; ``event: t`` + ``data: v``;
or, on streams of short many-line events, the regex shape of an optional ``event:``, optional
``id:``, one or more ``data: `` lines), and to the fast line loop (any lines: the reference's
rules without its per-line checks). Each shortcut proves the shape of its input with a few C
calls and declines anything else, which the next path takes. None of them has rules of its own:
each gives the events, ``last_event_id``, ``retry`` and ``comments_seen`` of the reference. The
tests check it. In ``tests/test_sse.py`` hypothesis feeds arbitrary byte streams, cut anywhere,
to decoders with and without tracing (which forces the reference) and compares both with a
character-by-character transcription of the spec; in ``tests/test_sse_fastpaths.py`` other
properties put the decoder on each fast path first and compare the same way, and declined
inputs are checked to fall through.
"""

from __future__ import annotations

from reactsse.sse.decoder import EventStreamDecoder
from reactsse.sse.encoder import encode_comment, encode_event
from reactsse.sse.model import Comment, Dispatch, Field, Line, MessageEvent

__all__ = [
    "Comment",
    "Dispatch",
    "EventStreamDecoder",
    "Field",
    "Line",
    "MessageEvent",
    "encode_comment",
    "encode_event",
]
