"""Which proxy a request goes through, as a pure function of the setting and the environment.

``ProxyURL`` (a parsed proxy URL whose credentials never show in a repr or a message),
``parse_proxy_url``, ``no_proxy_matches`` (the ``NO_PROXY`` rules) and ``select_proxy``. No
socket and no ``os.environ`` here: the caller passes the environment in.

The environment is read as curl (``man curl``, "ENVIRONMENT") and httpx (``httpx/_utils.py``
``get_environment_proxies``) read it: ``https_proxy`` for https targets, ``http_proxy`` for
http targets, ``all_proxy`` for both; the lower-case name wins over the upper-case one; an
empty value is no value. ``NO_PROXY`` is a comma-separated list of ``*``, host names (which
also match their subdomains; a leading dot is ignored, as curl does), IPv4/IPv6 addresses,
CIDR ranges, each optionally with ``:port``. A loopback target (``localhost``, ``*.localhost``,
127.0.0.0/8, ``::1``) never goes through an environment proxy: only an explicit ``proxy=`` sends
it there.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from reactsse.errors import InvalidURL
from reactsse.http.redact import REDACTED, redact_proxy_url
from reactsse.http.url import format_address

__all__ = [
    "PROXY_SCHEMES",
    "ProxyURL",
    "is_loopback",
    "no_proxy_matches",
    "parse_proxy_url",
    "select_proxy",
]

#: Proxy URL schemes and their default ports (SOCKS: 1080, RFC 1928 section 3).
PROXY_SCHEMES = {
    "http": 80,
    "https": 443,
    "socks5": 1080,
    "socks5h": 1080,
    "socks4": 1080,
    "socks4a": 1080,
}


@dataclass(frozen=True)
class ProxyURL:
    """A parsed proxy URL. ``repr``/``str``/``display`` never show the credentials."""

    scheme: str
    host: str
    port: int
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @property
    def display(self) -> str:
        """``host:port`` (IPv6 in brackets): what a trace or an error may show."""
        return format_address(self.host, self.port)

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

    @property
    def is_tls(self) -> bool:
        """True for an ``https://`` proxy: TLS to the proxy itself."""
        return self.scheme == "https"

    def basic_auth(self) -> str | None:
        """The ``Proxy-Authorization`` value (RFC 7617 Basic), or None without credentials."""
        if not self.username and not self.password:
            return None
        token = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    def __str__(self) -> str:
        auth = f"{REDACTED}@" if self.username or self.password else ""
        return f"{self.scheme}://{auth}{self.display}"

    def __repr__(self) -> str:
        return f"ProxyURL({str(self)!r})"


def parse_proxy_url(url: str | ProxyURL) -> ProxyURL:
    """Parse ``scheme://[user:password@]host[:port][/]``; a URL without scheme is ``http://``.

    Raises ``InvalidURL`` (with the credentials redacted) for another scheme, no host, a bad
    port or a path.
    """
    if isinstance(url, ProxyURL):
        return url
    if not isinstance(url, str):
        raise InvalidURL(f"proxy URL must be a str, not {type(url).__name__}")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # curl's default
    shown = redact_proxy_url(text)
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        reason = "bad port" if "port" in str(exc).lower() else "malformed"
        raise InvalidURL(f"invalid proxy URL {shown!r}: {reason}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        known = ", ".join(PROXY_SCHEMES)
        raise InvalidURL(f"invalid proxy URL {shown!r}: scheme must be one of {known}")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidURL(f"invalid proxy URL {shown!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidURL(f"invalid proxy URL {shown!r}: a proxy URL has no path")
    return ProxyURL(
        scheme=scheme,
        host=host,
        port=port if port is not None else PROXY_SCHEMES[scheme],
        username=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
    )


def is_loopback(host: str) -> bool:
    """``localhost``, a name under ``.localhost`` (RFC 6761 section 6.3), 127/8 or ``::1``."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """A ``NO_PROXY`` entry as (host or network, port or None)."""
    if entry.startswith("["):  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:  # host:port or v4:port (a bare v6 has several colons)
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def no_proxy_matches(no_proxy: str, host: str, port: int) -> bool:
    """Whether ``host:port`` is excluded from proxying by the ``NO_PROXY`` value ``no_proxy``."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in name or address is not None:
            if address is None:
                continue
            try:
                network = ipaddress.ip_network(name, strict=False)
            except ValueError:
                continue
            if address in network:
                return True
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _env(env: Mapping[str, str], name: str) -> str:
    """The lower-case variable, else the upper-case one; "" when unset or empty."""
    for key in (name, name.upper()):
        value = env.get(key, "").strip()
        if value:
            return value
    return ""


def select_proxy(
    setting: str | ProxyURL | bool | None,
    scheme: str,
    host: str,
    port: int,
    env: Mapping[str, str],
) -> ProxyURL | None:
    """The proxy for a request to ``scheme://host:port``, or None to connect directly.

    ``setting``: ``None`` or ``True`` reads ``env`` (see the module docstring), ``False`` never
    proxies, a URL (or ``ProxyURL``) proxies every request. Raises ``InvalidURL`` for a bad URL.
    """
    if setting is False:
        return None
    if setting is not None and setting is not True:
        return parse_proxy_url(setting)
    if is_loopback(host):
        return None
    if no_proxy_matches(_env(env, "no_proxy"), host, port):
        return None
    url = _env(env, f"{scheme}_proxy") or _env(env, "all_proxy")
    return parse_proxy_url(url) if url else None
