"""``ErrorBody``: the start of a response that is not an event stream, read for its error.

A 404 page or a JSON error document explains the failure better than its status line, so the
source reads up to ``ERROR_BODY_LIMIT`` bytes of it (already content-decoded by the HTTP layer),
for at most ``ERROR_BODY_WAIT`` seconds, then fails with the ``HTTPStatusError`` (or
``ContentTypeError``) that ``status_error`` builds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reactsse.errors import ContentTypeError, HTTPStatusError, ReactSSEError
from reactsse.eventsource.attempt import Attempt
from reactsse.eventsource.policy import is_retryable, parse_retry_after
from reactsse.http import ResponseHead
from reactsse.http.redact import Scrubber
from reactsse.loop import LoopInterface, TimerInterface

__all__ = ["ERROR_BODY_LIMIT", "ERROR_BODY_WAIT", "ErrorBody", "status_error"]

# How much of a failed response's body the error carries (its first 64 KiB).
ERROR_BODY_LIMIT = 64 * 1024
# How long we wait at most for that body before failing with what we have.
ERROR_BODY_WAIT = 5.0

# on_done(error, retry_after): ``retry_after`` is the server's Retry-After, in seconds, for an
# error that is retried, else None.
DoneCallback = Callable[[ReactSSEError, "float | None"], None]


class ErrorBody:
    """Collects the body of the failed response ``head`` of ``attempt`` until it is complete,
    ``ERROR_BODY_LIMIT`` bytes long, or ``wait`` seconds old, then calls ``on_done`` (see
    ``finish``).

    It takes the attempt's body sinks: each body piece goes to ``add``; the end of the body, or
    a broken connection, to ``finish`` (the error says what we got). Its owner calls ``finish``
    on a read timeout too, and ``cancel`` when it lets the response go.
    """

    __slots__ = ("_body", "_loop", "_on_done", "_scrubber", "_timer", "head", "url")

    def __init__(
        self,
        loop: LoopInterface,
        head: ResponseHead,
        attempt: Attempt,
        wait: float,
        on_done: DoneCallback,
    ) -> None:
        self._loop = loop
        self.head = head
        request = attempt.request
        self.url = request.url.redacted()
        # A server may echo the credentials it rejected: the error never carries them.
        self._scrubber = Scrubber.for_request(request.url.target, request.headers)
        self._on_done = on_done
        self._body = bytearray()
        self._timer: TimerInterface | None = loop.add_timer(wait, self._on_timeout)
        attempt.on_body = self.add
        attempt.on_end = self.finish
        attempt.on_error = self._on_broken

    def add(self, data: bytes) -> None:
        """Keep the start of ``data``; finish once ``ERROR_BODY_LIMIT`` bytes are kept."""
        self._body += data[: ERROR_BODY_LIMIT - len(self._body)]
        if len(self._body) >= ERROR_BODY_LIMIT:
            self.finish()

    def finish(self) -> None:
        """Call ``on_done`` with the error built from the head and the body kept so far."""
        head = self.head
        body = bytes(self._body[:ERROR_BODY_LIMIT]).decode("utf-8", errors="replace")
        error = status_error(head, self.url, body, self._scrubber)
        retry_after = parse_retry_after(head.get("retry-after")) if is_retryable(error) else None
        self._on_done(error, retry_after)

    def cancel(self) -> None:
        """Stop the timer; idempotent."""
        if self._timer is not None:
            self._loop.cancel_timer(self._timer)
            self._timer = None

    def _on_broken(self, _error: ReactSSEError) -> None:
        self.finish()

    def _on_timeout(self, _timer: TimerInterface) -> None:
        self._timer = None
        self.finish()


def status_error(
    head: ResponseHead, url: str, body: str, scrubber: Scrubber | None = None
) -> HTTPStatusError:
    """The error for a response that is not an event stream (``body``: its start, decoded).

    ``url`` is shown as given (pass it redacted); ``scrubber`` removes the request's own
    credentials from the body, the headers and the message.
    """
    headers: Sequence[tuple[str, str]] = head.headers
    reason = head.reason
    content_type = head.content_type or "none"
    if scrubber:
        body = scrubber.text(body)
        headers = [(name, scrubber.text(value)) for name, value in headers]
        reason = scrubber.text(reason)
        content_type = scrubber.text(content_type)
    if head.status == 200:
        return ContentTypeError(
            f"expected Content-Type text/event-stream, got {content_type!r} from {url}",
            url=url,
            status=head.status,
            reason=reason,
            headers=headers,
            body=body,
        )
    return HTTPStatusError(
        f"HTTP {head.status} {reason} from {url}" + (f": {body[:200]}" if body else ""),
        url=url,
        status=head.status,
        reason=reason,
        headers=headers,
        body=body,
    )
