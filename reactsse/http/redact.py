"""Making what the client shows safe: credentials never reach a message, a repr or a trace.

Sans-IO text and bytes functions, shared by every layer that shows a URL or a header:

* ``redact_url``: userinfo and credential-looking query parameters of any URL text.
* ``is_secret_header`` / ``redact_headers``: header values that carry credentials (any name that
  contains ``authorization``, ``cookie``, ``token``, ``secret``, ``password`` or an API key).
* ``ReadRedactor``: the same for header lines inside raw socket reads, including a line that a
  read boundary splits in two.
* ``Scrubber``: the credentials a request sends, removed from text a server echoes back.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

__all__ = [
    "REDACTED",
    "ReadRedactor",
    "Scrubber",
    "is_secret_header",
    "redact_header_lines",
    "redact_headers",
    "redact_proxy_url",
    "redact_url",
]

REDACTED = "<redacted>"

# -- URLs -------------------------------------------------------------------------------------

# Parts of a query parameter's name that mark its value as a credential (``api_key``, ``key``,
# ``access_token``, ``client_secret``, ``password``, ``sig`` of a signed URL, ...).
_SECRET_PARAM_PARTS = ("key", "token", "secret", "pass", "pwd", "auth", "sig", "credential")
# A parameter in a query (or a fragment: OAuth's implicit flow puts tokens there).
_PARAM = re.compile(r"([?&;#])([^=&;#\s]*)=([^&;#\s]*)")
# Userinfo (RFC 3986 §3.2.1): everything before the last "@" of the authority, which "/", "?",
# "#" or whitespace end. Without "//" (a URL missing its scheme, shown in an error), a leading
# "name:secret@" is treated the same way. Once a ":" shows a password, a raw "?" or "#" typed
# into it does not end it (the first alternative): hiding a little more than the userinfo is
# the safe side, and "@" in a query ("?email=a@b") or a path ("/@user") stays visible.
_USERINFO = re.compile(r"(^|//)(?:[^/?#\s@:]*:[^/\s]*|[^/?#\s]*)@")


def _redact_param(match: re.Match[str]) -> str:
    name = urllib.parse.unquote(match.group(2)).lower()
    if match.group(3) and any(part in name for part in _SECRET_PARAM_PARTS):
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


def redact_url(url: str) -> str:
    """``url`` (any text that holds a URL, valid or not) safe to show in a message or a trace.

    Userinfo becomes ``<redacted>@`` and the value of every query (or fragment) parameter
    whose name looks like a credential (it contains ``key``, ``token``, ``secret``, ``pass``,
    ``pwd``, ``auth``, ``sig`` or ``credential``) becomes ``<redacted>``. Never raises.
    """
    if "@" in url:
        url = _USERINFO.sub(rf"\1{REDACTED}@", url)  # every URL of the text
    if "=" in url:
        url = _PARAM.sub(_redact_param, url)
    return url


def redact_proxy_url(url: str) -> str:
    """``url``, one proxy URL as a user typed it, safe to show: everything between the scheme
    and the last "@" becomes ``<redacted>``. A proxy URL has no path, query or fragment, so a raw
    "/", "?", "#" or space typed into its password cannot end the userinfo here, as it would in
    running text (``redact_url``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = f"{REDACTED}@{rest.rpartition('@')[2]}"
    return f"{scheme}{sep}{rest}"


# -- headers ----------------------------------------------------------------------------------

# A header whose name contains one of these carries a credential; its value is never shown.
_SECRET_NAME_PARTS = (
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "api-key",
    "api_key",
    "apikey",
)


def is_secret_header(name: str) -> bool:
    """Whether a header named ``name`` carries a credential (its value is never shown)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAME_PARTS)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` safe to show: secret values replaced, URLs in the others redacted."""
    return [
        (name, REDACTED if is_secret_header(name) else redact_url(value)) for name, value in headers
    ]


# A header line inside raw bytes: its name (RFC 9110 §5.6.2 token) and the rest of the line.
_HEADER_LINE = re.compile(rb"(?m)^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[^\r\n]*")
# How much of an unfinished line a ``ReadRedactor`` keeps: enough for any sane header name.
_PENDING_LIMIT = 256


def _redact_line(match: re.Match[bytes]) -> bytes:
    if is_secret_header(match.group(1).decode("latin-1")):
        return match.group(1) + b": " + REDACTED.encode()
    line = match.group(0)
    if b"@" in line or b"=" in line:
        # A URL in another header's value (Location, Link): as redact_headers does.
        text = line.decode("latin-1")
        colon = text.index(":") + 1
        return (text[:colon] + redact_url(text[colon:])).encode("latin-1")
    return line


def redact_header_lines(data: bytes) -> bytes:
    """``data`` (raw HTTP bytes) with the value of every secret header line redacted, and the
    URLs in the other header lines (``redact_url``)."""
    return _HEADER_LINE.sub(_redact_line, data)


class ReadRedactor:
    """Excerpts of consecutive socket reads, with the values of secret header lines redacted.

    A read may end inside a header line (``Set-Cookie: a`` | ``bc\\r\\n``): the redactor keeps
    the start of the unfinished line, so that the next read's first piece is judged as part of
    the whole line.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def excerpt(self, data: bytes | memoryview, limit: int = 48) -> str:
        """The first ``limit`` bytes of ``data``, escaped, with secret header values redacted."""
        raw = bytes(data)
        shown = raw[:limit]
        first = b""
        if self._pending:
            # The read starts by finishing the previous read's last line: judge the whole line.
            newline = raw.find(b"\n")
            line_end = len(raw) if newline < 0 else newline
            match = _HEADER_LINE.match(self._pending + raw[: min(line_end, _PENDING_LIMIT)])
            end = min(line_end, len(shown))
            secret = match is not None and is_secret_header(match.group(1).decode("latin-1"))
            first = (REDACTED.encode() if end else b"") if secret else shown[:end]
            shown = shown[end:]
        shown = first + redact_header_lines(shown)
        self._remember(raw)
        return repr(shown) + ("..." if len(raw) > limit else "")

    def _remember(self, raw: bytes) -> None:
        newline = raw.rfind(b"\n")
        if newline >= 0:
            self._pending = raw[newline + 1 : newline + 1 + _PENDING_LIMIT]
        elif len(self._pending) < _PENDING_LIMIT:
            self._pending = (self._pending + raw)[:_PENDING_LIMIT]


# -- echoed credentials -----------------------------------------------------------------------

# Shorter pieces are not worth scrubbing (and would mangle ordinary text).
_MIN_SECRET = 6
# The shortest piece of a secret split by a read boundary that a read's excerpt redacts.
_MIN_PART = 3


class Scrubber:
    """The credentials a request sends, removed from any text (a server may echo them back).

    Built from the request's secret header values (and each word of them: the token of
    ``Bearer <token>``), its secret query values and its userinfo. Pieces shorter than
    ``shortest`` are left alone (the words of a header value: "Basic", a short user name);
    a caller that holds one exact secret, an API key, passes ``shortest=1``.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str], *, shortest: int = _MIN_SECRET) -> None:
        found: set[str] = set()
        for secret in secrets:
            for piece in (secret, *secret.split()):
                if len(piece) >= shortest:
                    found.add(piece)
        # Longest first: "Bearer sk-x" goes before its "sk-x".
        self._secrets = tuple(sorted(found, key=len, reverse=True))

    @classmethod
    def for_request(cls, target: str, headers: Iterable[tuple[str, str]]) -> Scrubber:
        """The scrubber of a request to ``target`` (path and query) with ``headers``."""
        secrets = [value for name, value in headers if is_secret_header(name)]
        for match in _PARAM.finditer(target):
            if redact_url(match.group(0)) != match.group(0):
                secrets.append(urllib.parse.unquote(match.group(3)))
                secrets.append(match.group(3))
        return cls(secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``<redacted>``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def data(self, data: bytes | memoryview) -> bytes | memoryview:
        """``data`` (one socket read) with every secret replaced (``data`` itself when it holds
        none). A secret that a read boundary splits is redacted in both reads: a read that ends
        with the beginning of a secret, or starts with its end (``_MIN_PART`` bytes or more),
        has that part replaced, so two reads shown one after the other never show it whole."""
        raw = bytes(data)
        changed = False
        redacted = REDACTED.encode()
        for secret in self._secrets:
            encoded = secret.encode("utf-8", "replace")
            if encoded in raw:
                raw = raw.replace(encoded, redacted)
                changed = True
            for size in range(len(encoded) - 1, _MIN_PART - 1, -1):
                if raw.endswith(encoded[:size]):
                    raw = raw[:-size] + redacted
                    changed = True
                    break
            for size in range(len(encoded) - 1, _MIN_PART - 1, -1):
                if raw.startswith(encoded[-size:]):
                    raw = redacted + raw[size:]
                    changed = True
                    break
        return raw if changed else data
