"""The sans-IO HTTP/1.1 client layer on h11: request bytes out, response head / body / end in.

``url`` (URLs), ``redact`` (what is safe to show), ``connection`` (``ClientConnection``: who
reads which bytes, its states and faults), ``chunked`` (the batch de-chunker), ``content``
(gzip/deflate), ``events`` (what ``receive_data`` returns). See docs/http.md.
"""

from reactsse.http.connection import (
    DEFAULT_BODY_READER,
    DEFAULT_MAX_HEADER_SIZE,
    ClientConnection,
    ConnectionState,
)
from reactsse.http.content import DEFAULT_MAX_DECODED_PER_CALL, ContentDecoder, content_decoder_for
from reactsse.http.events import ResponseEnd, ResponseEvent, ResponseHead
from reactsse.http.proxy import ProxyURL, no_proxy_matches, parse_proxy_url, select_proxy
from reactsse.http.url import URL, parse_url

__all__ = [
    "DEFAULT_BODY_READER",
    "DEFAULT_MAX_DECODED_PER_CALL",
    "DEFAULT_MAX_HEADER_SIZE",
    "URL",
    "ClientConnection",
    "ConnectionState",
    "ContentDecoder",
    "ProxyURL",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "content_decoder_for",
    "no_proxy_matches",
    "parse_proxy_url",
    "parse_url",
    "select_proxy",
]
