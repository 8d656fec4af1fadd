"""``reactsse get --format raw``: a ``Trace`` that prints the event stream's lines as read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

from reactsse.errors import ReactSSEError
from reactsse.eventsource import Trace
from reactsse.sse import Comment, Dispatch, Field

__all__ = ["RawTrace"]


class RawTrace(Trace):
    """``--format raw``: the event stream line by line, as the SSE decoder read it.

    That is the response body after HTTP de-chunking and decompression, with its comments and
    fields intact; every line ends with LF (the original CR/CRLF endings are normalised).
    """

    def __init__(self, inner: Trace | None, out: IO[str]) -> None:
        self._inner = inner
        self._out = out
        self.wants_chunk_lines = inner is not None and inner.wants_chunk_lines

    def sse(self, record: Comment | Field | Dispatch) -> None:
        if isinstance(record, Comment):
            self._out.write(f":{record.text}\n")
        elif isinstance(record, Field):
            self._out.write(record.line + "\n")
        else:
            self._out.write("\n")
        self._out.flush()
        if self._inner is not None:
            self._inner.sse(record)

    # Every other happening goes to the --trace renderer, if any.
    def connecting(self, host: str, port: int, tls: bool) -> None:
        if self._inner is not None:
            self._inner.connecting(host, port, tls)

    def request_sent(
        self, request_line: str, headers: Sequence[tuple[str, str]], body_size: int
    ) -> None:
        if self._inner is not None:
            self._inner.request_sent(request_line, headers, body_size)

    def socket_read(self, data: bytes | memoryview) -> None:
        if self._inner is not None:
            self._inner.socket_read(data)

    def response_head(self, head: Any) -> None:
        if self._inner is not None:
            self._inner.response_head(head)

    def chunk_line(self, line: bytes) -> None:
        if self._inner is not None:
            self._inner.chunk_line(line)

    def body(self, size: int, decoded_size: int) -> None:
        if self._inner is not None:
            self._inner.body(size, decoded_size)

    def redirect(self, status: int, location: str) -> None:
        if self._inner is not None:
            self._inner.redirect(status, location)

    def reconnect_scheduled(self, delay: float, reason: ReactSSEError, last_event_id: str) -> None:
        if self._inner is not None:
            self._inner.reconnect_scheduled(delay, reason, last_event_id)

    def error(self, error: ReactSSEError, fatal: bool) -> None:
        if self._inner is not None:
            self._inner.error(error, fatal)

    def closed(self) -> None:
        if self._inner is not None:
            self._inner.closed()
