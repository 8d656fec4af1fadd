"""``CompletionStream``: what a chat completion and a Responses API answer have in common.

Both validate the request body into a call (or answer 400 as OpenAI does), are made from that
call, the mock's options, a number for their ids and a creation time, and answer as a stream of
events when the request asks for one (``"stream": true``), else as one JSON object, with the
same injected faults either way. ``ChoicesStream`` adds what a chat and a text completion share
beyond that: the envelope of their objects, their chunks, their error event.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import ClassVar, Generic, NamedTuple, Protocol, TypeVar

from reactsse.mock.common import JSONObject, chunks, dumps, json_texts, pace
from reactsse.mock.faults import Fault, fault_stream, whole_reply
from reactsse.mock.options import MockOptions
from reactsse.server.app import BodyReply, EncodedEvents, Event, EventStream, Reply
from reactsse.sse import encode_event

__all__ = [
    "RUN_EVENTS",
    "TEXT_MARKER",
    "ChoicesPlan",
    "ChoicesStream",
    "CompletionStream",
    "split_template",
]

CallT = TypeVar("CallT")
#: Events in one run of an encoded stream at most: about 13 KiB of chat chunks, a fraction of the
#: server's 64 KiB write batches, so that a long answer is still written only as fast as the
#: client reads (the server checks for the drain between batches), not all at once.
RUN_EVENTS = 64
#: Stands in a template chunk where a token's text goes (JSON writes it "\u0000").
TEXT_MARKER = "\x00"


class CompletionStream(abc.ABC, Generic[CallT]):
    """One answer to one call: :meth:`events` streams it, :meth:`whole` is it in one object."""

    #: Prefix of ``id``, as OpenAI's (``chatcmpl-...``, ``resp_...``), then the ident, 8 digits.
    ID_PREFIX: ClassVar[str]

    def __init__(self, call: CallT, options: MockOptions, ident: int, created: int) -> None:
        self.call = call
        self.options = options
        self.ident = ident
        self.id = f"{self.ID_PREFIX}{ident:08d}"
        self.created = created
        self.timed = bool(options.rate)

    @classmethod
    def answer(
        cls, body: JSONObject, options: MockOptions, ident: int, created: int, fault: Fault
    ) -> Reply:
        """The answer to a request ``body``: the 400 reply if it is not valid, else the stream
        if it asks for one, else the whole object; ``fault`` injected into either."""
        call = cls.parse(body)
        if isinstance(call, BodyReply):
            return call
        stream = cls(call, options, ident, created)
        if body.get("stream") is not True:
            return whole_reply(stream.whole(), fault)
        if not stream.timed and not fault.counts_events:
            # Every event is due at once and none is counted: runs of encoded events.
            return EventStream(stream.encoded())
        return fault_stream(stream.events(), fault, stream.error_event, timed=stream.timed)

    @staticmethod
    @abc.abstractmethod
    def parse(body: JSONObject) -> CallT | BodyReply:
        """Validate a request body: the call, or the 400 reply OpenAI gives."""

    @abc.abstractmethod
    def events(self) -> Iterator[Event]:
        """The stream's events, each due when its tokens are (``options.rate``)."""

    def encoded(self) -> Iterator[EncodedEvents]:
        """The same bytes as :meth:`events` encoded, in runs of up to ``RUN_EVENTS`` events:
        for an untimed stream, whose events are all due at once."""
        run: list[bytes] = []
        for e in self.events():
            run.append(encode_event(e.data, event=e.event, id=e.id, retry=e.retry))
            if len(run) == RUN_EVENTS:
                yield EncodedEvents(b"".join(run), len(run))
                run = []
        if run:
            yield EncodedEvents(b"".join(run), len(run))

    @abc.abstractmethod
    def whole(self) -> JSONObject:
        """The answer as one object (a request without ``"stream": true``)."""

    @abc.abstractmethod
    def error_event(self, message: str) -> Event:
        """What the API sends when a stream fails after the 200."""


class ChoicesCall(Protocol):
    """What ``ChoicesStream`` reads of a call."""

    @property
    def model(self) -> str: ...

    @property
    def include_usage(self) -> bool: ...


