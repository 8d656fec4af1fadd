"""What a proxy tunnel costs: the first event and throughput, direct vs through a real proxy.

Usage (from the repository root)::

    python bench/proxy.py                    # 5 rounds, 20 000 events per stream
    python bench/proxy.py --events 2000 --rounds 1   # a quick look

A pre-rendered SSE response (one HTTP chunk per event, OpenAI-sized events) is served from a
thread on 127.0.0.1; ``reactsse.connect()`` reads it directly, through ``pproxy`` (a proxy
server from PyPI, in its own process) with HTTP ``CONNECT``, through the same pproxy with
SOCKS5, and through a second pproxy serving ``CONNECT`` over TLS (an ``https://`` proxy,
``http+ssl``, its certificate from ``trustme``; the row is left out without trustme). Rounds
alternate the order of the paths. Columns: "first ms", from ``connect()`` to
the first event (the proxy's handshake is in it); "events/s" over the whole stream; "× direct",
each as a multiple of the direct connection's. Medians over the rounds. After the tunnel is
open the bytes flow over a plain socket (or ``TLSTransport``) exactly as a direct connection's
do, so the throughput ratio measures pproxy's relaying, not reactsse; through the https proxy
every byte is also encrypted to the proxy and decrypted by it (one ``TLSTransport`` more on our
side), and its "first ms" has the TLS handshake with the proxy in it.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from reactsse.eventsource import connect

_LAUNCH = (
    "import sys; sys.modules['uvloop'] = None; import pproxy.server as s; "
    "sys.argv = ['pproxy', *sys.argv[1:]]; s.main()"
)
_EVENT = b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":" token"}}]}\n\n'


def _serve(listener: socket.socket, body: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(65536)
                if not data:
                    break
                request += data
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + body)


def _start_pproxy(stack: ExitStack, protocols: str, *extra: str) -> int:
    """A pproxy process listening with ``protocols``; killed when ``stack`` closes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, "-l", f"{protocols}://127.0.0.1:{port}", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(process.wait)
    stack.callback(process.kill)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("pproxy did not start (pip install pproxy)")


def _https_proxy(stack: ExitStack) -> tuple[str, ssl.SSLContext] | None:
    """An ``http+ssl`` pproxy with a ``trustme`` certificate, and a context that trusts it."""
    try:
        import trustme
    except ImportError:
        print("(no trustme: the https proxy row is left out; pip install trustme)\n")
        return None
    ca = trustme.CA()
    pem = Path(stack.enter_context(TemporaryDirectory())) / "proxy.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return f"https://127.0.0.1:{_start_pproxy(stack, 'http+ssl', '--ssl', str(pem))}", context


def _one(
    url: str, proxy: str | bool, count: int, context: ssl.SSLContext | None
) -> tuple[float, float]:
    start = time.perf_counter()
    first = 0.0
    seen = 0
    with connect(url, proxy=proxy, proxy_ssl_context=context, reconnect=False) as events:
        for _event in events:
            if not seen:
                first = time.perf_counter() - start
            seen += 1
    elapsed = time.perf_counter() - start
    if seen != count:
        raise SystemExit(f"expected {count} events, got {seen}")
    return first, count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    body = b"".join(b"%x\r\n%s\r\n" % (len(_EVENT), _EVENT) for _ in range(args.events))
    body += b"0\r\n\r\n"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop = threading.Event()
    threading.Thread(target=_serve, args=(listener, body, stop), daemon=True).start()
    with ExitStack() as stack:
        stack.callback(listener.close)
        stack.callback(stop.set)
        port = _start_pproxy(stack, "http+socks5")
        # Each path: the proxy setting and the context verifying the proxy (https only).
        ways: dict[str, tuple[str | bool, ssl.SSLContext | None]] = {
            "direct": (False, None),
            "HTTP CONNECT (pproxy)": (f"http://127.0.0.1:{port}", None),
            "SOCKS5 (pproxy)": (f"socks5://127.0.0.1:{port}", None),
        }
        https = _https_proxy(stack)
        if https is not None:
            ways["HTTPS proxy, CONNECT over TLS (pproxy)"] = https
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for proxy, context in ways.values():  # warm-up
            _one(url, proxy, args.events, context)
        for round_ in range(args.rounds):
            order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
            for name in order:
                proxy, context = ways[name]
                results[name].append(_one(url, proxy, args.events, context))
    base_first = statistics.median(first for first, _ in results["direct"])
    base_rate = statistics.median(rate for _, rate in results["direct"])
    print(f"{args.events} events per stream, {args.rounds} rounds, medians\n")
    print("| path | first ms | × direct | events/s | × direct |")
    print("|---|---:|---:|---:|---:|")
    for name, series in results.items():
        first = statistics.median(f for f, _ in series)
        rate = statistics.median(r for _, r in series)
        print(
            f"| {name} | {first * 1000:.2f} | {first / base_first:.2f} | {rate:,.0f} | "
            f"{rate / base_rate:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
