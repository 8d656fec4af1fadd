"""What the decoder keeps between two reads: one declaration for every stage's state.

``DecoderState`` only declares the slots (``EventStreamDecoder.__init__`` sets them); the
interpreter, the fast paths and the decoder are its subclasses, so each reads the same state.
"""

from __future__ import annotations

from collections.abc import Callable

from reactsse.errors import EventTooLarge
from reactsse.sse.model import Line
from reactsse.sse.policy import FastPathPolicy

__all__ = ["DecoderState"]


class DecoderState:
    """The slots of ``EventStreamDecoder``, and their invariants.

    * Framing (``reactsse.sse.lines``): ``_head`` the first bytes while they may be a BOM;
      ``_parts`` the pieces of the unterminated last line (never a line ending), of
      ``_pending_size`` bytes in all; ``_skip_lf`` says the bytes so far ended in a CR whose
      LF, if it comes next, belongs to the same line ending.
    * The block being built (``reactsse.sse.interpreter``): ``_first`` the first ``data`` value
      (``None``: no data line yet, the block will fire nothing), ``_more`` the later ones (kept
      apart so that the usual one-line event needs no list and no join; a block of many values
      across reads is joined into a ``bytearray`` ``_first``, ``Interpreter._compact_data``),
      ``_event_type``,
      ``_id_buffer``. ``_data_size`` is their total length plus one LF each (of the first
      ``_data_counted`` values); it plus the unterminated line never exceeds
      ``_max_event_size``.
    * The stream: ``last_event_id``, ``retry``, ``comments_seen``, ``error`` (public), the
      ``_state`` of the decoder, ``_trace``.
    * The fast paths (``reactsse.sse.policy.FastPathPolicy``): ``_idle``, ``_policy``.

    Every event completed by a ``feed`` is returned by it: a line ending in a lone CR is
    complete at once (a following LF is skipped when it arrives), so nothing is ever delayed.
    """

    __slots__ = (
        "_data_counted",
        "_data_size",
        "_event_type",
        "_first",
        "_head",
        "_id_buffer",
        "_idle",
        "_max_event_size",
        "_more",
        "_parts",
        "_pending_size",
        "_policy",
        "_skip_lf",
        "_state",
        "_trace",
        "comments_seen",
        "error",
        "last_event_id",
        "retry",
    )

    _head: bytes
    _parts: list[bytes]
    _pending_size: int
    _skip_lf: bool
    _first: bytes | bytearray | None
    _more: list[bytes]
    _data_size: int
    _data_counted: int
    _event_type: str
    _id_buffer: str
    _max_event_size: int
    _trace: Callable[[Line], None] | None
    _idle: bool
    _policy: FastPathPolicy
    last_event_id: str
    retry: int | None
    comments_seen: int
    error: EventTooLarge | None
