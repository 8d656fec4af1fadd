"""What the proxy tests share: a real ``pproxy`` process on 127.0.0.1, and a three-event handler.

pproxy speaks HTTP CONNECT, SOCKS5 and SOCKS4 on one port, or HTTP CONNECT over TLS
(``http+ssl``, an ``https://`` proxy) with a certificate file of the test's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _sse_test_servers import Exchange, sse_head

SECRET = "pl4nted-s3cret"
# pproxy installs uvloop when it can, which then refuses its own get_event_loop() call; the
# launcher hides uvloop so that pproxy runs on the standard asyncio loop.
_LAUNCH = (
    "import sys; sys.modules['uvloop'] = None; import pproxy.server as s; "
    "sys.argv = ['pproxy', *sys.argv[1:]]; s.main()"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, what: str, timeout: float = 15.0) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; else fail the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{what} did not start listening on 127.0.0.1:{port}")


class PProxy:
    """A pproxy process listening on 127.0.0.1: HTTP CONNECT, SOCKS5 and SOCKS4; or, with
    ``tls`` (a PEM file holding the key and the certificate chain), HTTP CONNECT over TLS."""

    def __init__(
        self, *, auth: str | None = None, block: Path | None = None, tls: Path | None = None
    ) -> None:
        self.port = free_port()
        self.auth = auth
        self.block = block
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        protocols = "http+ssl" if self.tls is not None else "http+socks5+socks4"
        listen = f"{protocols}://127.0.0.1:{self.port}"
        if self.auth is not None:
            listen += f"#{self.auth}"
        command = [sys.executable, "-c", _LAUNCH, "-l", listen, "--auth", "0"]
        if self.block is not None:
            command += ["-b", str(self.block)]
        if self.tls is not None:
            command += ["--ssl", str(self.tls)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_listening(self.port, "pproxy")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def url(self, scheme: str = "http", credentials: str = "") -> str:
        auth = f"{credentials}@" if credentials else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"


@contextmanager
def pproxy(
    *, auth: str | None = None, block: Path | None = None, tls: Path | None = None
) -> Iterator[PProxy]:
    proxy = PProxy(auth=auth, block=block, tls=tls)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def three_events(ex: Exchange) -> None:
    ex.send_head(200, sse_head())
    for n in (1, 2, 3):
        ex.send_chunk(b"id: %d\ndata: event %d\n\n" % (n, n))
    ex.end_chunks()
