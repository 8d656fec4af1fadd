"""Smoke tests of the end-to-end client benchmark (bench/client.py and its helpers).

No timing is asserted (speed is measured by the bench scripts, never by tests). What is checked:
the corpora are what a reference SSE parser reads; the pre-rendered server frames one HTTP chunk per
event, routes by path and closes; the benchmark runs every installed contestant on a tiny corpus
and its checks hold (a contestant that lost or garbled an event would fail it, exit status 1).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import _contestants  # noqa: E402  (bench/ is not a package; path set just above)
import _corpora  # noqa: E402
import _prerendered_server  # noqa: E402

SCALE = 0.001  # openai 20 events (+[DONE]), tiny 200, multiline 20, large 2


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The pre-rendered server in its own process, as the benchmark starts it; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "_prerendered_server.py"), "--scale", str(SCALE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.stdin.close()  # the server exits at stdin EOF
        process.wait(timeout=10)
        process.stdout.close()


def _fetch(base_url: str, method: str, path: str) -> tuple[int, list[bytes], bool]:
    """One request with h11: (status, body chunks as framed by the server, server closed after)."""
    port = int(base_url.rsplit(":", 1)[1])
    conn = h11.Connection(h11.CLIENT)
    body = b'{"stream": true}' if method == "POST" else b""
    headers = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(body)))]
    chunks: list[bytes] = []
    current = b""
    status = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(conn.send(h11.Request(method=method, target=path, headers=headers)) or b"")
        sock.sendall(
            (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        )
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                current += event.data
                if event.chunk_end:
                    chunks.append(current)
                    current = b""
            elif isinstance(event, h11.EndOfMessage):
                break
        if current:
            chunks.append(current)
        closed = sock.recv(1) == b""
    return status, chunks, closed


@pytest.mark.parametrize("name", _corpora.CORPORA)
def test_server_sends_one_http_chunk_per_event(server: str, name: str) -> None:
    corpus = _corpora.build(name, SCALE)
    status, chunks, closed = _fetch(server, "GET", f"/{name}?ignored=1")
    assert status == 200
    assert chunks == list(corpus.events)
    assert closed


def test_server_routes_chat_completions_warm_up_and_unknown_paths(server: str) -> None:
    openai = _corpora.build("openai", SCALE)
    assert _fetch(server, "POST", "/v1/chat/completions")[1] == list(openai.events)
    status, warm, _ = _fetch(server, "POST", "/warm/v1/chat/completions")
    assert status == 200
    # The warm-up stream is short but still ends in [DONE], so that the openai SDK ends cleanly.
    assert len(warm) < len(openai.events) and warm[-1] == b"data: [DONE]\n\n"
    assert _fetch(server, "GET", "/warm/tiny")[1] == list(_corpora.build("tiny", SCALE).events[:20])
    assert _fetch(server, "GET", "/nowhere")[0] == 404


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(_corpora.CORPORA), cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_rendered_response_dechunks_to_the_corpus_at_any_split(name: str, cuts: list[int]) -> None:
    """h11, fed the server's response cut at arbitrary points, reads back exactly the stream."""
    corpus = _corpora.build(name, SCALE)
    response = _prerendered_server.render(corpus.events)
    points = sorted({c % (len(response) + 1) for c in cuts} | {0, len(response)})
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    body = b""
    for start, end in itertools.pairwise(points):
        conn.receive_data(response[start:end])
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
    assert body == corpus.stream


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(_corpora.CORPORA), cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_corpus_data_is_what_a_reference_parser_reads(name: str, cuts: list[int]) -> None:
    """The corpora's ``data`` tuples agree with openai's SSE decoder, whatever the chunking."""
    from openai._streaming import SSEDecoder  # a reference parser from the test extra

    corpus = _corpora.build(name, SCALE)
    points = sorted({c % (len(corpus.stream) + 1) for c in cuts} | {0, len(corpus.stream)})
    pieces = [corpus.stream[a:b] for a, b in itertools.pairwise(points)]
    decoded = tuple(event.data for event in SSEDecoder().iter_bytes(iter(pieces)))
    assert decoded == corpus.data
    assert corpus.count == len(corpus.events) == len(corpus.data)


