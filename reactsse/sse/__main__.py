"""``python -m reactsse.sse``: show each stage of decoding an event stream (for teaching).

(A package ``__main__``, not an ``if __name__ == "__main__"`` block in the module: the package
``reactsse`` imports ``reactsse.sse``, and running an already-imported module with ``-m`` makes
runpy warn about unpredictable behaviour.)

Reads the stream from the first argument (with ``\\n``, ``\\r``, ``\\t``, ``\\0``, ``\\\\``
escapes, so that line endings can be typed) or, without arguments, from stdin as bytes, and
prints every line as the decoder saw it, how it was interpreted, and each dispatched event.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reactsse.sse import Comment, Dispatch, EventStreamDecoder, Field, Line

_BLANK = repr("")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\"}


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _show(item: Line) -> None:
    if isinstance(item, Comment):
        print(f"line {':' + item.text!r:<30} -> comment {item.text!r} (ignored)")
    elif isinstance(item, Field):
        known = item.name in ("data", "event", "id", "retry")
        note = "" if known else "  (unknown name: ignored)"
        print(f"line {item.line!r:<30} -> field {item.name!r} = {item.value!r}{note}")
    elif isinstance(item, Dispatch):
        if item.event is None:
            print(f"line {_BLANK:<30} -> blank line: dispatch, no data so no event")
        else:
            print(f"line {_BLANK:<30} -> blank line: dispatch")
            event = item.event
            print(
                f"     EVENT type={event.type!r} data={event.data!r} "
                f"last_event_id={event.last_event_id!r}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Decode the argument (or stdin), printing lines, fields and events; returns 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        raw = _unescape(" ".join(args)).encode("utf-8", "surrogatepass")
    else:
        raw = sys.stdin.buffer.read()
    print(f"bytes: {raw!r}")
    decoder = EventStreamDecoder(trace=_show)
    decoder.feed(raw)
    decoder.close()
    print(f"end of stream: last_event_id={decoder.last_event_id!r} retry={decoder.retry!r}")
    print("(an unterminated last line or block is discarded, WHATWG HTML §9.2.6)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
