"""Non-blocking TCP and TLS on any ``LoopInterface``: ``Transport``, ``connect``.

The I/O layer under the HTTP client and the SSE server, in the part of reactphp/socket's
``Connector``/``Connection`` and reactphp/stream's ``DuplexResourceStream``. Modules:
``transport`` (the ``Transport`` contract, ``SocketTransport``), ``tls`` (``TLSTransport``),
``tlslayer`` (``TLSLayer``: TLS over another transport, TLS in TLS through an https proxy),
``connect`` (``connect``, ``PendingConnect``), ``resolve`` (``getaddrinfo`` in a thread),
``attempts`` (Happy Eyeballs: the addresses raced), ``tunnel`` (a proxy's handshake on the
socket, or over TLS with the proxy), ``socks`` (SOCKS5/4a on ``socksio``), ``writer`` (the
write buffer), ``buffers`` (the shared read buffers) and ``oserrors`` (``OSError``/
``ssl.SSLError`` to ``reactsse.errors``).
"""

from reactsse.connector.buffers import FIRST_READ_SIZE, READ_BUFFER_SIZE, READ_SIZE
from reactsse.connector.connect import PendingConnect, connect
from reactsse.connector.tls import TLSTransport, default_ssl_context, system_trust_context
from reactsse.connector.tlslayer import TLSLayer
from reactsse.connector.transport import SocketTransport, Transport

__all__ = [
    "FIRST_READ_SIZE",
    "READ_BUFFER_SIZE",
    "READ_SIZE",
    "PendingConnect",
    "SocketTransport",
    "TLSLayer",
    "TLSTransport",
    "Transport",
    "connect",
    "default_ssl_context",
    "system_trust_context",
]
