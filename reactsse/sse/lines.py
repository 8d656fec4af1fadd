"""Bytes into lines: the framing rules of WHATWG HTML §9.2.5 "Parsing an event stream".

The stream is UTF-8; one byte-order mark at the very start is dropped (also when its three bytes
arrive in different reads); a line ends in CRLF, LF or a lone CR, and in nothing else (U+2028,
U+0085, VT, FF are ordinary text, so ``splitlines`` is never used). A CR that ends one read has
already ended its line: an LF starting the next read belongs to the same CRLF and is skipped.

Lines are found in the bytes, before decoding: CR and LF never occur inside a UTF-8 multi-byte
sequence, and an ASCII byte ends any invalid sequence in a streaming decoder too, so decoding
each line (or each event's data) alone gives exactly the text of the stream's decoding, with no
incremental decoder to keep. The decoder keeps the state between reads (the BOM's first bytes,
a pending CR, the pieces of an unterminated line); this module holds the rules as functions.
"""

from __future__ import annotations

__all__ = ["BOM", "CR", "LF", "join_pending", "normalise_line_ends", "skip_bom", "split_lines"]

BOM = b"\xef\xbb\xbf"
# Bytes tested with "in" as ints: `13 in data` is one memchr, where `b"\r" in data` goes
# through the general substring search (figures in docs/sse-framing.md).
CR = 13
LF = 10
LONG_LINE = 2048
"""A first or last line at least this long: ``split_lines`` splits the chunk with ``find``."""


def skip_bom(head: bytes) -> bytes | None:
    """The stream's first bytes ``head`` without a leading BOM; ``None`` while too few bytes
    have arrived to tell (fewer than 3, all a prefix of the BOM). Only one BOM is dropped."""
    if len(head) < 3 and BOM.startswith(head):
        return None
    return head[3:] if head[:3] == BOM else head


def normalise_line_ends(data: bytes, skip_lf: bool) -> tuple[bytes, bool]:
    """``data`` with every line ending made one LF, and whether it ended in a CR.

    ``skip_lf`` says the bytes before ``data`` ended in a CR: that line is complete already, and
    an LF starting ``data`` is the rest of its CRLF (dropped). An empty ``data`` keeps it.
    """
    if skip_lf and data:
        skip_lf = False
        if data[:1] == b"\n":
            data = data[1:]
    if CR in data:
        skip_lf = data[-1:] == b"\r"
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data, skip_lf


def join_pending(parts: list[bytes], lines: list[bytes]) -> None:
    """Complete the unterminated line kept as ``parts`` with ``lines[0]``, in place.

    Only each new chunk is split: a long pending line is joined once and never rescanned.
    """
    parts.append(lines[0])
    lines[0] = b"".join(parts)


def split_lines(data: bytes) -> list[bytes]:
    """``data.split(b"\\n")``, fast for chunks of long lines too.

    ``bytes.split`` with a one-byte separator visits every byte in its own loop, while ``find``
    is a ``memchr``: a stream of 64 KiB events has one or two line ends per read. Chunks of short
    lines keep ``split``, cheaper per line: after a few short lines in a row, the rest goes to
    ``split``. The first and the last line (``rfind``, a ``memrchr``) decide: a chunk of 64 KiB
    events read 64 KiB at a time often holds the short end of one event and a long start of the
    next.
    """
    end = data.find(b"\n")
    if end < LONG_LINE and len(data) - data.rfind(b"\n") <= LONG_LINE:
        return data.split(b"\n")
    lines = []
    start = 0
    short = 0  # short lines in a row
    while True:
        if end < 0:
            lines.append(data[start:])
            return lines
        if end - start < LONG_LINE:
            short += 1
            if short > 4:
                lines.extend(data[start:].split(b"\n"))
                return lines
        else:
            short = 0
        lines.append(data[start:end])
        start = end + 1
        end = data.find(b"\n", start)
