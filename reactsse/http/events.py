"""What ``ClientConnection.receive_data`` returns: a head, body ``bytes``, the end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["ResponseEnd", "ResponseEvent", "ResponseHead", "decode_headers"]


@dataclass(frozen=True)
class ResponseHead:
    """The final (non-1xx) response head.

    ``headers`` are (name, value) pairs in received order, names lower-cased, both decoded as
    latin-1 (RFC 9110 §5.5: field values are octets; latin-1 round-trips them).
    ``http_version`` is ``"1.1"`` or ``"1.0"``.
    """

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    http_version: str

    def get(self, name: str) -> str | None:
        """Return the value of header ``name`` (any case), repeats joined by ``", "``
        (RFC 9110 §5.3), or None if absent."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None

    @property
    def content_type(self) -> str | None:
        """The media type essence of Content-Type, lower-cased, parameters dropped
        (``"text/event-stream"``), or None without a Content-Type header."""
        for key, value in self.headers:
            if key == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return None


@dataclass(frozen=True)
class ResponseEnd:
    """The end of the response message; ``trailers`` as in ``ResponseHead.headers`` (chunked
    bodies only, RFC 9112 §7.1.2)."""

    trailers: tuple[tuple[str, str], ...] = ()


ResponseEvent: TypeAlias = ResponseHead | bytes | ResponseEnd
"""What ``ClientConnection.receive_data`` returns a list of."""


def decode_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    """Header pairs as ``ResponseHead.headers`` holds them: h11 has lower-cased the names; the
    values are raw octets, which latin-1 round-trips."""
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)
