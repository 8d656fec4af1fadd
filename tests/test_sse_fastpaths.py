"""Each fast path of the decoder gives the reference's events (``tests/_sse_reference.py``).

The decoder (``reactsse.sse``) has one reference interpreter and fast paths that take only the
inputs they can prove (see ``reactsse/sse/fastpaths.py``). ``_Spy`` is the real decoder with
its path methods observed (each still runs, unchanged), so that a test can tell which path took
a chunk: inputs of a path's shapes must be handled by it, anything else must fall through, and
in every case the events, ``last_event_id``, ``retry`` and comment count are the reference's,
under any chunking.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from _sse_reference import Reference
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.sse import EventStreamDecoder, MessageEvent


class _Spy(EventStreamDecoder):
    """The decoder, logging which path each chunk, region or line list went through."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[tuple[str, object]] = []

    def _feed_lines(self, data: bytes) -> list[MessageEvent]:
        self.log.append(("general", bytes(data)))
        return super()._feed_lines(data)

    def _regions(self, data: bytes, events: list[MessageEvent]) -> bytes | None:
        rest = super()._regions(data, events)
        self.log.append(("regions", rest is not None))
        return rest

    def _data_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        done = super()._data_blocks(region, events)
        self.log.append(("data_blocks", done))
        return done

    def _event_blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        done = super()._event_blocks(region, events)
        self.log.append(("event_blocks", done))
        return done

    def _blocks(self, region: bytes, events: list[MessageEvent]) -> bool:
        done = super()._blocks(region, events)
        self.log.append(("blocks", done))
        return done

    def _interpret(self, lines: list[bytes], events: list[MessageEvent]) -> str | None:
        self.log.append(("reference", len(lines)))
        return super()._interpret(lines, events)

    def _interpret_fast(self, lines: list[bytes], events: list[MessageEvent]) -> None:
        self.log.append(("line_loop", len(lines)))
        super()._interpret_fast(lines, events)

    def paths(self) -> set[str]:
        return {name for name, _ in self.log}


def _run(chunks: list[bytes], **kwargs: Any) -> tuple[_Spy, list[tuple[str, str, str]]]:
    decoder = _Spy(**kwargs)
    events: list[MessageEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return decoder, [tuple(e) for e in events]  # type: ignore[misc]


def _assert_reference(stream: bytes, decoder: EventStreamDecoder, events: list[Any]) -> None:
    expected = Reference(stream)
    assert events == expected.events
    assert (decoder.last_event_id, decoder.retry, decoder.comments_seen) == (
        expected.last_event_id,
        expected.retry,
        expected.comments,
    )


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in itertools.pairwise([0, *points, len(stream)])]


_cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=10)
# Field values: no line ending, but spaces, colons, NUL, multi-byte and invalid UTF-8.
_value = st.lists(
    st.sampled_from(
        [b"a", b"b", b" ", b":", b"\0", "é".encode(), "🙂".encode(), b"\xff", b"\xe2\x82"]
    ),
    max_size=6,
).map(b"".join)
_name_value = _value.filter(lambda v: b"\0" not in v)  # an id with NUL is another shape


@st.composite
def _whole_block(draw: st.DrawFn, crlf: bool | None = None) -> bytes:
    # The shapes the whole-event shortcut takes: [event:[ ]t] [id:[ ]i] data: v... blank line.
    end = b"\r\n" if (draw(st.booleans()) if crlf is None else crlf) else b"\n"
    lines = []
    if draw(st.booleans()):
        lines.append(b"event:" + draw(st.sampled_from([b"", b" "])) + draw(_value))
    if draw(st.booleans()):
        lines.append(b"id:" + draw(st.sampled_from([b"", b" "])) + draw(_name_value))
    values = draw(st.lists(_value, min_size=1, max_size=3))
    lines += [b"data: " + v for v in values]
    return b"".join(line + end for line in lines) + end


_PRIME_IDLE = b"id: 3\ndata: first\n\n"


