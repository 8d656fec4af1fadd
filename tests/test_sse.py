"""The event-stream decoder and encoder (reactsse.sse) against WHATWG HTML §9.2.5–9.2.6.

Every contract case runs under every chunking: whole, byte by byte, one chunk per block, and
every split in two. Hypothesis then checks chunking independence, encode/decode round trips,
and the decoder against ``reference_decode`` (``tests/_sse_reference.py``), a slow
implementation written line by line from the spec. ``tests/test_sse_fastpaths.py`` checks each
fast path against the same reference.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator

import pytest
from _sse_reference import Ev, Reference, reference_decode
from hypothesis import given, settings
from hypothesis import strategies as st

from reactsse.errors import EventTooLarge, LimitExceeded, LocalProtocolError, RemoteProtocolError
from reactsse.sse import (
    Comment,
    Dispatch,
    EventStreamDecoder,
    Field,
    Line,
    MessageEvent,
    encode_comment,
    encode_event,
)
from reactsse.sse.lines import split_lines

# --------------------------------------------------------------------------------------------
# Helpers


def _decode(chunks: list[bytes], **kwargs: object) -> tuple[list[Ev], EventStreamDecoder]:
    decoder = EventStreamDecoder(**kwargs)  # type: ignore[arg-type]
    events: list[MessageEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return [tuple(e) for e in events], decoder  # type: ignore[misc]


def _per_block(stream: bytes) -> list[bytes]:
    # one chunk per b"\n\n"-terminated piece: what a server flushing per event sends
    pieces = stream.split(b"\n\n")
    return [p + b"\n\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def _chunkings(stream: bytes) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [stream]
    yield "bytewise", [stream[i : i + 1] for i in range(len(stream))]
    yield "per_block", _per_block(stream)
    for i in range(1, len(stream)):
        yield f"split@{i}", [stream[:i], stream[i:]]


def _check_all_chunkings(stream: bytes, expected: list[Ev], **kwargs: object) -> None:
    for name, chunks in _chunkings(stream):
        got, _ = _decode(chunks, **kwargs)
        assert got == expected, f"chunking {name}"
        traced: list[Line] = []
        got, _ = _decode(chunks, trace=traced.append, **kwargs)
        assert got == expected, f"chunking {name}, traced"


# --------------------------------------------------------------------------------------------
# The contract table: (stream, events). Names say which rule each case pins.

M = "message"
CONTRACT: dict[str, tuple[bytes, list[Ev]]] = {
    # WHATWG HTML §9.2.6 examples
    "spec_stock_ticker": (
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        [(M, "YHOO\n+2\n10", "")],
    ),
    "spec_three_blocks": (
        # "The first block fires events with the data set to the empty string, as would the last
        # block if it was followed by a blank line. The middle block fires an event with the data
        # set to a single newline character. The last block is discarded."
        b"data\n\ndata\ndata\n\ndata:",
        [(M, "", ""), (M, "\n", "")],
    ),
    "spec_test_equivalence": (b"data:test\n\ndata: test\n\n", [(M, "test", ""), (M, "test", "")]),
    "spec_comment_id_block": (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n",
        [(M, "first event", "1"), (M, "second event", ""), (M, " third event", "")],
    ),
    # Line endings (§9.2.5)
    "crlf": (b"data: a\r\n\r\ndata: b\r\n\r\n", [(M, "a", ""), (M, "b", "")]),
    "cr_only": (b"data: a\r\rdata: b\r\r", [(M, "a", ""), (M, "b", "")]),
    "mixed_endings": (b"data: a\r\ndata: b\rdata: c\n\r\n", [(M, "a\nb\nc", "")]),
    "lf_cr_is_two_endings": (b"data: a\n\rdata: b\n\n", [(M, "a", ""), (M, "b", "")]),
    "cr_cr_lf": (b"data: a\r\r\ndata: b\n\n", [(M, "a", ""), (M, "b", "")]),
    "lone_cr_last_byte_completes": (b"data: a\r\r", [(M, "a", "")]),
    "unicode_line_separators_are_text": (
        "data: a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei\n\n".encode(),
        [(M, "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei", "")],
    ),
    # BOM
    "bom_stripped": (b"\xef\xbb\xbfdata: a\n\n", [(M, "a", "")]),
    "second_bom_kept": (b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [(M, "b", "")]),
    "bom_later_is_text": (
        b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: \xef\xbb\xbf\n\n",
        [(M, "a", ""), (M, "\ufeff", "")],
    ),
    # UTF-8
    "utf8_multibyte": ("data: café 日本 🙂\n\n".encode(), [(M, "café 日本 🙂", "")]),
    "utf8_invalid_replaced": (b"data: a\xffb\xc3(\xe2\x82\n\n", [(M, "a\ufffdb\ufffd(\ufffd", "")]),
    "utf8_truncated_before_eol": (b"data: \xf0\x9f\x99\n\n", [(M, "\ufffd", "")]),
    # Fields
    "comments_ignored": (b": hi\n:\ndata: a\n: mid\n\n", [(M, "a", "")]),
    "one_space_removed": (b"data:  two\ndata:\tt\n\n", [(M, " two\n\tt", "")]),
    "no_colon_empty_value": (b"data\ndata\n\n", [(M, "\n", "")]),
    "more_colons_in_value": (b"data: a: b:c\n\n", [(M, "a: b:c", "")]),
    "names_case_sensitive": (b"Data: a\nDATA: b\n data: c\ndata : d\ndata\0: e\n\n", []),
    "unknown_field_ignored": (b"foo: bar\ndata: a\n\n", [(M, "a", "")]),
    "event_type": (b"event: add\ndata: 1\n\n", [("add", "1", "")]),
    "event_type_resets": (b"event: add\ndata: 1\n\ndata: 2\n\n", [("add", "1", ""), (M, "2", "")]),
    "event_type_resets_without_dispatch": (b"event: add\n\ndata: 2\n\n", [(M, "2", "")]),
    "empty_event_is_message": (
        b"event\ndata: 1\n\nevent:\ndata: 2\n\n",
        [(M, "1", ""), (M, "2", "")],
    ),
    "event_keeps_nul": (b"event: a\0b\ndata: \0\n\n", [("a\0b", "\0", "")]),
    "no_data_no_event": (b"event: x\nid: 3\nretry: 10\n\n", []),
    "one_trailing_lf_removed": (b"data:\ndata:\n\n", [(M, "\n", "")]),
    "empty_data_line": (b"data:\n\n", [(M, "", "")]),
    "unterminated_block_discarded": (b"data: a\n\ndata: b\n", [(M, "a", "")]),
    "unterminated_line_discarded": (b"data: a\n\ndata: b", [(M, "a", "")]),
    "blank_lines_alone": (b"\n\n\r\n\r\r", []),
    # id
    "id_persists": (b"id: 1\ndata: a\n\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")]),
    "id_empty_resets": (
        b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n",
        [(M, "a", "1"), (M, "b", ""), (M, "c", "")],
    ),
    "id_with_nul_ignored": (
        b"id: 1\n\nid: x\0\ndata: a\n\nid: \0\ndata: b\n\nid: \0x\ndata: c\n\n",
        [(M, "a", "1"), (M, "b", "1"), (M, "c", "1")],
    ),
    "id_set_after_data_in_block": (b"data: a\nid: 9\n\n", [(M, "a", "9")]),
    "id_space_kept": (b"id:  7\ndata: a\n\n", [(M, "a", " 7")]),
    # a block without data still moves the last event ID (dispatch step 1)
    "id_only_block_then_event": (b"id: 5\n\ndata: a\n\n", [(M, "a", "5")]),
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_under_every_chunking(name: str) -> None:
    stream, expected = CONTRACT[name]
    assert reference_decode(stream) == expected, "the reference disagrees with the table"
    _check_all_chunkings(stream, expected)


RETRY_CASES: dict[str, tuple[bytes, int | None]] = {
    "digits": (b"retry: 1500\n", 1500),
    "leading_zeros": (b"retry: 02000\n", 2000),
    "no_space": (b"retry:7\n", 7),
    "zero": (b"retry: 0\n", 0),
    "empty": (b"retry\nretry:\n", None),
    "sign": (b"retry: -1\nretry: +100\n", None),
    "space_inside": (b"retry:  100\nretry: 1 0\n", None),
    "dot": (b"retry: 1.5\n", None),
    "underscore": (b"retry: 1_000\n", None),
    "arabic_digits": ("retry: ١٢٣\n".encode(), None),
    "fullwidth_digits": ("retry: １２３\n".encode(), None),
    "superscript": ("retry: ²\n".encode(), None),
    "invalid_keeps_previous": (b"retry: 300\nretry: x\n", 300),
    "huge_clamped": (b"retry: " + b"9" * 5000 + b"\n", 2**31 - 1),
    "big_clamped": (b"retry: 99999999999\n", 2**31 - 1),
    "big_with_zeros": (b"retry: 0000000000000000000000042\n", 42),
    "effective_even_if_block_discarded": (b"data: a\nretry: 5\n", 5),
    "case_sensitive": (b"Retry: 5\n", None),
}


@pytest.mark.parametrize("name", sorted(RETRY_CASES))
def test_retry_field(name: str) -> None:
    stream, expected = RETRY_CASES[name]
    assert Reference(stream).retry == expected
    for chunking, chunks in _chunkings(stream):
        _, decoder = _decode(chunks)
        assert decoder.retry == expected, chunking


def test_retry_is_none_before_any_retry_field() -> None:
    assert EventStreamDecoder().retry is None


# --------------------------------------------------------------------------------------------
# Promptness: an event is returned by the feed() that delivers its blank line.


def test_event_returned_by_the_feed_of_its_blank_line() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [MessageEvent(data="a")]
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\r") == [MessageEvent(data="b")]  # lone CR: not even delayed
    assert decoder.feed(b"\n") == []  # the LF of "\r\n" split across feeds: one ending
    assert decoder.feed(b"data: c\r") == []
    assert decoder.feed(b"\n\r") == [MessageEvent(data="c")]
    assert decoder.feed(b"\n") == []


def test_split_crlf_is_one_line_ending() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []  # an empty feed does not forget the pending CR
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [MessageEvent(data="a\nb")]


def test_bom_split_across_chunks() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbfdata: a\n\n") == [MessageEvent(data="a")]


def test_bom_prefix_that_is_not_a_bom() -> None:
    _check_all_chunkings(b"\xef\xbbdata: a\n\n", [])  # "\ufffddata" is an unknown field
    _check_all_chunkings(b"\xef\xbb\n\ndata: a\n\n", [(M, "a", "")])


def test_message_event_defaults_and_immutability() -> None:
    event = MessageEvent(data="x")
    assert (event.type, event.data, event.last_event_id) == ("message", "x", "")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    assert event == MessageEvent("message", "x", "")


def test_last_event_id_readable_and_settable_at_construction() -> None:
    decoder = EventStreamDecoder(last_event_id="41")
    assert decoder.last_event_id == "41"
    assert decoder.feed(b"data: a\n\n") == [MessageEvent(data="a", last_event_id="41")]
    decoder.feed(b"id: 42\n")
    assert decoder.last_event_id == "41"  # the buffer only becomes the ID at the blank line
    decoder.feed(b"\n")
    assert decoder.last_event_id == "42"


def test_comments_seen_counts_keepalives() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b": ping\n") == []
    assert decoder.feed(b":\r\n: x") == []
    assert decoder.comments_seen == 2
    assert decoder.feed(b"\ndata: a\n\n") == [MessageEvent(data="a")]
    assert decoder.comments_seen == 3


def test_trace_reports_every_line() -> None:
    seen: list[Line] = []
    decoder = EventStreamDecoder(trace=seen.append)
    decoder.feed(b": hi\ndata:  a\nfoo\nid: 1\n\n\n")
    assert seen == [
        Comment(" hi"),
        Field("data", " a", "data:  a"),
        Field("foo", "", "foo"),
        Field("id", "1", "id: 1"),
        Dispatch(MessageEvent(data=" a", last_event_id="1")),
        Dispatch(None),
    ]


def test_feed_after_close_is_an_error() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(b"data: a\n")
    assert decoder.close() == []
    assert decoder.close() == []
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n")


# --------------------------------------------------------------------------------------------
# Limits


def test_event_too_large_is_a_limit_and_protocol_error() -> None:
    assert issubclass(EventTooLarge, LimitExceeded)
    assert issubclass(EventTooLarge, RemoteProtocolError)


def test_endless_line_raises_once_past_the_limit() -> None:
    decoder = EventStreamDecoder(max_event_size=64 * 1024)
    chunk = b"x" * 1024
    fed = 0
    with pytest.raises(EventTooLarge) as info:
        for _ in range(1000):
            decoder.feed(chunk)
            fed += 1
    assert fed == 64  # raised by the 65th KiB: memory held <= limit + one chunk
    assert info.value.limit == 64 * 1024
    assert "65536" in str(info.value)
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n\n")


def test_large_event_over_many_lines_raises() -> None:
    decoder = EventStreamDecoder(max_event_size=100)
    decoder.feed(b"data: " + b"a" * 40 + b"\n")
    decoder.feed(b"data: " + b"a" * 40 + b"\n")
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: " + b"a" * 40 + b"\n")


def test_events_before_the_offending_point_are_returned_then_the_error() -> None:
    decoder = EventStreamDecoder(max_event_size=50)
    stream = b"data: a\n\ndata: b\n\ndata: " + b"x" * 100 + b"\n\ndata: c\n\n"
    assert decoder.feed(stream) == [MessageEvent(data="a"), MessageEvent(data="b")]
    error = decoder.error
    assert isinstance(error, EventTooLarge) and error.limit == 50
    with pytest.raises(EventTooLarge) as info:
        decoder.feed(b"data: d\n\n")
    assert info.value is error
    with pytest.raises(LocalProtocolError):  # the decoder stays broken
        decoder.feed(b"data: d\n\n")


def test_close_raises_a_kept_error() -> None:
    decoder = EventStreamDecoder(max_event_size=50)
    assert decoder.feed(b"data: a\n\n:" + b"x" * 60) == [MessageEvent(data="a")]
    with pytest.raises(EventTooLarge):
        decoder.close()
    assert decoder.close() == []
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"data: d\n\n")


def test_long_comment_line_raises_and_limit_exact_boundary() -> None:
    with pytest.raises(EventTooLarge):
        EventStreamDecoder(max_event_size=10).feed(b":" + b"x" * 10 + b"\n")
    # a line of exactly the limit passes; an event's size is its data plus one LF per line
    decoder = EventStreamDecoder(max_event_size=10)
    assert decoder.feed(b"data:xxxx\ndata:xxxx\n\n") == [MessageEvent(data="xxxx\nxxxx")]
    assert decoder.feed(b"data:" + b"x" * 5 + b"\n\n") == [MessageEvent(data="x" * 5)]
    with pytest.raises(EventTooLarge):
        EventStreamDecoder(max_event_size=10).feed(b"data:xxxx\ndata:xxxx\ndata:\n\n")
    with pytest.raises(EventTooLarge):
        EventStreamDecoder(max_event_size=10).feed(b"data:" + b"x" * 6 + b"\n\n")


@pytest.mark.parametrize(
    ("stream", "limit", "too_large"),
    [
        (b"data:data:data:\rdata:data:\n", 17, False),  # a value of 5 after one of 10: 17 held
        (b"data:xxxx\ndata:xxxx\n\n", 10, False),  # data exactly at the limit
        (b"data:xxxx\ndata:xxxx\ndata:\n\n", 10, True),
        (b"data: xxxxxxxxx\n\n", 10, True),  # the line itself is longer than the limit
    ],
)
def test_the_limit_does_not_depend_on_where_the_stream_is_cut(
    stream: bytes, limit: int, too_large: bool
) -> None:
    """A line still arriving counts as the data it surely adds, as it will once whole."""

    def outcome(pieces: list[bytes]) -> tuple[list[MessageEvent], bool]:
        decoder = EventStreamDecoder(max_event_size=limit)
        events: list[MessageEvent] = []
        try:
            for piece in pieces:
                events += decoder.feed(piece)
            events += decoder.close()
        except EventTooLarge:
            return events, True
        return events, False

    assert outcome([stream])[1] is too_large
    cuts = [[stream[:i], stream[i:]] for i in range(1, len(stream))]
    for pieces in [*cuts, [stream[i : i + 1] for i in range(len(stream))]]:
        assert outcome(pieces) == outcome([stream]), pieces


def test_events_at_the_limit_keep_flowing() -> None:
    decoder = EventStreamDecoder(max_event_size=1000)
    event = b"data: " + b"y" * 900 + b"\n\n"
    for _ in range(50):
        assert decoder.feed(event) == [MessageEvent(data="y" * 900)]


# --------------------------------------------------------------------------------------------
# Encoder


def test_encode_event_fields_and_multiline_data() -> None:
    assert encode_event("hi") == b"data: hi\n\n"
    assert encode_event("a\r\nb\rc\nd", event="e", id="7", retry=10, comment="c1\nc2") == (
        b":c1\n:c2\nevent: e\nid: 7\nretry: 10\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )
    assert encode_event("") == b"data: \n\n"
    assert encode_event("x", id="") == b"id: \ndata: x\n\n"
    assert encode_comment() == b":\n"
    assert encode_comment(" keep-alive") == b": keep-alive\n"
    assert encode_comment("a\r\nb") == b":a\n:b\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "a\nb"},
        {"event": "a\r"},
        {"id": "a\nb"},
        {"id": "\r"},
        {"id": "a\0"},
        {"retry": -1},
        {"retry": True},
        {"event": "\ud800"},
    ],
)
def test_encode_event_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        encode_event("x", **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Properties

_TOKENS = [
    b"\r", b"\n", b"\r\n", b":", b" ", b"\0", b"\xef\xbb\xbf", b"\xef", b"\xbb", b"\xbf",
    b"\xff", b"\xc3", b"\xa9", b"\xf0\x9f", b"data", b"event", b"id", b"retry", b"Data",
    b"x", b"1", b"07", b"-", "é".encode(), "🙂".encode(), "\u2028".encode(), b"\x0b", b"\x0c",
    b"\t", b"data: ", b"\n\n",
]  # fmt: skip
streams = st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join)


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None)
@given(streams, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_property_any_chunking_matches_whole_and_reference(stream: bytes, cuts: list[int]) -> None:
    whole, whole_decoder = _decode([stream])
    reference = Reference(stream)
    assert whole == reference.events
    assert whole_decoder.retry == reference.retry
    assert whole_decoder.last_event_id == reference.last_event_id
    assert whole_decoder.comments_seen == reference.comments
    chunks = _split(stream, cuts)
    chunked, chunked_decoder = _decode(chunks)
    assert chunked == whole
    assert (chunked_decoder.retry, chunked_decoder.last_event_id) == (
        reference.retry,
        reference.last_event_id,
    )
    assert _decode([stream[i : i + 1] for i in range(len(stream))])[0] == whole
    assert _decode(_per_block(stream))[0] == whole
    traced: list[Line] = []
    assert _decode(chunks, trace=traced.append)[0] == whole
    assert [t.event for t in traced if isinstance(t, Dispatch) and t.event] == [
        MessageEvent(*e) for e in whole
    ]


@settings(max_examples=300, deadline=None)
@given(
    streams, st.lists(st.integers(min_value=0, max_value=10_000), max_size=8), st.integers(1, 40)
)
def test_property_limit_only_truncates(stream: bytes, cuts: list[int], limit: int) -> None:
    # With a limit, the events seen (returned before the error) are a prefix of the unlimited
    # events; a limit at least the stream's length never raises.
    full = reference_decode(stream)
    decoder = EventStreamDecoder(max_event_size=limit)
    seen: list[MessageEvent] = []
    try:
        for chunk in _split(stream, cuts):
            seen.extend(decoder.feed(chunk))
        seen.extend(decoder.close())
    except EventTooLarge:
        assert limit < len(stream)
    else:
        assert [tuple(e) for e in seen] == full
    assert [tuple(e) for e in seen] == full[: len(seen)]


_small = st.text("ab é🙂", max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(_small, min_size=1, max_size=3), st.none() | _small, st.none() | _small),
        max_size=8,
    ),
    st.integers(0, 8),
    st.sampled_from(
        [b"data: " + b"x" * 150 + b"\n\n", (b"data: " + b"y" * 20 + b"\n") * 8 + b"\n"]
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=10),
)
def test_property_events_before_a_too_large_event_then_the_error(
    items: list[tuple[list[str], str | None, str | None]], n: int, big: bytes, cuts: list[int]
) -> None:
    # Any chunking of a stream whose nth event is too large (one long line, or data over many
    # lines) yields exactly the events before it; the error comes from the feed that meets it
    # if that feed completed no event, else from the next call; the decoder stays broken.
    encoded = [encode_event("\n".join(d), event=e, id=i) for d, e, i in items]
    before = b"".join(encoded[:n])
    stream = before + big + b"".join(encoded[n:])
    decoder = EventStreamDecoder(max_event_size=100)
    seen: list[MessageEvent] = []
    for chunk in _split(stream, cuts):
        kept = decoder.error
        try:
            got = decoder.feed(chunk)
        except EventTooLarge as exc:
            assert exc is decoder.error
            break
        assert kept is None  # a kept error is raised by the very next call
        assert got or decoder.error is None  # kept only when the feed returns events
        seen.extend(got)
    else:
        with pytest.raises(EventTooLarge):
            decoder.close()
    assert [tuple(e) for e in seen] == reference_decode(before)
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"data: z\n\n")


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_field_text = _text.filter(lambda s: "\r" not in s and "\n" not in s)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            _text,
            st.none() | _field_text,
            st.none() | _field_text.filter(lambda s: "\0" not in s),
            st.none() | st.integers(0, 2**31 - 1),
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_property_decode_encode_round_trip(
    items: list[tuple[str, str | None, str | None, int | None]], cuts: list[int]
) -> None:
    stream = b"".join(encode_event(d, event=e, id=i, retry=r) for d, e, i, r in items)
    decoder = EventStreamDecoder()
    got: list[MessageEvent] = []
    for chunk in _split(stream, cuts):
        got.extend(decoder.feed(chunk))
    expected = []
    last_id = ""
    for data, event, id_, _ in items:
        last_id = last_id if id_ is None else id_
        normalised = data.replace("\r\n", "\n").replace("\r", "\n")
        expected.append(MessageEvent(event or "message", normalised, last_id))
    assert got == expected
    retries = [r for *_, r in items if r is not None]
    assert decoder.retry == (retries[-1] if retries else None)


# --------------------------------------------------------------------------------------------
# python -m reactsse.sse


def test_main_shows_every_stage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactsse.sse", r"data: a\nid: 1\n: c\n\nevent: x\n\ndata: partial"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stderr == ""  # no runpy warning: the entry point is the package's __main__
    out = result.stdout
    assert "field 'data' = 'a'" in out
    assert "comment ' c'" in out
    assert "EVENT type='message' data='a' last_event_id='1'" in out
    assert "no data so no event" in out
    assert "partial" in out and out.count("EVENT") == 1


def test_main_reads_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactsse.sse"],
        input=b"\xef\xbb\xbfdata: x\r\n\r\n",
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert b"EVENT type='message' data='x'" in result.stdout


def test_data_size_tracked_across_fast_feeds() -> None:
    decoder = EventStreamDecoder(max_event_size=1000)
    line = b"data: " + b"z" * 93 + b"\n"  # 94 bytes of data (value + LF) per line
    for _ in range(10):
        assert decoder.feed(line) == []  # 940 bytes held, each feed fits
    with pytest.raises(EventTooLarge):
        decoder.feed(line)


def test_one_event_chunks_after_other_lines() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b"data: a\n\n") == [MessageEvent(data="a")]
    assert decoder.feed(b"id: 5\n") == []
    assert decoder.feed(b"data: b\n\n") == [MessageEvent(data="b", last_event_id="5")]
    assert decoder.last_event_id == "5"
    assert decoder.feed(b"event: t\n") == []
    assert decoder.feed(b"data: c\n\n") == [MessageEvent("t", "c", "5")]
    assert decoder.feed(b"data: d") == []
    assert decoder.feed(b"data: e\n\n") == [MessageEvent(data="ddata: e", last_event_id="5")]
    assert decoder.feed(b"data: \xff\n\n") == [MessageEvent(data="\ufffd", last_event_id="5")]
    assert decoder.feed(b"data: f\r") == []
    assert decoder.feed(b"\n\n") == [MessageEvent(data="f", last_event_id="5")]


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (b"event: t\ndata: x\n\n", MessageEvent("t", "x")),
        (b"event:t\ndata: x\n\n", MessageEvent("t", "x")),
        (b"event:  t\ndata: x\n\n", MessageEvent(" t", "x")),
        (b"event:\ndata: x\n\n", MessageEvent("message", "x")),
        (b"event: \xff\ndata: \xe2\x82\n\n", MessageEvent("\ufffd", "\ufffd")),
        (b"event: t\ndata:x\n\n", MessageEvent("t", "x")),
        (b"events: t\ndata: x\n\n", MessageEvent("message", "x")),
        (b"event: t\n: c\n\n", None),
        (b"data: x\ndata: y\n\n", MessageEvent("message", "x\ny")),
        (b"data: x\rdata: y\n\n", MessageEvent("message", "x\ny")),
    ],
)
def test_whole_event_chunks(chunk: bytes, expected: MessageEvent | None) -> None:
    # After an event, the decoder is idle and whole-event chunks may take a shortcut: it must
    # give the same result as the general path (and the reference).
    decoder = EventStreamDecoder()
    assert decoder.feed(b"id: 3\ndata: first\n\n") == [MessageEvent("message", "first", "3")]
    got = decoder.feed(chunk)
    reference = reference_decode(b"data: first\n\n" + chunk)[1:]
    assert [tuple(e) for e in got] == [(t, d, "3") for t, d, _ in reference]
    assert got == ([] if expected is None else [expected._replace(last_event_id="3")])


def test_data_size_restarts_after_a_dispatch_inside_a_chunk() -> None:
    decoder = EventStreamDecoder(max_event_size=100)
    assert decoder.feed(b"data: " + b"a" * 30 + b"\n") == []  # 31 bytes held
    first = decoder.feed(b"\ndata: " + b"b" * 40 + b"\n")
    assert first == [MessageEvent(data="a" * 30)]  # 41 bytes of the new block held
    assert decoder.feed(b"data: " + b"c" * 40 + b"\n") == []  # 82
    assert decoder.feed(b"data: " + b"d" * 10 + b"\n") == []  # 93
    with pytest.raises(EventTooLarge):  # raised at once: no event came before the fault
        decoder.feed(b"data: " + b"e" * 7 + b"\n\n")  # 101
    assert decoder.error is not None


# A chunk of short events of many lines: after it, the decoder takes its region path (whole
# blocks between a chunk's first and last blank lines go through one regex split) for the next
# chunk; these check that path against the reference, gaps (other shapes) included.
_PRIME = b"event: e\nid: p\ndata: a\ndata: b\ndata: c\n\n" * 3


# After chunks of several events of one shape, the decoder tries its region paths: the regex
# (_PRIME: dense), one split for one-line "data: " events, one for "event: " + "data: " events.
_PRIMES = [
    _PRIME,
    b"data: p\n\n" * 3,
    b"event: e\ndata: p\n\n" * 3,
    _PRIME.replace(b"\n", b"\r\n"),  # dense CRLF: raw regions through the CRLF regex
]
_SHAPED = st.lists(
    st.sampled_from(
        [
            b"data: v\n\n", b"event: t\ndata: v\n\n", b"data: \xff\xc3\n\n", b"event: \n",
            b"event: \xe2\x82\ndata: v\n\n", b"data: v\ndata: w\n\n", b"data:v\n\n", b"\n",
            b"event:t\ndata: v\n\n", b": c\n", b"id: 1\n", b"retry: 5\n", b"data: ", b"event: ",
            b"data: event: \n\n", b"event: data: \n\n", b"\r\n", b"x",
        ]
    ),
    max_size=40,
).map(b"".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_PRIMES),
    streams | _SHAPED,
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
    st.booleans(),
)
def test_property_region_path_matches_reference(
    prime: bytes, stream: bytes, cuts: list[int], as_bytearray: bool
) -> None:
    expected = Reference(prime + stream)
    chunks = [prime, *_split(stream, cuts)]
    got, decoder = _decode([bytearray(c) for c in chunks] if as_bytearray else chunks)
    assert got == expected.events
    assert (decoder.retry, decoder.last_event_id, decoder.comments_seen) == (
        expected.retry,
        expected.last_event_id,
        expected.comments,
    )


@pytest.mark.parametrize(
    "chunk",
    [
        b"x\n\n" + b"event: t\nid: 1\ndata: a\ndata: b\n\n" * 3 + b"data: tail",
        b"\n\nevent:t\nid:\ndata: a\n\n\n\ndata: b\n\n: c\n\nretry: 9\ndata: r\n\n",
        b"\n\ndata: a\n\nid: x\0y\ndata: b\n\ndata:c\ndata: d\n\nevent:  s\ndata: \xff\n\n",
        b"\n\ndata: a\ndata:\n\nid: 7\n\ndata: b\nevent: late\n\n\ndata: c\n\nda",
        b"ta: d\n\nid: \xe2\x82\ndata: e\n\ndata: f\n\n\n",
        b"\r\n\r\nevent: t\r\nid: 2\r\ndata: a\r\n\r\ndata: b\r\r\ndata: c\r\n\r\n",
        b"x\n\nevent: t\nid: \xff\ndata: a\n\nevent: \xe2\x82\nid: 2\ndata: \xe2\n\n",
        b"x\n\nevent: t\nid: 1\ndata: a\n\nevent: u\nid:\ndata: b\ndata: \n\nz",
    ],
)
def test_region_path_shapes(chunk: bytes) -> None:
    for prime in (_PRIME, _PRIMES[3]):
        _check_region_path(prime, chunk)
        _check_region_path(prime, chunk.replace(b"\n", b"\r\n"))


def _check_region_path(prime: bytes, chunk: bytes) -> None:
    expected = Reference(prime + chunk)
    decoder = EventStreamDecoder()
    got = decoder.feed(prime)
    assert decoder._policy.dense  # the next chunk takes the region path
    got += decoder.feed(chunk)
    assert [tuple(e) for e in got] == expected.events
    assert (decoder.retry, decoder.last_event_id, decoder.comments_seen) == (
        expected.retry,
        expected.last_event_id,
        expected.comments,
    )


@pytest.mark.parametrize(
    "chunk",
    [
        b"event: t\nid: 9\ndata: a\ndata: b\ndata: c\n\n",
        b"event: t\r\nid: 9\r\ndata: a\r\ndata: b\r\n\r\n",
        b"id:\ndata: a\n\n",
        b"id:  9\ndata: a\ndata:b\n\n",
        b"id: 9\0\ndata: a\ndata: b\n\n",
        b"event:  t\nid: \xff\ndata: a\ndata: \xe2\x82\n\n",
        b"data: a\r\rdata: b\r\n\r\n",
        b"data: a\ndata: b\r\n\n",
        b"event: t\ndata: a\n\ndata: b\n\n",
    ],
)
def test_whole_block_chunks_of_other_shapes(chunk: bytes) -> None:
    # An idle decoder matches a whole one-block chunk with one regex (CRLF normalised first):
    # the result must be the reference's.
    decoder = EventStreamDecoder()
    assert decoder.feed(b"id: 3\ndata: first\n\n") == [MessageEvent("message", "first", "3")]
    got = decoder.feed(chunk)
    expected = Reference(b"id: 3\ndata: first\n\n" + chunk)
    assert [tuple(e) for e in got] == expected.events[1:]
    assert decoder.last_event_id == expected.last_event_id


def test_region_path_pauses_after_blocks_of_other_shapes() -> None:
    # A region with blocks the regex does not take (a comment in each) costs a failed scan, so
    # the decoder leaves the region path for a while; the events stay the reference's.
    odd = b": k\nevent: u\nid: 1\ndata: a\ndata: b\n\n" * 3
    chunks = [_PRIME, odd] + [_PRIME] * 17
    decoder = EventStreamDecoder()
    got: list[MessageEvent] = []
    dense: list[bool] = []
    for chunk in chunks:
        got += decoder.feed(chunk)
        dense.append(decoder._policy.dense)
    assert dense == [True, False] + [False] * 16 + [True]
    assert [tuple(e) for e in got] == reference_decode(b"".join(chunks))
    assert decoder.comments_seen == 3


@pytest.mark.parametrize(
    ("prime", "chunk"),
    [
        (_PRIMES[2], b"x\n\nevent: t\ndata: v\n\nevent: \ndata: w\n\nevent: t\ndata: z\n\n"),
        (_PRIMES[2], b"x\n\nevent: t\ndata: v\n\nevent: u\n\nevent: t\ndata: v\ndata: w\n\n"),
        (_PRIMES[2], b"x\n\nevent: t\ndata: \xff\n\nevent: \xe2\x82\ndata: v\n\ny"),
        (_PRIMES[2], b"x\n\nevent: t\ndata: v\n\nevent:t\ndata: w\n\n\nevent: t\ndata: z\n\n"),
        (_PRIMES[1], b"x\n\ndata: \xff\n\ndata: v\n\ndata: \xf0\x9f\n\n"),
        (_PRIMES[1], b"x\n\ndata: v\ndata: w\n\ndata: z\n\n"),
        (_PRIMES[1], b"x\n\ndata: v\n\ndata:w\n\n\n\ndata: z\n\n"),
        (_PRIMES[1], b"x\n\ndata: v\n\nid: 2\n\ndata: z\n\n: c\n\n"),
    ],
)
def test_one_split_region_shapes(prime: bytes, chunk: bytes) -> None:
    # Regions of one-line "data: " events, or "event: " + "data: " events, go through one split
    # when every block has exactly that shape; any other block sends them to the line loop.
    expected = Reference(prime + chunk)
    for kind in (bytes, bytearray):
        got, decoder = _decode([kind(prime), kind(chunk)])
        assert got == expected.events
        assert (decoder.last_event_id, decoder.comments_seen) == (
            expected.last_event_id,
            expected.comments,
        )


@settings(max_examples=500)
@given(
    st.lists(
        st.sampled_from([b"\n", b"\r", b"", b"b", b"a" * 3000, b"x" * 2047, b"y" * 2048]),
        max_size=12,
    ).map(b"".join)
)
def test_split_lines_is_bytes_split(data: bytes) -> None:
    # The find-based splitter for long lines must give exactly bytes.split's lines.
    assert split_lines(data) == data.split(b"\n")


@pytest.mark.parametrize("cut", [1, 2047, 2048, 2049, 65536])
def test_long_lines_any_cut(cut: int) -> None:
    stream = b"".join(
        b"id: %d\ndata: " % i + bytes([97 + i]) * (3000 * i + 1) + b"\n\n" for i in range(6)
    )
    whole = EventStreamDecoder().feed(stream)
    decoder = EventStreamDecoder()
    events = [e for i in range(0, len(stream), cut) for e in decoder.feed(stream[i : i + cut])]
    assert events == whole
    assert [len(e.data) for e in events] == [3000 * i + 1 for i in range(6)]
