"""Internal: a pre-rendered SSE server for the end-to-end client benchmark (bench/client.py).

Run as a separate process::

    python bench/_prerendered_server.py [--scale 1.0] [--keep-alive]

It binds 127.0.0.1 on port 0, prints ``PORT <n>`` on stdout, and serves until its stdin closes
(so it never outlives the benchmark that started it) or it is terminated.

Every response is rendered once, at start-up, into one ``bytes`` object: the HTTP/1.1 head and a
chunked body with exactly ONE HTTP chunk per SSE event (RFC 9112 §7.1), then the last chunk. A
request costs a head parse and one ``sendall``: no per-event Python work, so the server is not what
is measured. Routes (the query string is ignored)::

    GET  /openai /tiny /multiline /large     the corpora of bench/_corpora.py
    POST /v1/chat/completions                the openai corpus (for the openai SDK)
    GET|POST /warm/<any of the above>        the first 20 events only (a client's warm-up request)

Every response says ``Connection: close`` and the server closes after it (RFC 9112 §9.6): each
client makes one measured request, so every contestant pays one TCP connect and sees the same end of
stream; no pool can carry a warmed connection from the warm-up into the measurement.

``--keep-alive`` (for load generators, bench/bench_tool.py): the responses say nothing of the
connection, and each connection is served request after request (HTTP/1.1 persistence, RFC 9112
§9.3) until the client closes it, as wrk's and most servers' benchmarks assume.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora

_WARM_EVENTS = 20
_MAX_HEAD = 64 * 1024
_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n"
    b"connection: close\r\n"
    b"\r\n"
)
_KEEP_ALIVE_HEAD = _HEAD.replace(b"connection: close\r\n", b"")
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n"
    b"connection: close\r\n\r\nnot found\n"
)


def render(events: tuple[bytes, ...] | list[bytes], *, keep_alive: bool = False) -> bytes:
    """Return the whole HTTP response for ``events``: head, one chunk per event, last chunk."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events)
    return (_KEEP_ALIVE_HEAD if keep_alive else _HEAD) + body + b"0\r\n\r\n"


def render_routes(scale: float, *, keep_alive: bool = False) -> dict[str, bytes]:
    """Render every route's response once; keys are request paths."""
    routes: dict[str, bytes] = {}
    for name in _corpora.CORPORA:
        corpus = _corpora.build(name, scale)
        warm = list(corpus.events[:_WARM_EVENTS])
        if name == "openai":
            # The warm-up stream must still end in [DONE] for the openai SDK to end cleanly.
            warm = [*corpus.events[: _WARM_EVENTS - 1], corpus.events[-1]]
        routes[f"/{name}"] = render(corpus.events, keep_alive=keep_alive)
        routes[f"/warm/{name}"] = render(warm, keep_alive=keep_alive)
    routes["/v1/chat/completions"] = routes["/openai"]
    routes["/warm/v1/chat/completions"] = routes["/warm/openai"]
    return routes


def _read_request(sock: socket.socket) -> str | None:
    """Read one request (head and Content-Length body); return its path, or None on EOF/garbage."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data or len(buffer) > _MAX_HEAD:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    # Drain the request body so that closing does not reset the connection (unread data makes the
    # kernel send RST, which could cut the response short on the client's side).
    remaining = length - len(rest)
    while remaining > 0:
        data = sock.recv(min(remaining, 65536))
        if not data:
            return None
        remaining -= len(data)
    return parts[1].decode("latin-1").split("?", 1)[0]


def _serve_one(sock: socket.socket, routes: dict[str, bytes], keep_alive: bool) -> None:
    with sock:
        try:
            sock.settimeout(30.0)
            path = _read_request(sock)
            if path is None:
                return
            while keep_alive and path in routes:  # one request after the other (no pipelining)
                sock.sendall(routes[path])
                path = _read_request(sock)
                if path is None:
                    return  # the client closed
            sock.sendall(routes.get(path, _NOT_FOUND))
            # Half-close, then wait for the client to close: a graceful FIN, never an RST.
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


def serve(listener: socket.socket, routes: dict[str, bytes], keep_alive: bool = False) -> None:
    """Accept connections forever, one thread each (clients may overlap)."""
    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve_one, args=(sock, routes, keep_alive), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Command line entry: render, bind 127.0.0.1:0, print ``PORT <n>``, serve until stdin EOF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size factor")
    parser.add_argument(
        "--keep-alive", action="store_true", help="serve requests until the client closes"
    )
    args = parser.parse_args(argv)
    routes = render_routes(args.scale, keep_alive=args.keep_alive)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)  # bench/aio_bench.py opens up to 10,000 connections at once
    threading.Thread(target=serve, args=(listener, routes, args.keep_alive), daemon=True).start()
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed our stdin or died
    listener.close()


if __name__ == "__main__":
    main()
