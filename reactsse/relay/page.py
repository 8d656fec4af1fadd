"""The teaching page served at ``GET /``: one self-contained HTML file, no external asset."""

from __future__ import annotations

import functools
from importlib import resources

from reactsse.server.app import BodyReply

__all__ = ["PAGE_HEADERS", "page_html", "page_reply"]

# The Content-Security-Policy makes "no external asset" a rule the browser enforces: the page
# may run its own inline script and style and talk to its own origin, nothing else.
PAGE_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-cache"),
    (
        "content-security-policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
    ),
)


@functools.cache
def page_html() -> str:
    """The page's HTML (read once from the package)."""
    return resources.files("reactsse.relay").joinpath("page.html").read_text("utf-8")


def page_reply() -> BodyReply:
    return BodyReply(200, page_html(), PAGE_HEADERS)
