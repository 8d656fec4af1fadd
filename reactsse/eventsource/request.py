"""The request of an attempt: built once from the options, given ``Last-Event-ID`` on each
reconnect, and rewritten by redirects (``redirect``, a pure function of the Fetch rules)."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reactsse.errors import InvalidURL, LocalProtocolError, RemoteProtocolError, TooManyRedirects
from reactsse.http import URL
from reactsse.http.redact import redact_url

__all__ = [
    "REDIRECT_STATUSES",
    "RedirectChain",
    "Request",
    "build_request",
    "normalise_headers",
    "redirect",
]

# The redirect statuses followed (RFC 9110 §15.4; 300 and 305 are not followed, like browsers).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers dropped when a redirect leaves the origin (Fetch §4.4 "HTTP-redirect fetch", step 13).
ORIGIN_BOUND_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# Headers that describe a body, dropped when a redirect turns the request into a bodiless GET.
BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "content-language"})

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class Request:
    """One HTTP request as ``ClientConnection.send_request`` takes it."""

    url: URL
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None

    def with_last_event_id(self, last_event_id: str) -> Request:
        """This request resuming after ``last_event_id`` (unchanged when it is empty).

        WHATWG HTML §9.2.3: the ``Last-Event-ID`` header carries the last event ID string; it
        replaces a user's header of that name, which would be stale after an event.
        """
        if not last_event_id:
            return self
        kept = tuple((n, v) for n, v in self.headers if n.lower() != "last-event-id")
        return Request(self.url, self.method, (*kept, ("Last-Event-ID", last_event_id)), self.body)


def normalise_headers(headers: Headers | None) -> list[tuple[str, str]]:
    """``headers`` as name/value pairs; ``LocalProtocolError`` for an empty name or CR/LF/NUL."""
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for name, value in items:
        # RFC 9110 §5.5: CR, LF and NUL are never allowed; refuse at construction, not later.
        if any(c in name or c in value for c in "\r\n\0") or not name:
            raise LocalProtocolError(f"invalid header {name!r}: empty name, or CR/LF/NUL")
    return items


def build_request(
    url: URL,
    method: str,
    headers: Headers | None,
    body: bytes | str | None,
    json: object,
) -> Request:
    """The request the options describe; a ``json`` value is serialised compactly (UTF-8).

    Raises ``ValueError`` for both ``body`` and ``json``, ``TypeError`` for a ``json`` value that
    cannot be serialised, ``LocalProtocolError`` for a bad header.
    """
    items = normalise_headers(headers)
    if json is not None:
        if body is not None:
            raise ValueError("pass body or json, not both")
        body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False)
        if not any(name.lower() == "content-type" for name, _ in items):
            items.append(("Content-Type", "application/json"))
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Request(url, method.upper(), tuple(items), data)


def redirect(request: Request, status: int, location: str) -> Request:
    """The request that follows a ``status`` redirect to ``location`` (Fetch §4.4).

    ``location`` may be relative (resolved against ``request.url``; ``InvalidURL`` if the result
    cannot be requested). 303 (except for HEAD), and 301/302 for POST, become a GET without body
    nor body headers (Fetch §4.4 step 12); 307/308 and the rest keep method and body. A redirect
    to another origin drops ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` (step 13).
    """
    target = request.url.join(location)
    method = request.method
    body = request.body
    headers = request.headers
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
        body = None
        headers = tuple((n, v) for n, v in headers if n.lower() not in BODY_HEADERS)
    if target.origin != request.url.origin:
        headers = tuple((n, v) for n, v in headers if n.lower() not in ORIGIN_BOUND_HEADERS)
    return Request(target, method, headers, body)


class RedirectChain:
    """The redirects of one attempt: at most ``limit``, and never the same (method, URL) twice."""

    def __init__(self, request: Request, limit: int) -> None:
        self._limit = limit
        self._count = 0
        self._visited = {(request.method, str(request.url))}

    def follow(self, request: Request, status: int, location: str) -> Request:
        """``redirect(request, status, location)``, or ``TooManyRedirects`` (over the limit, or
        a loop back to a request already made), or ``RemoteProtocolError`` for a ``Location``
        that cannot be requested (another scheme such as ``file://``, no host)."""
        self._count += 1
        if self._count > self._limit:
            raise TooManyRedirects(
                f"more than {self._limit} redirects, last to {redact_url(location)!r}"
            )
        try:
            target = redirect(request, status, location)
        except InvalidURL as exc:
            # The user's request was fine; the server's answer is one we cannot follow (its
            # message shows the URL redacted).
            raise RemoteProtocolError(
                f"redirect {status} to a URL that cannot be requested: {exc}"
            ) from exc
        key = (target.method, str(target.url))
        if key in self._visited:
            raise TooManyRedirects(
                f"redirect loop: {key[0]} {target.url.redacted()} was already requested"
            )
        self._visited.add(key)
        return target
