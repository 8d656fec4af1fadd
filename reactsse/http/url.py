"""Absolute http(s) URLs, split for a request (RFC 3986, RFC 9112 §3.2): ``URL``, ``parse_url``.

Credentials travel in URLs more often than they should (``?api_key=``, ``?access_token=``,
``user:password@``). The real URL goes only into the request; every message and repr shows
``URL.redacted()`` (``reactsse.http.redact.redact_url``), including ``parse_url``'s errors.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from reactsse.errors import InvalidURL
from reactsse.http.redact import redact_url

__all__ = ["URL", "format_address", "parse_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets (RFC 3986 section 3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class URL:
    """An absolute http or https URL, split for a request; build it with ``parse_url``.

    ``host`` is lower-case, IDNA-encoded, IPv6 without brackets; ``port`` is always set (80 or
    443 by default); ``target`` is the request-target (RFC 9112 §3.2.1 origin-form: path and
    query, at least ``"/"``, percent-encoded to ASCII; the fragment is dropped).
    """

    scheme: Literal["http", "https"]
    host: str
    port: int
    target: str

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): two URLs with the same origin may share a connection."""
        return (self.scheme, self.host, self.port)

    @property
    def is_tls(self) -> bool:
        """True for https."""
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (RFC 9110 §7.2): IPv6 in brackets, default port omitted."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != _DEFAULT_PORTS[self.scheme]:
            return f"{host}:{self.port}"
        return host

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"

    def redacted(self) -> str:
        """``str(self)`` safe to show: secret-looking query parameters redacted (``redact_url``)."""
        return redact_url(str(self))

    def join(self, location: str) -> URL:
        """Resolve a redirect's ``Location`` (absolute or relative, RFC 3986 §5) against this URL.

        Returns the new URL; raises InvalidURL if the result is not a valid http(s) URL.
        """
        try:
            joined = urllib.parse.urljoin(str(self), location.strip())
        except ValueError:
            # urljoin splits the location first (e.g. "Invalid IPv6 URL"): a foreign error
            # for an invalid URL, which parse_url then reports in its own words.
            joined = location.strip()
        return parse_url(joined)


# RFC 3986 §3.2.2 reg-name after IDNA encoding: letters, digits, "-", ".", "_", "~".
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~]+")
# Printable ASCII but space stays as it is in the target; everything else is percent-encoded
# (h11 accepts only VCHARs in a request-target, RFC 9112 §3.2). "%" is kept: existing escapes.
_TARGET_SAFE = "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}"


def parse_url(url: str) -> URL:
    """Parse an absolute http or https URL.

    Takes a URL string; returns a ``URL``. Userinfo (``user:pass@``) is rejected rather than
    silently turned into a header: put credentials in an ``Authorization`` header, so that they
    never show up in logs or error messages that print the URL.

    Raises InvalidURL: not a string, scheme other than http/https, userinfo, no host, invalid host
    or IPv6 literal, port not an integer in 1..65535.
    """
    if not isinstance(url, str):
        raise InvalidURL(f"URL must be a str, not {type(url).__name__}")
    # Every message below shows the URL redacted: the rejected URL may carry credentials.
    shown_url = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError as exc:
        # Its text may quote the netloc (userinfo included): raised outside this block, so that
        # neither __cause__ nor __context__ keeps it.
        problem: str | None = redact_url(str(exc))
    else:
        problem = None
    if problem is not None:
        raise InvalidURL(f"invalid URL {shown_url!r}: {problem}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{parts.scheme!r}" if parts.scheme else "no scheme"
        raise InvalidURL(
            f"invalid URL {shown_url!r}: {shown}; only http:// and https:// are supported"
        )
    if "@" in parts.netloc:
        raise InvalidURL(
            f"invalid URL {shown_url!r}: credentials in the URL are not supported; "
            "send an Authorization header instead"
        )
    host = _host_of(parts, shown_url)
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"invalid URL {shown_url!r}: bad port ({exc})") from exc
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    elif port == 0:
        raise InvalidURL(f"invalid URL {shown_url!r}: port 0")
    target = urllib.parse.quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe=_TARGET_SAFE)
    return URL("https" if scheme == "https" else "http", host, port, target)


def _host_of(parts: urllib.parse.SplitResult, shown_url: str) -> str:
    """The URL's host as it goes on the wire: an IPv6 literal checked, a name in IDNA ASCII."""
    hostname = parts.hostname
    if not hostname:
        raise InvalidURL(f"invalid URL {shown_url!r}: no host")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise InvalidURL(f"invalid URL {shown_url!r}: bad IPv6 address {hostname!r}") from exc
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    except UnicodeError as exc:
        raise InvalidURL(f"invalid URL {shown_url!r}: bad host name {hostname!r}") from exc
    if not _REG_NAME.fullmatch(host):
        raise InvalidURL(f"invalid URL {shown_url!r}: bad host name {hostname!r}")
    return host
