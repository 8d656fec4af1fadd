"""``https://`` proxies, end to end: TLS to a real proxy (pproxy ``http+ssl``), CONNECT inside it,
and for https targets TLS to the target inside that (TLS in TLS).

The proxy's certificate and the target's come from ``trustme``; each is verified against its own
host name, and a failure of either is told apart (a ``ProxyError`` naming the proxy, a
``TLSError`` naming the target). The connector-level tests push a few MiB through the stack
with pause/resume and ``end()``. Nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import io
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from _cli_helpers import run
from _connector_helpers import CERTS, Recorder, new_loop, run_until_stopped
from _proxy_helpers import SECRET, PProxy, pproxy, three_events
from _sse_test_servers import ScriptedServer

from reactsse.connector import PendingConnect, TLSLayer
from reactsse.connector import connect as connect_transport
from reactsse.errors import HTTPStatusError, ProxyError, TLSError
from reactsse.eventsource import EventSourceOptions, TextTrace, connect
from reactsse.http import parse_proxy_url
from reactsse.loop import LoopInterface

pytest.importorskip("pproxy")


@pytest.fixture(scope="module")
def proxy_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proxy's key and certificate (for 127.0.0.1, from the tests' trusted CA)."""
    path = tmp_path_factory.mktemp("proxy-tls") / "proxy.pem"
    CERTS.cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


def _pem(tmp_path: Path, ca: trustme.CA, *names: str) -> Path:
    path = tmp_path / "other.pem"
    ca.issue_cert(*names).private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


# -- events through an https proxy -----------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("tls", [False, True], ids=["http-target", "https-target"])
def test_events_through_an_https_proxy(proxy_pem: Path, tls: bool) -> None:
    trace_out = io.StringIO()
    with (
        pproxy(tls=proxy_pem) as proxy,
        ScriptedServer(three_events, ssl_context=CERTS.server if tls else None) as server,
        connect(
            server.url(),
            proxy=proxy.url("https"),
            proxy_ssl_context=CERTS.client,
            ssl_context=CERTS.client if tls else None,
            reconnect=False,
            trace=TextTrace(trace_out),
        ) as events,
    ):
        got = [(event.data, event.last_event_id) for event in events]
        assert server.connection_count == 1
    assert got == [("event 1", "1"), ("event 2", "2"), ("event 3", "3")]
    trace = trace_out.getvalue()
    assert (
        f"* conn   via proxy 127.0.0.1:{proxy.port} (CONNECT 127.0.0.1:{server.port} over TLS)"
        in trace
    )
    connected = next(line for line in trace.splitlines() if "connected to" in line)
    assert f"connected to 127.0.0.1:{proxy.port}" in connected  # the socket's peer: the proxy
    # The version shown is the target's session (inside the proxy's); none for a plain target.
    assert ("(TLSv1." in connected) is tls


@pytest.mark.timeout(30)
def test_https_proxy_credentials_good(proxy_pem: Path) -> None:
    with (
        pproxy(auth=f"alice:{SECRET}", tls=proxy_pem) as proxy,
        ScriptedServer(three_events, ssl_context=CERTS.server) as server,
        connect(
            server.url(),
            proxy=proxy.url("https", f"alice:{SECRET}"),
            proxy_ssl_context=CERTS.client,
            ssl_context=CERTS.client,
            reconnect=False,
        ) as events,
    ):
        assert [event.data for event in events] == ["event 1", "event 2", "event 3"]


@pytest.mark.timeout(30)
def test_https_proxy_credentials_bad_fail_at_once_and_never_show(proxy_pem: Path) -> None:
    trace_out = io.StringIO()
    with (
        pproxy(auth="alice:right-one", tls=proxy_pem) as proxy,
        ScriptedServer(three_events) as server,
    ):
        options = EventSourceOptions(
            proxy=proxy.url("https", f"alice:{SECRET}"),
            proxy_ssl_context=CERTS.client,
            trace=TextTrace(trace_out),
        )
        with connect(server.url(), options=options) as events, pytest.raises(ProxyError) as info:
            next(events)  # reconnect is on, but a refused login does not fix itself
        assert server.connection_count == 0
    error = info.value
    assert not isinstance(error, HTTPStatusError)
    assert error.status == 407 and "407" in str(error)
    assert f"127.0.0.1:{proxy.port}" in str(error)
    for text in (str(error), repr(error), trace_out.getvalue(), repr(options), str(options)):
        assert SECRET not in text
        assert "alice" not in text


