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
from typing import ClassVar, Generic, Protocol, TypeVar

from reactsse.mock.common import JSONObject, dumps
from reactsse.mock.faults import Fault, fault_stream, whole_reply
from reactsse.mock.options import MockOptions
from reactsse.server.app import BodyReply, Event, Reply

__all__ = ["ChoicesStream", "CompletionStream"]

CallT = TypeVar("CallT")


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
        if body.get("stream") is True:
            return fault_stream(stream.events(), fault, stream.error_event, timed=stream.timed)
        return whole_reply(stream.whole(), fault)

    @staticmethod
    @abc.abstractmethod
    def parse(body: JSONObject) -> CallT | BodyReply:
        """Validate a request body: the call, or the 400 reply OpenAI gives."""

    @abc.abstractmethod
    def events(self) -> Iterator[Event]:
        """The stream's events, each due when its tokens are (``options.rate``)."""

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