@settings(max_examples=300)
@given(st.lists(_whole_block(), min_size=1, max_size=8))
def test_whole_event_shortcut_takes_its_shapes(blocks: list[bytes]) -> None:
    decoder, events = _run([_PRIME_IDLE, *blocks])
    assert decoder.log[0] == ("general", _PRIME_IDLE)  # the first chunk opens the stream
    assert decoder.log[1] == ("regions", False)  # looked at for a burst: one block is none
    assert decoder.paths() - {"line_loop", "regions"} == {"general"} and len(decoder.log) == 3
    _assert_reference(_PRIME_IDLE + b"".join(blocks), decoder, events)


def test_a_first_chunk_of_many_events_takes_a_region() -> None:
    # A burst read at once (a short response read whole, a backlog after a reconnect): the
    # first chunk of a stream already goes through the data-block region, not the line loop.
    chunk = b"".join(b'data: {"n": %d}\n\n' % n for n in range(50))
    decoder, events = _run([chunk])
    assert ("regions", True) in decoder.log and ("data_blocks", True) in decoder.log
    assert [data for _, data, _ in events] == [f'{{"n": {n}}}' for n in range(50)]
    _assert_reference(chunk, decoder, events)


@settings(max_examples=300)
@given(st.lists(_whole_block(), min_size=1, max_size=8), _cuts)
def test_whole_event_shapes_under_any_chunking(blocks: list[bytes], cuts: list[int]) -> None:
    stream = _PRIME_IDLE + b"".join(blocks)
    decoder, events = _run(_split(stream, cuts))
    _assert_reference(stream, decoder, events)


@pytest.mark.parametrize(
    "chunk",
    [
        b": c\ndata: v\n\n",
        b"retry: 5\ndata: v\n\n",
        b"data:v\n\n",
        b"id: 1\0\ndata: v\n\n",
        b"data: a\rdata: b\n\n",
        b"data: a\r\n\n",
        b"data: v\n\ndata: w\n\n",
        b"event: t\ndata: v\n\ndata: w\n\n",
        b"data: v\n",
        b"event: t\n\n",
        b"\xef\xbb\xbfdata: v\n\n",
        b"Data: v\n\n",
        b"data: v\r\r",
    ],
)
def test_whole_event_shortcut_declines_other_shapes(chunk: bytes) -> None:
    decoder, events = _run([_PRIME_IDLE, chunk])
    assert decoder.log.count(("general", chunk)) == 1  # declined: the general path took it
    _assert_reference(_PRIME_IDLE + chunk, decoder, events)


def test_whole_event_shortcut_declines_past_the_limit_and_with_trace() -> None:
    chunk = b"data: " + b"x" * 40 + b"\n\n"  # 48 bytes: a line of 46, data of 41 bytes
    decoder, events = _run([_PRIME_IDLE, chunk], max_event_size=47)
    assert ("general", chunk) in decoder.log and "reference" in decoder.paths()
    _assert_reference(_PRIME_IDLE + chunk, decoder, events)
    decoder, events = _run([_PRIME_IDLE, b"data: v\n\n"], trace=lambda line: None)
    assert [name for name, _ in decoder.log] == ["general", "reference", "general", "reference"]
    _assert_reference(_PRIME_IDLE + b"data: v\n\n", decoder, events)


# Region paths: after a chunk of more than two events, the next chunk's whole blocks between
# its first and last blank lines go through one split (one-line "data: " blocks, or "event: " +
# "data: " blocks) or, on a dense stream, one regex split.
_one_line = _value.map(lambda v: b"data: " + v + b"\n\n")
_named = st.tuples(_value.filter(bool), _value).map(
    lambda tv: b"event: " + tv[0] + b"\ndata: " + tv[1] + b"\n\n"
)
# Named, numbered blocks of valid UTF-8: the regex region builds all their events with maps.
_utf8 = st.lists(st.sampled_from([b"a", b"1", b" ", b":", "é".encode()]), max_size=4).map(b"".join)
_numbered = st.tuples(_utf8.filter(bool), _utf8, st.lists(_utf8, min_size=1, max_size=3))
_DENSE_PRIME = b"event: e\nid: p\ndata: a\ndata: b\ndata: c\n\n" * 3
_REGION_CASES = {  # name: (the path, a prime that puts the decoder on it, a block shape)
    "data": ("data_blocks", b"data: p\n\n" * 3, _one_line),
    "event": ("event_blocks", b"event: e\ndata: p\n\n" * 3, _named),
    "regex": ("blocks", _DENSE_PRIME, _whole_block(crlf=False)),
    "regex_all_named_numbered": (
        "blocks",
        _DENSE_PRIME,
        _numbered.map(
            lambda t: (
                b"event: %s\nid: %s\n%s\n" % (t[0], t[1], b"".join(b"data: %s\n" % v for v in t[2]))
            )
        ),
    ),
}