# -- certificates: the proxy's and the target's, each checked, each failure told apart ------


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("issuer", "names", "reason"),
    [
        ("other-ca", ("127.0.0.1",), "certificate verify failed"),
        ("our-ca", ("proxy.example",), "IP address mismatch"),
        ("default-context", ("127.0.0.1",), "certificate verify failed"),
    ],
)
def test_a_proxy_certificate_that_does_not_verify_is_the_proxys_error(
    tmp_path: Path, issuer: str, names: tuple[str, ...], reason: str
) -> None:
    ca = trustme.CA() if issuer == "other-ca" else CERTS.ca
    # "default-context": the proxy's certificate is the tests' (trusted by CERTS.client), but
    # no proxy_ssl_context is given: the default context, which does not trust it.
    context = None if issuer == "default-context" else CERTS.client
    with (
        pproxy(tls=_pem(tmp_path, ca, *names), auth=f"u:{SECRET}") as proxy,
        ScriptedServer(three_events, ssl_context=CERTS.server) as server,
    ):
        start = time.monotonic()
        with (
            connect(
                server.url(),
                proxy=proxy.url("https", f"u:{SECRET}"),
                proxy_ssl_context=context,
                ssl_context=CERTS.client,  # the target would verify: only the proxy fails
            ) as events,
            pytest.raises(ProxyError) as info,
        ):
            next(events)  # reconnect is on: a certificate does not fix itself
        assert time.monotonic() - start < 10
        assert server.connection_count == 0
    message = str(info.value)
    assert f"TLS with the proxy 127.0.0.1:{proxy.port} failed" in message
    assert f"on the way to 127.0.0.1:{server.port}" in message
    assert info.value.target == f"127.0.0.1:{server.port}"
    assert reason in message
    assert not isinstance(info.value, TLSError)
    assert isinstance(info.value.__cause__, TLSError)
    assert SECRET not in message + repr(info.value)


@pytest.mark.timeout(30)
def test_a_target_certificate_that_does_not_verify_is_the_targets_error(
    proxy_pem: Path,
) -> None:
    other = trustme.CA()
    target = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("127.0.0.1").configure_cert(target)
    with (
        pproxy(tls=proxy_pem) as proxy,
        ScriptedServer(three_events, ssl_context=target) as server,
        connect(
            server.url(),
            proxy=proxy.url("https"),
            proxy_ssl_context=CERTS.client,
            ssl_context=CERTS.client,
            reconnect=False,
        ) as events,
        pytest.raises(TLSError) as info,
    ):
        next(events)
    message = str(info.value)
    assert not isinstance(info.value, ProxyError)
    assert "certificate verify failed" in message
    assert "TLS handshake with 127.0.0.1" in message
    assert (info.value.host, info.value.port) == ("127.0.0.1", server.port)


# -- the stack under the stream: flow control and ending, TLS in TLS --------------------------


