"""``reactsse.errors``: one base, and ``str()`` of every exception is its message alone."""

from __future__ import annotations

import pytest

import reactsse
from reactsse.errors import (
    APIError,
    ConnectError,
    ConnectTimeout,
    ContentTypeError,
    EventTooLarge,
    HTTPStatusError,
    ReactSSEError,
    TLSError,
    TransportError,
)

EXAMPLES = [
    ConnectError("cannot connect to 127.0.0.1:1: refused", host="127.0.0.1", port=1),
    TLSError("certificate verify failed", host="localhost", port=443),
    TransportError("connection reset"),
    ConnectTimeout("connecting timed out after 2 s", timeout=2.0),
    EventTooLarge("event over 10 bytes", limit=10),
    HTTPStatusError("401 Unauthorized", url="http://127.0.0.1:1/", status=401, body="no"),
    ContentTypeError("not an event stream", url="http://127.0.0.1:1/", status=200),
    APIError("Rate limit reached", type="requests", code=429, event="error"),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda error: type(error).__name__)
def test_str_is_the_message_alone(error: ReactSSEError) -> None:
    assert str(error) == error.args[0]
    assert error.args == (error.args[0],)
    assert isinstance(error, ReactSSEError)


def test_oserror_subclasses_format_no_errno() -> None:
    error = ConnectError("refused", host="127.0.0.1", port=1)
    assert isinstance(error, OSError)
    assert error.errno is None
    assert str(error) == "refused"


def test_every_exception_is_exported_from_the_package() -> None:
    import reactsse.errors as errors

    for name in errors.__all__:
        assert getattr(reactsse, name) is getattr(errors, name)
        assert name in reactsse.__all__
