"""Proxies, end to end, through a real proxy server from PyPI (``pproxy``) on 127.0.0.1.

pproxy speaks HTTP CONNECT, SOCKS5 and SOCKS4 on one port; the tests start it as a subprocess
(with and without Basic credentials), stream events through it from the scripted SSE servers
(plain and TLS targets, ``trustme`` certificates), kill it mid-stream, and check that planted
credentials never reach an error, a trace or a repr. Refusals with a status pproxy does not
send (403, 502) are checked on the sans-IO handshake here, and from real servers in
``test_proxy_servers.py``; ``https://`` proxies are ``test_proxy_tls.py``'s. ``NO_PROXY`` and
the environment are a table of the pure selection function. Nothing leaves loopback.
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _connector_helpers import CERTS, refusing_port
from _proxy_helpers import SECRET, pproxy, three_events
from _sse_test_servers import Exchange, ScriptedServer, sse_head

from reactsse.connector.socks import SocksHandshake
from reactsse.errors import HTTPStatusError, InvalidURL, ProxyError
from reactsse.eventsource import EventSourceOptions, TextTrace, connect
from reactsse.http import ProxyURL, no_proxy_matches, parse_proxy_url, select_proxy
from reactsse.http.tunnel import ConnectHandshake

pytest.importorskip("pproxy")
pytest.importorskip("socksio")

# -- through a real proxy --------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("scheme", "tls"),
    [
        (scheme, tls)
        for scheme in ("http", "socks5", "socks5h", "socks4")
        for tls in (False, True)
        if not (scheme == "socks4" and tls)  # one SOCKS4 case: the tunnel is the same
    ],
    ids=lambda value: {False: "plain", True: "tls"}.get(value, value),
)
def test_events_through_the_proxy(scheme: str, tls: bool) -> None:
    server_tls = CERTS.server if tls else None
    trace_out = io.StringIO()
    with (
        pproxy() as proxy,
        ScriptedServer(three_events, ssl_context=server_tls) as server,
        connect(
            server.url(),
            proxy=proxy.url(scheme),
            reconnect=False,
            ssl_context=CERTS.client if tls else None,
            trace=TextTrace(trace_out),
        ) as events,
    ):
        got = [(event.data, event.last_event_id) for event in events]
    assert got == [("event 1", "1"), ("event 2", "2"), ("event 3", "3")]
    trace = trace_out.getvalue()
    how = "CONNECT" if scheme == "http" else ("SOCKS4a" if scheme == "socks4" else "SOCKS5")
    assert f"* conn   via proxy 127.0.0.1:{proxy.port} ({how} 127.0.0.1:{server.port})" in trace
    # The socket's peer is the proxy: the stream really went through it.
    assert f"* conn   connected to 127.0.0.1:{proxy.port}" in trace
    if tls:
        assert "(TLSv1." in trace  # TLS with the target, inside the tunnel


@pytest.mark.timeout(30)
@pytest.mark.parametrize("scheme", ["http", "socks5h"])
def test_proxy_credentials_good(scheme: str) -> None:
    with pproxy(auth=f"alice:{SECRET}") as proxy, ScriptedServer(three_events) as server:
        url = proxy.url(scheme, f"alice:{SECRET}")
        with connect(server.url(), proxy=url, reconnect=False) as events:
            assert [event.data for event in events] == ["event 1", "event 2", "event 3"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("scheme", ["http", "socks5h"])
def test_proxy_credentials_bad_fail_at_once_and_never_show(scheme: str) -> None:
    trace_out = io.StringIO()
    with pproxy(auth="alice:right-one") as proxy, ScriptedServer(three_events) as server:
        url = proxy.url(scheme, f"alice:{SECRET}")
        options = EventSourceOptions(proxy=url, trace=TextTrace(trace_out))
        start = time.monotonic()
        with connect(server.url(), options=options) as events, pytest.raises(ProxyError) as info:
            next(events)  # reconnect is on, but a refused login does not fix itself
        assert time.monotonic() - start < 10
        assert server.connection_count == 0  # never reached the target
    error = info.value
    assert not isinstance(error, HTTPStatusError)  # the proxy's answer, not the target's
    if scheme == "http":
        assert error.status == 407
        assert "407" in str(error)
    assert f"127.0.0.1:{proxy.port}" in str(error)
    assert error.target == f"127.0.0.1:{server.port}"
    for text in (str(error), repr(error), trace_out.getvalue(), repr(options), str(options)):
        assert SECRET not in text
        assert "alice" not in text


@pytest.mark.timeout(30)
def test_a_proxy_that_refuses_the_target(tmp_path: Path) -> None:
    block = tmp_path / "block.txt"
    block.write_text("127\\.0\\.0\\.1\n")
    with pproxy(block=block) as proxy, ScriptedServer(three_events) as server:
        with (
            connect(server.url(), proxy=proxy.url(), reconnect=False) as events,
            pytest.raises(ProxyError) as info,
        ):
            next(events)
        assert server.connection_count == 0
    message = str(info.value)
    assert f"proxy 127.0.0.1:{proxy.port}" in message
    assert f"CONNECT 127.0.0.1:{server.port}" in message
    assert info.value.target == f"127.0.0.1:{server.port}"  # which destination was refused


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_proxy_dies_mid_stream_and_the_stream_resumes_through_it(
    scheme: str, tmp_path: Path
) -> None:
    resumed = threading.Event()

    def handler(ex: Exchange) -> None:
        n = int(ex.request.header("last-event-id") or 0) + 1
        ex.send_head(200, sse_head())
        ex.send_chunk(b"id: %d\ndata: event %d\n\n" % (n, n))
        if n == 1:
            ex.stall(20)  # until the dying proxy drops the connection
        else:
            resumed.set()
            ex.end_chunks()

    tls = None
    if scheme == "https":  # TLS to the proxy: the tunnel inside it dies, and is made again
        tls = tmp_path / "proxy.pem"
        CERTS.cert.private_key_and_cert_chain_pem.write_to_path(str(tls))
    with pproxy(tls=tls) as proxy, ScriptedServer(handler) as server:
        got = []
        with connect(
            server.url(),
            proxy=proxy.url(scheme),
            proxy_ssl_context=CERTS.client,
            retry=0.05,
            max_reconnect_delay=0.2,
        ) as events:
            for event in events:
                got.append(event.data)
                if len(got) == 1:
                    proxy.stop()  # the proxy process dies with the tunnel open
                    proxy.start()  # and comes back on the same port
                if len(got) == 2:
                    break
        assert resumed.is_set()
    assert got == ["event 1", "event 2"]
    # The reconnect went through the proxy again and resumed from the last ID.
    assert [r.header("last-event-id") for r in server.requests] == [None, "1"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connect_timeout_covers_the_proxy_hop(scheme: str) -> None:
    # A proxy that accepts and never answers (neither CONNECT nor, for https, the ClientHello):
    # a listener nobody reads.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with (
            connect(
                f"{scheme}://127.0.0.1:9/",
                proxy=f"{scheme}://u:{SECRET}@127.0.0.1:{port}",
                connect_timeout=0.3,
                reconnect=False,
            ) as events,
            pytest.raises(Exception) as info,
        ):
            next(events)
        assert time.monotonic() - start < 10
    message = str(info.value)
    assert "timed out after 0.3 s (while tunnelling through the proxy" in message
    assert SECRET not in message


@pytest.mark.timeout(30)
def test_environment_proxy_is_used_for_a_name_and_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with refusing_port() as dead:
        monkeypatch.setenv("HTTPS_PROXY", f"http://bob:{SECRET}@127.0.0.1:{dead}")
        monkeypatch.delenv("https_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        trace_out = io.StringIO()
        # The name is never resolved here: the proxy would resolve it, and it refuses first.
        with (
            connect(
                "https://api.example.invalid/v1", reconnect=False, trace=TextTrace(trace_out)
            ) as events,
            pytest.raises(ProxyError) as info,
        ):
            next(events)
    message = str(info.value)
    assert f"127.0.0.1:{dead}" in message
    assert "the proxy, on the way to api.example.invalid:443" in message
    assert info.value.target == "api.example.invalid:443"
    assert (info.value.host, info.value.port) == ("127.0.0.1", dead)  # the proxy's address
    assert (
        f"* conn   via proxy 127.0.0.1:{dead} (CONNECT api.example.invalid:443)"
        in trace_out.getvalue()
    )
    assert SECRET not in message + trace_out.getvalue()


# -- the CLI ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_cli_proxy_and_trace_never_show_the_password() -> None:
    with pproxy(auth=f"alice:{SECRET}") as proxy, ScriptedServer(three_events) as server:
        ok = subprocess.run(
            [
                sys.executable,
                "-m",
                "reactsse",
                "get",
                server.url(),
                "--trace",
                "--proxy",
                proxy.url("http", f"alice:{SECRET}"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        bad = subprocess.run(
            [
                sys.executable,
                "-m",
                "reactsse",
                "get",
                server.url(),
                "--proxy",
                proxy.url("http", "alice:wrong-" + SECRET),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ["event 1", "event 2", "event 3"]
    assert (
        f"* conn   via proxy 127.0.0.1:{proxy.port} (CONNECT 127.0.0.1:{server.port})" in ok.stderr
    )
    assert bad.returncode == 3  # a network error
    assert "407" in bad.stderr and "Traceback" not in bad.stderr
    for text in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
        assert SECRET not in text


# -- the sans-IO handshake: statuses pproxy does not send -------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"), [(403, False), (407, False), (502, True), (503, True)]
)
def test_a_refusal_carries_the_proxy_status(status: int, retryable: bool) -> None:
    handshake = ConnectHandshake("proxy.test:3128", "api.example.com", 443, "Basic c2VjcmV0")
    request = handshake.start()
    assert request.startswith(b"CONNECT api.example.com:443 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic c2VjcmV0\r\n" in request
    answer = b"HTTP/1.1 %d Nope\r\nContent-Length: 4\r\n\r\nbody" % status
    with pytest.raises(ProxyError) as info:
        for byte in range(len(answer)):  # one byte at a time: the head may come in pieces
            handshake.receive(answer[byte : byte + 1])
    assert info.value.status == status
    assert info.value.retryable is retryable
    assert info.value.target == "api.example.com:443"
    assert str(info.value) == (
        f"proxy proxy.test:3128 refused CONNECT api.example.com:443: {status} Nope"
    )
    assert "c2VjcmV0" not in str(info.value)


def _close_at_once(ex: Exchange) -> None:
    ex.close()


def _answer_garbage(ex: Exchange) -> None:
    ex.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def _speak_for_the_target(ex: Exchange) -> None:
    ex.send(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
    ex.wait_client_close()


def _socks_close_at_once(ex: Exchange) -> None:
    ex.sock.recv(16)  # the greeting
    ex.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("scheme", "behaviour", "said"),
    [
        ("http", _close_at_once, "closed the connection before answering CONNECT {target}"),
        ("http", _answer_garbage, "sent a bad answer to CONNECT {target}"),
        ("http", _speak_for_the_target, "sent 19 bytes after opening the tunnel to {target}"),
        ("socks5", _socks_close_at_once, "closed the connection during the handshake for {target}"),
    ],
    ids=["closes", "garbage", "speaks-first", "socks-closes"],
)
def test_a_misbehaving_proxy_is_a_proxy_error_naming_the_target(
    scheme: str, behaviour: Callable[[Exchange], None], said: str
) -> None:
    with (
        refusing_port() as target_port,
        ScriptedServer(behaviour, read_request=scheme == "http") as proxy,
    ):
        target = f"127.0.0.1:{target_port}"
        with (
            connect(
                f"http://{target}/", proxy=f"{scheme}://127.0.0.1:{proxy.port}", reconnect=False
            ) as events,
            pytest.raises(ProxyError) as info,
        ):
            next(events)
    assert said.format(target=target) in str(info.value)
    assert f"127.0.0.1:{proxy.port}" in str(info.value)  # the proxy is named too
    assert info.value.target == target


def test_a_socks_proxy_without_socksio_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "socksio", None)  # what an absent package looks like
    with pytest.raises(ProxyError) as info:
        SocksHandshake("proxy.test:1080", "api.example.com", 443, version=5)
    assert str(info.value) == (
        "a SOCKS proxy needs the socksio package: pip install 'reactsse[socks]'"
    )
    assert info.value.target == "api.example.com:443"
    assert not info.value.retryable  # installing a package is not something a retry does


def test_a_tunnel_opens_on_2xx_and_keeps_what_follows() -> None:
    handshake = ConnectHandshake("p:1", "::1", 443)
    assert handshake.start().startswith(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n")
    assert handshake.receive(b"HTTP/1.1 200 Connection established\r\n") == (b"", False, b"")
    assert handshake.receive(b"\r\n\x16\x03") == (b"", True, b"\x16\x03")


# -- choosing the proxy: pure functions -----------------------------------------------------

NO_PROXY_CASES = [
    # (NO_PROXY, host, port, excluded)
    ("", "example.com", 443, False),
    ("*", "example.com", 443, True),
    ("example.com", "example.com", 443, True),
    ("example.com", "api.example.com", 443, True),  # a domain covers its subdomains
    ("example.com", "badexample.com", 443, False),  # but not another name that ends alike
    (".example.com", "example.com", 443, True),  # a leading dot is ignored (curl)
    (".example.com", "a.b.example.com", 443, True),
    ("*.example.com", "a.example.com", 443, True),
    ("EXAMPLE.com", "Api.Example.COM.", 443, True),  # case and a trailing dot
    ("example.com:8443", "example.com", 8443, True),  # with a port: that port only
    ("example.com:8443", "example.com", 443, False),
    ("foo.org, example.com ,bar.net", "example.com", 80, True),
    ("foo.org bar.net", "bar.net", 80, True),
    ("10.1.2.3", "10.1.2.3", 80, True),
    ("10.1.2.3", "10.1.2.4", 80, False),
    ("10.0.0.0/8", "10.200.3.4", 80, True),
    ("10.0.0.0/8", "11.0.0.1", 80, False),
    ("10.0.0.0/8", "ten.example", 80, False),  # a CIDR range never matches a name
    ("192.168.1.1:8080", "192.168.1.1", 8080, True),
    ("192.168.1.1:8080", "192.168.1.1", 80, False),
    ("::1", "::1", 80, True),
    ("[::1]", "[::1]", 80, True),
    ("[2001:db8::1]:443", "2001:db8::1", 443, True),
    ("[2001:db8::1]:443", "2001:db8::1", 80, False),
    ("2001:db8::/32", "2001:db8:0:1::5", 80, True),
    ("2001:db8::/32", "2001:db9::5", 80, False),
    ("example.com", "10.1.2.3", 80, False),
    (",, ,", "example.com", 80, False),
]


@pytest.mark.parametrize(("no_proxy", "host", "port", "excluded"), NO_PROXY_CASES)
def test_no_proxy_matching(no_proxy: str, host: str, port: int, excluded: bool) -> None:
    assert no_proxy_matches(no_proxy, host, port) is excluded


P = "http://proxy.test:3128"
Q = "http://other.test:8080"
ENV_CASES = [
    # (setting, env, url scheme, host, expected proxy URL or None)
    (None, {}, "https", "api.example.com", None),
    (None, {"HTTPS_PROXY": P}, "https", "api.example.com", P),
    (None, {"https_proxy": P}, "https", "api.example.com", P),
    (None, {"https_proxy": P, "HTTPS_PROXY": Q}, "https", "api.example.com", P),  # lower wins
    (None, {"https_proxy": "", "HTTPS_PROXY": Q}, "https", "api.example.com", Q),  # empty: unset
    (None, {"HTTPS_PROXY": P}, "http", "api.example.com", None),  # https_proxy: https only
    (None, {"HTTP_PROXY": P}, "http", "api.example.com", P),
    (None, {"ALL_PROXY": P}, "http", "api.example.com", P),
    (None, {"all_proxy": P, "HTTPS_PROXY": Q}, "https", "api.example.com", Q),  # specific wins
    (None, {"HTTPS_PROXY": P, "NO_PROXY": "example.com"}, "https", "api.example.com", None),
    (None, {"HTTPS_PROXY": P, "no_proxy": "*"}, "https", "api.example.com", None),
    (None, {"ALL_PROXY": P}, "http", "localhost", None),  # loopback: never from the env
    (None, {"ALL_PROXY": P}, "http", "app.localhost", None),
    (None, {"ALL_PROXY": P}, "http", "127.0.0.2", None),
    (None, {"ALL_PROXY": P}, "http", "::1", None),
    (None, {"ALL_PROXY": "socks5h://proxy.test"}, "http", "a.test", "socks5h://proxy.test:1080"),
    (None, {"HTTP_PROXY": "proxy.test:3128"}, "http", "a.test", P),  # no scheme: http
    (False, {"ALL_PROXY": P}, "http", "a.test", None),  # False: the environment ignored
    (Q, {"ALL_PROXY": P}, "http", "a.test", Q),  # explicit: always, env or not
    (Q, {"NO_PROXY": "*"}, "http", "a.test", Q),
    (Q, {}, "http", "127.0.0.1", Q),  # explicit: loopback too (asked for)
]


@pytest.mark.parametrize(("setting", "env", "scheme", "host", "expected"), ENV_CASES)
def test_select_proxy(
    setting: str | bool | None, env: dict[str, str], scheme: str, host: str, expected: str | None
) -> None:
    chosen = select_proxy(setting, scheme, host, 443 if scheme == "https" else 80, env)
    if expected is None:
        assert chosen is None
    else:
        assert chosen == parse_proxy_url(expected)


def test_proxy_urls_parse_and_never_show_credentials() -> None:
    proxy = parse_proxy_url(f"HTTP://us%40er:{SECRET}%21@Proxy.Test:3128/")
    assert (proxy.scheme, proxy.host, proxy.port) == ("http", "proxy.test", 3128)
    assert (proxy.username, proxy.password) == ("us@er", SECRET + "!")
    assert proxy.basic_auth() is not None
    for text in (str(proxy), repr(proxy), proxy.display, repr(EventSourceOptions(proxy=proxy))):
        assert SECRET not in text and "us@er" not in text
    assert str(proxy) == "http://<redacted>@proxy.test:3128"
    assert parse_proxy_url("socks5://[::1]").display == "[::1]:1080"
    assert parse_proxy_url("https://p.test").port == 443
    assert isinstance(EventSourceOptions(proxy=P).proxy, ProxyURL)
    for bad in (
        f"ftp://u:{SECRET}@p.test",
        f"http://u:{SECRET}@p.test:99999",
        "http://",
        f"http://u:{SECRET}@p.test/path",
        # Characters typed raw into a password: each would end the userinfo of a URL.
        f"ftp://u:a#{SECRET}@p.test",
        f"http://u:a?{SECRET}@p.test",
        f"ftp://u:a {SECRET}@p.test",
        f"ftp://u:a\t{SECRET}@p.test",
        f"http://u:a/{SECRET}@p.test:99999",
        f"u:{SECRET}@p.test:99999",
    ):
        with pytest.raises(InvalidURL) as info:
            parse_proxy_url(bad)
        assert SECRET not in str(info.value)


def test_system_trust_store_context_verifies_against_the_system() -> None:
    pytest.importorskip("truststore")
    from reactsse.connector import system_trust_context
    from reactsse.errors import TLSError

    # A throwaway CA is in no system store: the handshake must refuse it.
    with (
        ScriptedServer(three_events, ssl_context=CERTS.server) as server,
        connect(server.url(), ssl_context=system_trust_context(), reconnect=False) as events,
        pytest.raises(TLSError) as info,
    ):
        next(events)
    assert "certificate verify failed" in str(info.value)


def test_the_openai_client_takes_the_proxy_option() -> None:
    from reactsse.openai import OpenAIClient

    url = f"socks5h://u:{SECRET}@127.0.0.1:1080"
    client = OpenAIClient(api_key="k", base_url="http://127.0.0.1:1/v1", proxy=url)
    assert client.options.proxy == parse_proxy_url(url)
    assert SECRET not in repr(client.options)
