"""``python -m reactsse.sse``: the decoder explained (its help, escapes, annotations, footer).

The explaining engine (``reactsse.sse.tool``) is tested directly; the command as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reactsse.sse import MessageEvent
from reactsse.sse.tool import Explainer, unescape


def tool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reactsse.sse", *args],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        encoding="latin-1" if stdin is not None else "utf-8",
        timeout=30,
    )


def explain(*chunks: bytes) -> list[str]:
    explainer = Explainer()
    out: list[str] = []
    for chunk in chunks:
        out += explainer.feed(chunk)
    return out + explainer.close()


def test_help_has_usage_examples_and_says_arguments_are_chunks() -> None:
    result = tool("--help")
    assert result.returncode == 0 and result.stderr == ""
    text = result.stdout
    assert text.startswith("usage: python -m reactsse.sse")
    assert "examples:" in text
    assert "Each STREAM argument is one chunk" in text
    for escape in (r"\xNN", r"\uNNNN", r"\n", r"\0"):
        assert escape in text
    assert "--stdin" in text and "--format" in text


def test_escapes() -> None:
    assert unescape(r"a\n\r\t\0\\b") == b"a\n\r\t\0\\b"
    assert unescape(r"\xEF\xBB\xBF\uFEFF") == b"\xef\xbb\xbf" * 2
    assert unescape(r"\xff\u00e9é") == b"\xff\xc3\xa9\xc3\xa9"
    for bad in (r"\q", r"\x4", r"\u12", "\\"):
        with pytest.raises(ValueError, match="unknown escape"):
            unescape(bad)


def test_a_bad_escape_is_a_usage_error() -> None:
    result = tool(r"data: \q")
    assert result.returncode == 2
    assert "unknown escape" in result.stderr


def test_several_arguments_are_chunks_fed_in_turn() -> None:
    result = tool("data: hel", r"lo\r", r"\n\r\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == r"bytes: b'data: hel' + b'lo\r' + b'\n\r\n'   (3 chunks)"
    assert lines[1] == "chunk 1: b'data: hel' (9 bytes)"
    assert lines[2] == r"chunk 2: b'lo\r' (3 bytes)"
    assert lines[3].startswith("line 'data: hello'") and lines[3].endswith("= 'hello'")
    assert lines[4] == r"chunk 3: b'\n\r\n' (3 bytes)"
    assert "EVENT type='message' data='hello'" in lines[6]
    assert lines[-1] == "discarded: nothing"


@pytest.mark.parametrize(
    ("stream", "annotation"),
    [
        (b"retry: 1s\n", "field 'retry' = '1s'  (ignored: retry must be ASCII digits only)"),
        (b"retry: \xd9\xa3\n", "(ignored: retry must be ASCII digits only)"),
        (b"id: a\0b\n", "(ignored: an id containing NUL does not set the last event ID)"),
        (
            b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n",
            "field '\\ufeffdata' = 'x'  (ignored: unknown name; a BOM is dropped only once",
        ),
        (b": ping\n", "comment ' ping' (ignored: a line starting with ':' is a comment)"),
        (
            b"event: x\n\n",
            "no data so no event (ignored: a block without data fires nothing;",
        ),
        (b"bogus: 1\n", "field 'bogus' = '1'  (ignored: unknown name)"),
    ],
)
def test_every_ignored_input_names_its_rule(stream: bytes, annotation: str) -> None:
    out = "\n".join(explain(stream))
    assert annotation in out


def test_what_is_used_is_not_called_ignored() -> None:
    out = explain(b"\xef\xbb\xbfretry: 30\nid: 7\nevent: e\ndata: d\n\n")
    assert out[0] == "BOM at the start of the stream: dropped (only this one)"
    assert not any("ignored" in line for line in out)
    assert "end of stream: last_event_id='7' retry=30" in out


def test_the_first_bom_split_across_chunks_is_noted_once() -> None:
    out = explain(b"\xef", b"\xbb", b"\xbfdata: x\n\n")
    assert out.count("BOM at the start of the stream: dropped (only this one)") == 1


def test_footer_shows_what_was_discarded() -> None:
    assert explain(b"data: x\n\n")[-1] == "discarded: nothing"
    assert explain(b"data: x\r")[-1] == (
        "discarded: the block in progress ('data: x'): no blank line ended it (WHATWG HTML §9.2.6)"
    )
    assert explain(b"data: x\n\ndata: cu", b"t")[-1] == (
        "discarded: the unterminated last line b'data: cut': no line ending (WHATWG HTML §9.2.6)"
    )
    both = explain(b"event: e\ndata: cut")[-2:]
    assert both[0].startswith("discarded: the block in progress ('event: e')")
    assert both[1].startswith("discarded: the unterminated last line b'data: cut'")


@pytest.mark.parametrize("how", [["--stdin"], ["-"], []])
def test_stdin_reads_a_captured_stream(how: list[str]) -> None:
    result = tool(*how, stdin=b"\xef\xbb\xbfdata: x\r\n\r\ndata: \\n\n\n")
    assert result.returncode == 0, result.stderr
    assert "EVENT type='message' data='x'" in result.stdout
    # Bytes from stdin are taken as they are: no escapes.
    assert "data='\\\\n'" in result.stdout


def test_jsonl_prints_only_the_events() -> None:
    result = tool("--format", "jsonl", r"id: 1\ndata: a\n\nevent: t\ndata: b\ndata: c\n\n: x\n")
    assert result.returncode == 0, result.stderr
    events = [MessageEvent(**json.loads(line)) for line in result.stdout.splitlines()]
    assert events == [
        MessageEvent("message", "a", "1"),
        MessageEvent("t", "b\nc", "1"),
    ]
    assert list(json.loads(result.stdout.splitlines()[0])) == ["type", "data", "last_event_id"]