ChoicesCallT = TypeVar("ChoicesCallT", bound=ChoicesCall)


class ChoicesPlan(NamedTuple):
    """A choices stream's events, as the data of each: ``head``, the tokens, ``tail``.

    Token chunks differ only in their text, so their data is ``before``, the JSON string of the
    text, ``after``; the texts are ``tokens`` taken ``chunk_tokens`` at a time. The head events
    are due at once, each token chunk when its last token is, the tail with the last token.
    """

    head: list[str]
    before: str
    after: str
    tokens: list[str]
    tail: list[str]


def split_template(template: str) -> tuple[str, str]:
    """``before`` and ``after`` of a token chunk serialised with ``TEXT_MARKER`` as its text."""
    before, _, after = template.rpartition(dumps(TEXT_MARKER))  # last: after the model name
    return before, after


class ChoicesStream(CompletionStream[ChoicesCallT]):
    """What a chat and a text completion have in common besides (the Responses API differs):
    objects that carry ``choices``, chunks with ``"usage": null`` until the usage chunk, and a
    data-only error object when a stream fails."""

    def envelope(self, kind: str) -> JSONObject:
        """The fields every object of this answer starts with; ``kind`` is its ``object``."""
        return {"id": self.id, "object": kind, "created": self.created, "model": self.call.model}

    def choice_chunk(self, kind: str, choice: JSONObject, extra: JSONObject | None = None) -> str:
        """One chunk with one ``choice``, after the envelope and ``extra`` fields, serialised."""
        chunk = self.envelope(kind)
        if extra:
            chunk.update(extra)
        chunk["choices"] = [choice]
        if self.call.include_usage:
            chunk["usage"] = None  # OpenAI sends "usage": null on every chunk but the last
        return dumps(chunk)

    @staticmethod
    def error_event(message: str) -> Event:
        """What the API sends when a stream fails after the 200: a data-only error object."""
        error = {"message": message, "type": "server_error", "param": None, "code": None}
        return Event(dumps({"error": error}))

    @abc.abstractmethod
    def plan(self) -> ChoicesPlan:
        """The stream's events (see :class:`ChoicesPlan`)."""

    def events(self) -> Iterator[Event]:
        """The chunks, each due when its tokens are (``rate``), then the tail."""
        plan, rate, size = self.plan(), self.options.rate, self.options.chunk_tokens
        for data in plan.head:
            yield Event(data)
        before, after = plan.before, plan.after
        for emitted, text in chunks(plan.tokens, size):
            yield Event(before + dumps(text) + after, at=pace(emitted, rate))
        end = pace(len(plan.tokens), rate)
        for data in plan.tail:
            yield Event(data, at=end)

    def encoded(self) -> Iterator[EncodedEvents]:
        """The same bytes as :meth:`events` encoded, in runs of up to ``RUN_EVENTS`` token
        chunks (the head goes with the first, the tail with the last).

        Fast because it is a few joins: the texts' JSON is cached per answer (as UTF-8), and
        every data here is JSON or ``[DONE]`` (one line), so each event is ``data: `` + data +
        a blank line, what ``encode_event`` writes for it (a test compares the two).
        """
        plan = self.plan()
        texts = json_texts(tuple(plan.tokens), self.options.chunk_tokens)
        prefix = ("data: " + plan.before).encode()
        suffix = (plan.after + "\n\n").encode()
        between = suffix + prefix
        starts = range(0, len(texts), RUN_EVENTS) or range(1)
        for start in starts:
            run = texts[start : start + RUN_EVENTS]
            count = len(run)
            parts = [prefix, between.join(run), suffix] if run else []
            if start == 0:
                parts.insert(0, _blocks(plan.head))
                count += len(plan.head)
            if start == starts[-1]:
                parts.append(_blocks(plan.tail))
                count += len(plan.tail)
            yield EncodedEvents(b"".join(parts), count)


def _blocks(datas: list[str]) -> bytes:
    """Data-only events whose data is one line, encoded (as ``encode_event`` does)."""
    return "".join("data: " + data + "\n\n" for data in datas).encode()