@settings(max_examples=150)
@given(
    st.sampled_from(sorted(_REGION_CASES)),
    st.data(),
    st.sampled_from([b"", b"data: tail", b"event: t\ndata: x\n"]),
    st.binary(max_size=30),
    _cuts,
)
def test_region_paths_take_their_shapes(
    case: str, data: st.DataObject, tail: bytes, rest: bytes, cuts: list[int]
) -> None:
    path, prime, shape = _REGION_CASES[case]
    blocks = data.draw(st.lists(shape, min_size=2, max_size=12))
    chunk = b"".join(blocks) + tail
    for crlf in (False, True) if path == "blocks" else (False,):
        region_chunk = chunk.replace(b"\n", b"\r\n") if crlf else chunk
        stream = prime + region_chunk + rest
        decoder, events = _run([prime, region_chunk, *_split(rest, cuts)])
        assert (path, True) in decoder.log, decoder.log
        _assert_reference(stream, decoder, events)


@pytest.mark.parametrize(
    ("path", "odd"),
    [
        ("data_blocks", b"data: v\ndata: w\n\n"),
        ("data_blocks", b"data:v\n\n"),
        ("data_blocks", b"id: 2\n\n"),
        ("data_blocks", b": c\n\n"),
        ("event_blocks", b"event: \ndata: v\n\n"),
        ("event_blocks", b"event:t\ndata: v\n\n"),
        ("event_blocks", b"event: t\ndata: v\ndata: w\n\n"),
        ("event_blocks", b"event: t\n\n"),
    ],
)
def test_one_split_regions_decline_other_shapes(path: str, odd: bytes) -> None:
    prime = _REGION_CASES[path.partition("_")[0]][1]
    block = prime[: len(prime) // 3].replace(b"p", b"v")
    chunk = block * 3 + odd + block * 2
    decoder, events = _run([prime, chunk])
    assert (path, False) in decoder.log  # declined, having done nothing: the line loop took it
    _assert_reference(prime + chunk, decoder, events)


def test_regex_region_takes_other_shapes_through_the_line_loop() -> None:
    prime = _DENSE_PRIME
    chunk = b"x\n\n" + prime + b": k\nretry: 7\ndata:v\n\n" + prime + b"data: a\ndata: b\n\nda"
    decoder, events = _run([prime, chunk])
    assert ("blocks", True) in decoder.log
    assert not decoder._policy.dense  # paused: blocks of another shape met
    _assert_reference(prime + chunk, decoder, events)


# The line loop: every chunk without trace that cannot pass the limit; the reference takes the
# others. Both must agree on any stream.
_TOKENS = [
    b"\r", b"\n", b"\r\n", b":", b" ", b"\0", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xa9",
    b"data", b"event", b"id", b"retry", b"x", b"1", b"data: ", b"event: ", b"\n\n", b"id: ",
]  # fmt: skip
_streams = st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join)


@settings(max_examples=300)
@given(_streams, _cuts)
def test_line_loop_and_reference_agree(stream: bytes, cuts: list[int]) -> None:
    chunks = _split(stream, cuts)
    fast, fast_events = _run(chunks)
    assert "reference" not in fast.paths()
    _assert_reference(stream, fast, fast_events)
    traced, traced_events = _run(chunks, trace=lambda line: None)
    assert traced.paths() <= {"general", "reference"}
    _assert_reference(stream, traced, traced_events)
