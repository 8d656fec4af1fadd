"""The pure parts of an attempt: ``build_request``, the Fetch redirect rules and the reconnect
policy, table-driven (no socket: these are functions of their arguments)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from reactsse.errors import InvalidURL, LocalProtocolError
from reactsse.eventsource import EventSourceOptions
from reactsse.eventsource.policy import (
    backoff_resets,
    parse_retry_after,
    reconnect_delay,
    reconnect_floor,
    retries_exhausted,
)
from reactsse.eventsource.request import Request, build_request, redirect
from reactsse.http import parse_url

BODY_HEADERS = (("Content-Type", "application/json"), ("Content-Length", "2"))
SECRETS = (("Authorization", "Bearer x"), ("Cookie", "a=b"), ("Proxy-Authorization", "p"))
OTHER = (("X-Keep", "1"),)


def _request(method: str, url: str = "http://a.test/x/y", body: bytes | None = b"{}") -> Request:
    return Request(parse_url(url), method, (*BODY_HEADERS, *SECRETS, *OTHER), body)


@pytest.mark.parametrize(
    ("method", "status", "want_method", "keeps_body"),
    [
        ("POST", 301, "GET", False),
        ("POST", 302, "GET", False),
        ("POST", 303, "GET", False),
        ("POST", 307, "POST", True),
        ("POST", 308, "POST", True),
        ("PUT", 301, "PUT", True),  # only POST becomes GET on 301/302
        ("PUT", 302, "PUT", True),
        ("PUT", 303, "GET", False),
        ("GET", 303, "GET", False),
        ("HEAD", 303, "HEAD", True),  # 303 keeps HEAD
        ("DELETE", 307, "DELETE", True),
    ],
)
def test_redirect_method_and_body_follow_fetch(
    method: str, status: int, want_method: str, keeps_body: bool
) -> None:
    got = redirect(_request(method), status, "/next")
    assert got.method == want_method
    assert got.body == (b"{}" if keeps_body else None)
    names = [name for name, _ in got.headers]
    assert ("Content-Type" in names) is keeps_body and ("Content-Length" in names) is keeps_body
    assert "X-Keep" in names and "Authorization" in names  # same origin: credentials stay


@pytest.mark.parametrize(
    ("location", "want_url", "same_origin"),
    [
        ("/next", "http://a.test/next", True),
        ("z?q=1", "http://a.test/x/z?q=1", True),
        ("//a.test:80/p", "http://a.test/p", True),
        ("http://a.test:8080/p", "http://a.test:8080/p", False),  # another port
        ("https://a.test/p", "https://a.test/p", False),  # another scheme
        ("http://b.test/p", "http://b.test/p", False),  # another host
    ],
)
def test_redirect_resolves_location_and_drops_credentials_across_origins(
    location: str, want_url: str, same_origin: bool
) -> None:
    got = redirect(_request("GET", body=None), 307, location)
    assert str(got.url) == want_url
    names = {name.lower() for name, _ in got.headers}
    for secret in ("authorization", "cookie", "proxy-authorization"):
        assert (secret in names) is same_origin
    assert "x-keep" in names


def test_redirect_to_a_location_that_cannot_be_requested_raises() -> None:
    with pytest.raises(InvalidURL):
        redirect(_request("GET"), 302, "ftp://a.test/")


def test_build_request_and_last_event_id() -> None:
    url = parse_url("http://a.test/")
    request = build_request(url, "post", {"Last-Event-ID": "old"}, None, {"k": "é"})
    assert request.method == "POST"
    assert request.body == '{"k":"é"}'.encode()
    assert ("Content-Type", "application/json") in request.headers
    assert request.with_last_event_id("") is request
    resumed = request.with_last_event_id("7")
    assert [v for n, v in resumed.headers if n.lower() == "last-event-id"] == ["7"]
    with pytest.raises(ValueError, match="body or json"):
        build_request(url, "GET", None, b"x", {})
    with pytest.raises(LocalProtocolError):
        build_request(url, "GET", [("X", "a\nb")], None, None)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"retry": -1.0}, ValueError),
        ({"max_reconnect_delay": float("nan")}, ValueError),
        ({"min_reconnect_delay": -0.1}, ValueError),
        ({"backoff_reset_after": float("nan")}, ValueError),
        ({"head_timeout": 0.0}, ValueError),
        ({"connect_timeout": 0.0}, ValueError),
        ({"read_timeout": -1.0}, ValueError),
        ({"event_timeout": float("nan")}, ValueError),
        ({"max_redirects": -1}, ValueError),
        ({"max_retries": -1}, ValueError),
        ({"body": b"x", "json": {}}, ValueError),
        ({"headers": {"X": "a\r\nb"}}, LocalProtocolError),
        ({"no_such_option": 1}, TypeError),
    ],
)
def test_options_refuse_bad_values(overrides: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        EventSourceOptions.merge(None, overrides)


def test_options_merge_keywords_over_an_options_object() -> None:
    base = EventSourceOptions(reconnect=False, retry=1.0)
    merged = EventSourceOptions.merge(base, {"retry": 2.0})
    assert (merged.reconnect, merged.retry) == (False, 2.0)
    assert EventSourceOptions.merge(base, {}) is base
    assert EventSourceOptions(headers=iter([("A", "1")])).headers == (("A", "1"),)


# -- the reconnect policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "failures", "cap", "low", "high"),
    [
        (3.0, 0, 30.0, 3.0, 3.0),  # after an open stream: exactly retry
        (1.0, 1, 30.0, 1.0, 2.0),
        (1.0, 3, 30.0, 1.0, 8.0),
        (1.0, 10, 30.0, 1.0, 30.0),  # capped
        (60.0, 5, 30.0, 60.0, 60.0),  # the server's retry is the floor, above the cap
    ],
)
def test_reconnect_delay_table(
    retry: float, failures: int, cap: float, low: float, high: float
) -> None:
    for seed in range(20):
        assert low <= reconnect_delay(retry, failures, cap, random.Random(seed)) <= high


@pytest.mark.parametrize(
    ("retry", "retry_after", "minimum", "floor"),
    [
        (3.0, None, 0.1, 3.0),  # the reconnection time
        (0.0, None, 0.1, 0.1),  # retry: 0 is raised to the minimum
        (3.0, 0.0, 0.1, 0.1),  # Retry-After: 0 too
        (3.0, 1.0, 0.1, 1.0),  # Retry-After replaces the reconnection time as the floor
        (3.0, 120.0, 0.1, 120.0),  # even above it (the backoff cap does not lower it)
        (0.0, None, 0.0, 0.0),  # a minimum of 0 is allowed (the user's choice)
    ],
)
def test_reconnect_floor_table(
    retry: float, retry_after: float | None, minimum: float, floor: float
) -> None:
    assert reconnect_floor(retry, retry_after, minimum) == floor


@pytest.mark.parametrize(
    ("was_open", "uptime", "threshold", "resets"),
    [
        (False, 0.0, 60.0, False),  # a failed attempt
        (True, 0.0, 60.0, False),  # opened and ended at once: no success
        (True, 59.9, 60.0, False),
        (True, 60.0, 60.0, True),  # stayed up the threshold
        (True, 3600.0, 60.0, True),
        (True, 0.0, 0.0, True),  # threshold 0: any open resets (WHATWG's plain behaviour)
    ],
)
def test_backoff_resets_table(
    was_open: bool, uptime: float, threshold: float, resets: bool
) -> None:
    assert backoff_resets(was_open, uptime, threshold) is resets


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (None, None),
        ("0", 0.0),
        (" 5 ", 5.0),
        ("999999", 86400.0),  # clamped to a day
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("٣", None),  # a non-ASCII digit
    ],
)
def test_parse_retry_after_table(value: str | None, want: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == want


@pytest.mark.parametrize(
    ("failures", "max_retries", "exhausted"),
    [(1, None, False), (100, None, False), (1, 0, True), (2, 2, False), (3, 2, True)],
)
def test_retries_exhausted_table(failures: int, max_retries: int | None, exhausted: bool) -> None:
    assert retries_exhausted(failures, max_retries) is exhausted
