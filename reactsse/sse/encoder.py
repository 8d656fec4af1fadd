"""The bytes a server sends: ``encode_event`` and ``encode_comment`` (WHATWG HTML §9.2.5-9.2.6).

Whatever these produce decodes back to what was given (data with its line endings made LF, the
type or ``"message"``, the ID, the retry); what could not (a field that would end early, an ID a
decoder would ignore) is refused with ``ValueError``.
"""

from __future__ import annotations

__all__ = ["encode_comment", "encode_event"]


def _lines_of(text: str) -> list[str]:
    # CRLF, CR and LF each end a line (§9.2.5), nothing else (not str.splitlines()'s U+2028...).
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Encode one event as the UTF-8 bytes of a block, ending in its blank line.

    ``data`` may span lines (CRLF, CR or LF): each becomes one ``data:`` line, and a decoder
    yields them joined by LF. ``event`` (type), ``id`` (``""`` resets the client's ID) and
    ``retry`` (ms) are written only when not ``None``; ``comment`` becomes comment lines, one
    per line, before the fields.

    Raises ``ValueError`` if ``event`` or ``id`` contains CR or LF (it would end the field), if
    ``id`` contains NUL (a decoder ignores such an id), if ``retry`` is negative, or if a string
    cannot be encoded as UTF-8 (lone surrogates).
    """
    if (
        event is None
        and id is None
        and retry is None
        and comment is None
        and "\n" not in data
        and "\r" not in data
    ):
        return ("data: " + data + "\n\n").encode()  # the usual token event: one line, no fields
    out: list[str] = []
    if comment is not None:
        out.extend(":" + line for line in _lines_of(comment))
    if event is not None:
        if "\r" in event or "\n" in event:
            raise ValueError(f"event type must not contain CR or LF: {event!r}")
        out.append("event: " + event)
    if id is not None:
        if "\r" in id or "\n" in id or "\0" in id:
            raise ValueError(f"event id must not contain CR, LF or NUL: {id!r}")
        out.append("id: " + id)
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"retry must be a non-negative int (ms), not {retry!r}")
        out.append(f"retry: {retry}")
    out.extend("data: " + line for line in _lines_of(data))
    out.append("\n")
    return "\n".join(out).encode()


def encode_comment(text: str = "") -> bytes:
    """Encode a comment (e.g. a keep-alive): ``b":" + text + b"\\n"``, one line per line of text.

    A comment dispatches nothing and leaves the block open, so it can be sent at any point
    between events. Raises ``ValueError`` if ``text`` cannot be encoded as UTF-8.
    """
    return "".join(":" + line + "\n" for line in _lines_of(text)).encode()