def test_corpora_have_the_documented_shape() -> None:
    openai = _corpora.build("openai")
    assert openai.count == 20_001 and openai.events[-1] == b"data: [DONE]\n\n"
    assert 150 < len(openai.stream) / openai.count < 300  # ~220 bytes per chat.completion.chunk
    assert _corpora.build("tiny", 0.01).events[0] == b"data: x\n\n"
    multiline = _corpora.build("multiline", 0.01).events[3]
    assert multiline.startswith(b"event: update\r\nid: 3\r\n") and multiline.endswith(b"\r\n\r\n")
    large = _corpora.build("large", 0.01)
    assert large.count == 2 and all(len(d) == 64 * 1024 for d in large.data)


def test_check_rejects_a_short_or_garbled_report() -> None:
    import client

    want = client._expected("tiny", SCALE)
    good = {"events": want.count, "data_chars": want.data_chars}
    assert client._check("x", good, want) == []
    assert client._check("x", {**good, "events": want.count - 1}, want)
    assert client._check("x", {**good, "data_chars": want.data_chars + 1}, want)
    assert client._check("x", {"events": None, "wire_bytes": want.wire_bytes - 1}, want)
    assert client._check("x", {"events": None, "wire_bytes": None}, want)


def _run_client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "client.py"), "--scale", str(SCALE), "--rounds", "1", *args],
        capture_output=True,
        text=True,
        timeout=100,
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_benchmark_runs_every_installed_contestant() -> None:
    """Every contestant on the openai corpus (the only one every contestant can read)."""
    done = _run_client("--corpora", "openai")
    assert done.returncode == 0, done.stderr
    assert "### openai:" in done.stdout
    ran = [n for n in _contestants.CONTESTANTS if f"| {n} |" in done.stdout]
    # The floors need nothing beyond the test extra, nor does the openai SDK.
    assert {"raw-recv", "recv+h11", "openai-sdk"} <= set(ran)
    skipped = set(_contestants.CONTESTANTS) - set(ran)
    assert all(f"skipped {n}: " in done.stdout for n in skipped)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_benchmark_runs_the_other_corpora() -> None:
    """The other corpora, on the floors and both reactsse body readers (fewer processes)."""
    wanted = ["raw-recv", "recv+h11", "reactsse-connect-batch", "reactsse-eventsource-h11"]
    done = _run_client("--corpora", "tiny,multiline,large", "--contestants", ",".join(wanted))
    assert done.returncode == 0, done.stderr
    assert all(f"### {c}:" in done.stdout for c in ("tiny", "multiline", "large"))
    assert all(f"| {n} |" in done.stdout for n in wanted[:2])


# A sitecustomize that makes packages look absent: None in sys.modules is what
# importlib.util.find_spec reports as "not installed", and what an import fails on.
_HIDE = """
import os, sys
for name in os.environ.get("REACTSSE_TEST_HIDE", "").split(","):
    if name:
        sys.modules[name] = None
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_run_all_without_the_bench_extra_skips_each_missing_peer(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(_HIDE, encoding="utf-8")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "server"],
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "PYTHONPATH": path, "REACTSSE_TEST_HIDE": "aiohttp,uvloop"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("skipped ")]
    peers = ["aiohttp", "aiohttp+uvloop", "aiohttp batched", "aiohttp+uvloop batched"]
    assert [line.split(":")[0] for line in skipped] == [f"skipped {p}" for p in peers]
    assert "| 1 x 500 | reactsse |" in done.stdout


def test_chart_reads_every_headline_ratio_and_the_readme_shows_it(tmp_path: Path) -> None:
    import chart

    ratios = chart.read_ratios((BENCH / "RESULTS.md").read_text(encoding="utf-8"))
    assert len(ratios) == len(chart._TABLE_ROWS) + len(chart._SENTENCES)
    assert all(value > 0 for _, _, value in ratios)
    readme = (BENCH.parent / "README.md").read_text(encoding="utf-8")
    assert "](docs/bench-ratios.png)" in readme
    png = BENCH.parent / "docs" / "bench-ratios.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pytest.importorskip("matplotlib")  # the bench extra
    chart.draw(ratios, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
