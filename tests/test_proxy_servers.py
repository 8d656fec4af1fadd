"""What pproxy never does, from other real proxy servers started by the tests on 127.0.0.1.

* tinyproxy (Debian's ``tinyproxy``; ``.ci/run`` installs it): ``403 Access violation`` for a
  ``CONNECT`` to a port outside its ``ConnectPort`` list, ``500 Unable to connect`` when the
  target refuses.
* proxy.py (PyPI ``proxy.py``): ``502 Bad Gateway`` when the target refuses.
* Twisted's SOCKSv4 server (``python -m twisted socks``): SOCKS4a, the target's *name* resolved
  by the proxy (``twisted.protocols.socks.SOCKSv4.dataReceived`` reads the 0.0.0.x form).

Each refusal must be a ``ProxyError`` with the proxy's status, naming the proxy and saying it
refused, never taken for the target's answer. Nothing leaves loopback.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _connector_helpers import refusing_port
from _proxy_helpers import free_port, three_events, wait_listening
from _sse_test_servers import ScriptedServer

from reactsse.errors import HTTPStatusError, ProxyError
from reactsse.eventsource import TextTrace, connect


@contextmanager
def _server_process(command: list[str], port: int, what: str, cwd: Path) -> Iterator[int]:
    """Run ``command`` until the block ends; yield ``port`` once it listens there.

    In a session of its own, killed as a process group: proxy.py's acceptors and workers are
    child processes that outlive a parent killed alone.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_listening(port, what)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _need(what: str, present: bool) -> None:
    """Skip without ``what``; under CI=true (``.ci/run`` installs it) fail instead."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {what} is not installed")
    pytest.skip(f"{what} is not installed")


@contextmanager
def tinyproxy(tmp_path: Path, connect_port: int) -> Iterator[int]:
    """tinyproxy on 127.0.0.1, allowing ``CONNECT`` to ``connect_port`` only."""
    _need("tinyproxy", shutil.which("tinyproxy") is not None)
    port = free_port()
    config = tmp_path / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 10\nMaxClients 8\n"
        f"ConnectPort {connect_port}\nLogLevel Critical\n"
    )
    command = [str(shutil.which("tinyproxy")), "-d", "-c", str(config)]
    with _server_process(command, port, "tinyproxy", tmp_path) as listening:
        yield listening


@contextmanager
def proxy_py(tmp_path: Path) -> Iterator[int]:
    """proxy.py (the PyPI package) on 127.0.0.1, one worker."""
    _need("proxy.py", shutil.which("proxy") is not None or _has_module("proxy.proxy"))
    port = free_port()
    command = [
        *(sys.executable, "-m", "proxy"),
        *("--hostname", "127.0.0.1", "--port", str(port)),
        *("--num-workers", "1", "--num-acceptors", "1"),
    ]
    with _server_process(command, port, "proxy.py", tmp_path) as listening:
        yield listening


@contextmanager
def twisted_socks(tmp_path: Path) -> Iterator[int]:
    """Twisted's SOCKSv4/4a server (``twisted.tap.socks``) on 127.0.0.1."""
    _need("twisted", _has_module("twisted.protocols.socks"))
    port = free_port()
    command = [
        *(sys.executable, "-m", "twisted", "--log-file", str(tmp_path / "twisted.log")),
        *("socks", "--interface", "127.0.0.1", "--port", str(port)),
    ]
    with _server_process(command, port, "twisted socks", tmp_path) as listening:
        yield listening


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _refusal(url: str, proxy: str, *, reconnect: bool = False) -> ProxyError:
    with (
        connect(url, proxy=proxy, reconnect=reconnect) as events,
        pytest.raises(ProxyError) as info,
    ):
        next(events)
    assert not isinstance(info.value, HTTPStatusError)  # the proxy's answer, not the target's
    return info.value


# -- tinyproxy: 403 and 500 -----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_tinyproxy_forbids_a_port_with_403_and_it_is_not_retried(tmp_path: Path) -> None:
    with (
        ScriptedServer(three_events) as server,
        refusing_port() as other,
        tinyproxy(tmp_path, connect_port=other) as port,
    ):
        start = time.monotonic()
        error = _refusal(server.url(), f"http://127.0.0.1:{port}", reconnect=True)
        assert time.monotonic() - start < 20  # reconnect is on: a 403 does not fix itself
        assert server.connection_count == 0  # the target was never reached
    assert error.status == 403
    assert not error.retryable
    assert error.target == f"127.0.0.1:{server.port}"
    assert str(error) == (
        f"proxy 127.0.0.1:{port} refused CONNECT 127.0.0.1:{server.port}: 403 Access violation"
    )


@pytest.mark.timeout(60)
def test_tinyproxy_allows_its_connect_port(tmp_path: Path) -> None:
    trace_out = io.StringIO()
    with (
        ScriptedServer(three_events) as server,
        tinyproxy(tmp_path, connect_port=server.port) as port,
        connect(
            server.url(),
            proxy=f"http://127.0.0.1:{port}",
            reconnect=False,
            trace=TextTrace(trace_out),
        ) as events,
    ):
        assert [event.data for event in events] == ["event 1", "event 2", "event 3"]
    assert f"* conn   connected to 127.0.0.1:{port}" in trace_out.getvalue()


@pytest.mark.timeout(60)
def test_tinyproxy_answers_500_when_the_target_refuses(tmp_path: Path) -> None:
    with refusing_port() as dead, tinyproxy(tmp_path, connect_port=dead) as port:
        error = _refusal(f"http://127.0.0.1:{dead}/", f"http://127.0.0.1:{port}")
    assert error.status == 500
    assert error.retryable  # the target may come back
    assert f"proxy 127.0.0.1:{port} refused CONNECT 127.0.0.1:{dead}: 500" in str(error)


# -- proxy.py: 502 ----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_proxy_py_answers_502_when_the_target_refuses(tmp_path: Path) -> None:
    with refusing_port() as dead, proxy_py(tmp_path) as port:
        error = _refusal(f"http://127.0.0.1:{dead}/", f"http://127.0.0.1:{port}")
    assert error.status == 502
    assert error.retryable
    assert str(error) == (
        f"proxy 127.0.0.1:{port} refused CONNECT 127.0.0.1:{dead}: 502 Bad Gateway"
    )


# -- Twisted: SOCKS4a with a host name ---------------------------------------------------------


@pytest.mark.timeout(60)
def test_socks4a_sends_the_name_and_the_proxy_resolves_it(tmp_path: Path) -> None:
    pytest.importorskip("socksio")
    trace_out = io.StringIO()
    with (
        ScriptedServer(three_events) as server,
        twisted_socks(tmp_path) as port,
        connect(
            server.url(host="localhost"),
            proxy=f"socks4a://127.0.0.1:{port}",
            reconnect=False,
            trace=TextTrace(trace_out),
        ) as events,
    ):
        got = [event.data for event in events]
    assert got == ["event 1", "event 2", "event 3"]
    trace = trace_out.getvalue()
    assert f"* conn   via proxy 127.0.0.1:{port} (SOCKS4a localhost:{server.port})" in trace
    assert f"* conn   connected to 127.0.0.1:{port}" in trace
    # The proxy resolved the name itself: it logs the address it reached for it.
    log = (tmp_path / "twisted.log").read_text()
    assert f"connection to 127.0.0.1:{server.port}" in log