class _BulkServer:
    """A blocking TLS server that sends ``size`` bytes to its one client, then closes."""

    def __init__(self, size: int) -> None:
        self.payload = bytes(range(256)) * (size // 256)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with CERTS.server.wrap_socket(conn, server_side=True) as tls:
            self.received += tls.recv(100)
            tls.sendall(self.payload)
            # close_notify; the client's answer may never come back through the proxy.
            with contextlib.suppress(OSError):
                tls.unwrap()

    def close(self) -> None:
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def bulk() -> Iterator[_BulkServer]:
    server = _BulkServer(3 * 1024 * 1024)
    yield server
    server.close()


def _tls_in_tls(loop: LoopInterface, proxy: PProxy, port: int) -> tuple[PendingConnect, Recorder]:
    """Connect to the TLS target on ``port`` through the https ``proxy``; run until done."""
    recorder = Recorder(loop)
    pending = connect_transport(
        loop,
        "127.0.0.1",
        port,
        ssl_context=CERTS.client,
        proxy=parse_proxy_url(proxy.url("https")),
        proxy_ssl_context=CERTS.client,
        on_connected=recorder.on_connected,
        on_error=recorder.on_error,
    )
    run_until_stopped(loop)
    return pending, recorder


@pytest.mark.timeout(30)
def test_tls_in_tls_pause_resume_and_a_clean_end(proxy_pem: Path, bulk: _BulkServer) -> None:
    with pproxy(tls=proxy_pem) as proxy, new_loop() as loop:
        pending, recorder = _tls_in_tls(loop, proxy, bulk.port)
        assert pending.phase == "done" and not recorder.errors
        (transport,) = recorder.transports
        assert isinstance(transport, TLSLayer) and transport.peer[1] == proxy.port
        chunks: list[bytes] = []
        closed: list[Exception | None] = []

        def on_data(data: memoryview) -> None:
            chunks.append(bytes(data))
            if len(chunks) == 1:
                transport.pause_reading()
                loop.add_timer(0.3, lambda _t: resume())

        paused_at: list[int] = []

        def resume() -> None:
            paused_at.append(len(chunks))  # nothing arrived while paused
            transport.resume_reading()

        def on_close(error: Exception | None) -> None:
            closed.append(error)
            loop.stop()

        transport.start(on_data, on_close)
        transport.write(b"hello")
        run_until_stopped(loop, 20)
    assert paused_at == [1]
    assert closed == [None]  # close_notify from the target, through the proxy
    assert b"".join(chunks) == bulk.payload
    assert bytes(bulk.received) == b"hello"
    assert transport.is_closed


@pytest.mark.timeout(60)
def test_tls_in_tls_backpressure_drain_and_end(proxy_pem: Path) -> None:
    got = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server, pproxy(tls=proxy_pem) as proxy:

        def serve() -> None:
            conn, _ = server.accept()
            with CERTS.server.wrap_socket(conn, server_side=True) as tls:
                while chunk := tls.recv(65536):
                    got.extend(chunk)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with new_loop() as loop:
            _, recorder = _tls_in_tls(loop, proxy, server.getsockname()[1])
            (transport,) = recorder.transports
            closed: list[Exception | None] = []
            drained: list[int] = []
            transport.start(lambda _d: None, lambda e: (closed.append(e), loop.stop()))
            transport.on_drain = lambda: (drained.append(transport.buffered_size), loop.stop())
            # One write larger than the kernel takes at once (pproxy itself reads without
            # limit, so only our own buffer can show the backpressure).
            sent = bytes(range(256)) * (64 * 1024)  # 16 MiB
            transport.write(sent)
            assert transport.buffered_size > 0
            run_until_stopped(loop, 30)
            assert drained == [0]  # on_drain once everything went down the stack
            transport.end()
            run_until_stopped(loop, 20)
        thread.join(10)
    assert closed == [None]
    assert bytes(got) == sent  # every byte in order, then close_notify (b"")


# -- the CLI ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_cli_get_through_an_https_proxy(proxy_pem: Path, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    CERTS.ca.cert_pem.write_to_path(str(ca_file))
    with (
        pproxy(auth=f"alice:{SECRET}", tls=proxy_pem) as proxy,
        ScriptedServer(three_events, ssl_context=CERTS.server) as server,
    ):
        # The default contexts (the proxy's and the target's) trust the CA through OpenSSL's
        # SSL_CERT_FILE, as a user's private CA would be configured.
        result = run(
            "get",
            server.url(),
            "--trace",
            "--proxy",
            proxy.url("https", f"alice:{SECRET}"),
            env={"SSL_CERT_FILE": str(ca_file)},
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["event 1", "event 2", "event 3"]
    assert (
        f"* conn   via proxy 127.0.0.1:{proxy.port} (CONNECT 127.0.0.1:{server.port} over TLS)"
        in result.stderr
    )
    assert SECRET not in result.stdout + result.stderr
