"""``python -m reactsse.sse``: show each stage of decoding an event stream (for teaching).

(A package ``__main__``, not an ``if __name__ == "__main__"`` block in the module: the package
``reactsse`` imports ``reactsse.sse``, and running an already-imported module with ``-m`` makes
runpy warn about unpredictable behaviour.)

The I/O of the tool lives here (arguments, stdin, stdout); what it prints comes from
``reactsse.sse.tool``, which is sans-IO like the rest of the package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reactsse.sse.tool import Explainer, event_json, unescape

_DESCRIPTION = """\
Decode an event stream (text/event-stream) and show every stage: each line as the decoder saw
it, how it was interpreted, the rule that ignores it when it is ignored, each dispatched event,
and, at the end, what the end of the stream discarded (WHATWG HTML §9.2.5-9.2.6).

Each STREAM argument is one chunk, fed to the decoder after the one before, as if each came in
its own socket read: several arguments show how an event split across reads is put together.
In STREAM, these escapes let line endings and odd bytes be typed:
  \\n \\r \\t \\0 \\\\   LF, CR, TAB, NUL, a backslash
  \\xNN             one byte (\\xEF\\xBB\\xBF: a BOM's bytes; \\xFF: invalid UTF-8)
  \\uNNNN           one character, UTF-8 encoded (\\uFEFF: a BOM)
Without STREAM (or with --stdin, or -), the bytes are read from stdin, as they are."""

_EPILOG = """\
examples:
  python -m reactsse.sse 'data: hello\\n\\n'
  python -m reactsse.sse 'data: hel' 'lo\\r' '\\n\\r\\n'           one event, three reads
  python -m reactsse.sse 'retry: 1s\\nid: a\\0b\\n: ping\\nevent: x\\n\\n'  what is ignored, and why
  python -m reactsse.sse '\\xEF\\xBB\\xBF\\uFEFFdata: x\\n\\ndata: cut'   a second BOM; a cut tail
  reactsse get --format raw URL > capture.txt; python -m reactsse.sse --stdin < capture.txt
  python -m reactsse.sse --format jsonl - < capture.txt | jq -r .data"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reactsse.sse",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "chunks", nargs="*", metavar="STREAM", help="a chunk of the stream, with escapes"
    )
    parser.add_argument(
        "--stdin", action="store_true", help="read the stream from stdin (also: - as STREAM)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "jsonl"),
        default="text",
        help="text: every stage explained (default); jsonl: only the events, one "
        '{"type", "data", "last_event_id"} object per line, for scripts',
    )
    return parser


def _chunks(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[bytes]:
    if args.stdin or not args.chunks or args.chunks == ["-"]:
        if args.chunks and args.chunks != ["-"]:
            parser.error("give STREAM arguments or read stdin, not both")
        return [sys.stdin.buffer.read()]
    if "-" in args.chunks:
        parser.error("- reads stdin: give it alone")
    try:
        return [unescape(chunk) for chunk in args.chunks]
    except ValueError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> int:
    """Decode the arguments (or stdin) and print every stage, or the events; returns 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    chunks = _chunks(args, parser)
    explainer = Explainer()
    text = args.format == "text"
    if text:
        shown = " + ".join(repr(chunk) for chunk in chunks)
        print(f"bytes: {shown}" + (f"   ({len(chunks)} chunks)" if len(chunks) > 1 else ""))
    for number, chunk in enumerate(chunks, 1):
        if text and len(chunks) > 1:
            print(f"chunk {number}: {chunk!r} ({len(chunk)} bytes)")
        lines = explainer.feed(chunk)
        if text:
            for line in lines:
                print(line)
    footer = explainer.close()
    if text:
        for line in footer:
            print(line)
    else:
        for event in explainer.events:
            print(event_json(event))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
