"""``reactsse bench`` and its engine ``reactsse.loadgen``: numbers, merging, errors, output.

The numbers are checked in virtual time: the mock server and the load engine run on ONE
``VirtualTimeLoop`` over real loopback sockets, the server paces its events on ``loop.now()``
and the engine times them on it, so counts, gaps and rates are exact. Misbehaving servers
(refusing, resetting, sending garbage or an error status) are real sockets on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sse_test_servers import accepting
from hypothesis import given
from hypothesis import strategies as st

from reactsse.loadgen import Histogram, LoadEngine, LoadOptions, Stats
from reactsse.loadgen.histogram import MAX_VALUE_US, bucket_index, bucket_range
from reactsse.loadgen.report import SCHEMA, build_report, format_text
from reactsse.loadgen.runner import ProcessCPU, RunResult, run_local
from reactsse.loop import VirtualTimeLoop
from reactsse.mock import MockApp, MockOptions
from reactsse.server import BackgroundServer, SSEServer

# -- the histogram ---------------------------------------------------------------------------


def _exact(samples: list[int], percent: float) -> int:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def test_buckets_cover_every_value_once() -> None:
    previous_high = -1
    for index in range(bucket_index(MAX_VALUE_US) + 1):
        low, high = bucket_range(index)
        assert low == previous_high + 1  # contiguous, no gap, no overlap
        assert bucket_index(low) == index and bucket_index(high) == index
        assert high - low <= max(0, low >> 10)  # never wider than 1/1024 of its values
        previous_high = high
    assert previous_high == MAX_VALUE_US


@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=400),
    st.lists(st.integers(0, 10**9), min_size=0, max_size=400),
)
def test_merged_percentiles_match_an_exact_computation(a: list[int], b: list[int]) -> None:
    """Two processes' histograms merged give the percentiles of all samples, to the bucket."""
    first, second, whole = Histogram(), Histogram(), Histogram()
    for value in a:
        first.record(value / 1e6)
        whole.record(value / 1e6)
    for value in b:
        second.record(value / 1e6)
        whole.record(value / 1e6)
    # Through JSON, as from a worker process.
    merged = Histogram.from_dict(json.loads(json.dumps(first.to_dict())))
    merged.merge(Histogram.from_dict(json.loads(json.dumps(second.to_dict()))))
    samples = a + b
    assert merged.to_dict() == whole.to_dict()
    assert (merged.count, merged.min, merged.max) == (len(samples), min(samples), max(samples))
    assert merged.total == sum(samples)
    for percent in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        exact = _exact(samples, percent)
        value = merged.percentile(percent)
        assert exact <= value <= exact + (exact >> 10), (percent, exact, value)


def test_histogram_record_many_and_layout_check() -> None:
    histogram = Histogram()
    histogram.record(0.25, 3)
    histogram.record(-1.0)
    assert histogram.count == 4 and histogram.min == 0 and histogram.max == 250_000
    assert histogram.percentile(50) == histogram.percentile(100) == 250_000
    with pytest.raises(ValueError, match="layout"):
        Histogram.from_dict({**histogram.to_dict(), "sub_bits": 7})


# -- the numbers, in virtual time ------------------------------------------------------------


def _run_virtual(options: LoadOptions, mock: MockOptions | None = None) -> LoadEngine:
    """Run ``options`` (its url a path) against the mock, both on one ``VirtualTimeLoop``."""
    loop = VirtualTimeLoop()
    server = SSEServer(loop, app=MockApp(mock or MockOptions()))
    options = dataclasses.replace(options, url=server.url + options.url)
    engine = LoadEngine(loop, options, on_finish=server.close)
    engine.start()
    loop.run()  # ends when the engine and the server hold nothing on the loop any more
    assert not engine.running
    return engine


def test_closed_loop_counts_gaps_and_rates_are_exact() -> None:
    """3 connections on /events (10 events 0.1 s apart) for 5 s: every number is known."""
    options = LoadOptions(url="/events?count=10&interval=0.1", connections=3, duration=5.0)
    engine = _run_virtual(options)
    stats = engine.stats
    # Each stream lasts 0.9 s and is replaced at once: 5 per connection end by 4.5 s, the 6th
    # (started at 4.5 s) has sent 5 events (4.5, 4.6, ... 4.9) when the run ends at 5.0 s.
    assert (stats.started, stats.completed, stats.cut, stats.failed) == (18, 15, 3, 0)
    assert stats.events == 15 * 10 + 3 * 5
    assert stats.timeline_events == [33, 33, 33, 33, 33]
    assert stats.gap.count == stats.events - stats.started
    assert stats.gap.min == stats.gap.max == 100_000  # microseconds: exactly 0.1 s
    assert stats.duration.min == stats.duration.max == 900_000
    assert stats.ttfe.max == 0 and stats.ttfb.count == 18
    report = build_report(
        options, RunResult(stats, engine.elapsed, [ProcessCPU(0.1, 5.0)]), loop="v", processes=1
    )
    assert report["elapsed_s"] == 5.0
    assert report["events"]["per_s"] == 33.0
    assert report["events"]["per_s_per_connection"] == 11.0
    assert report["latency_ms"]["gap"]["p99"] == 100.0


def test_openai_tokens_ttft_and_per_stream_rate_at_a_paced_rate() -> None:
    """The mock at 50 tokens/s, 20 tokens per reply: the first token after 20 ms, then 20 ms."""
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    body = json.dumps(request)
    options = LoadOptions(
        url="/v1/chat/completions",
        method="POST",
        headers=(("Content-Type", "application/json"),),
        body=body.encode(),
        connections=2,
        streams=6,
        duration=None,
        openai=True,
    )
    engine = _run_virtual(options, MockOptions(rate=50.0, reply_tokens=20))
    stats = engine.stats
    assert (stats.started, stats.completed, stats.failed, stats.cut) == (6, 6, 0, 0)
    assert stats.tokens == 6 * 20
    # Events: the role chunk, 20 tokens, the finish chunk and [DONE].
    assert stats.events == 6 * 23
    assert stats.ttft.min == stats.ttft.max == 20_000
    assert stats.tpot.min == stats.tpot.max == 20_000
    assert stats.duration.min == stats.duration.max == 400_000
    assert engine.elapsed == pytest.approx(3 * 0.4)
    report = build_report(
        options, RunResult(stats, engine.elapsed, [ProcessCPU(0.1, 1.2)]), loop="v", processes=1
    )
    assert report["tokens"]["per_s_per_stream"] == 50.0
    assert report["tokens"]["per_s"] == pytest.approx(100.0)


def test_open_loop_counts_latency_from_the_due_time() -> None:
    """10 arrivals/s, streams of 0.4 s, at most 2 at once: arrivals wait, and it shows."""
    options = LoadOptions(
        url="/events?count=5&interval=0.1", connections=None, rate=10.0, duration=2.0
    )
    free = _run_virtual(options).stats
    # Tolerance: 1 µs, the rounding of a timer's due time computed as a float sum of delays.
    assert free.started == 20 and free.delayed == 0 and free.ttfe.max <= 1
    capped = _run_virtual(dataclasses.replace(options, connections=2)).stats
    # 2 slots serve 2 streams per 0.4 s = 5 per second against 10 due: half wait, ever longer.
    assert capped.delayed > 0
    assert capped.ttfe.max >= 500_000  # coordinated omission avoided: waiting is latency
    assert capped.started + capped.delayed >= 20


def test_warmup_is_not_measured() -> None:
    options = LoadOptions(
        url="/events?count=10&interval=0.1", connections=1, duration=1.0, warmup=0.95
    )
    stats = _run_virtual(options).stats
    # Streams run 0-0.9, 0.9-1.8, 1.8-(cut); the window is 0.95-1.95. The second stream's
    # events at 1.0..1.8 (9) and the third's at 1.8 and 1.9 (2) count; 0.9 was warm-up.
    assert stats.events == 11
    assert stats.started == 1  # the third; the second started in the warm-up
    assert stats.completed == 1 and stats.cut == 1


def test_read_timeout_counts_a_stalled_stream() -> None:
    options = LoadOptions(
        url="/events?count=10&interval=0.1",
        headers=(("X-Reactsse-Fault", "stall-after=2"),),
        connections=1,
        streams=2,
        duration=None,
        read_timeout=2.0,
    )
    stats = _run_virtual(options, MockOptions()).stats
    assert stats.errors == {"timeout": 2} and stats.failed == 2
    assert stats.events == 4 and stats.reconnections == 1


# -- errors, against real misbehaving servers ------------------------------------------------


@pytest.fixture
def misbehaving_port() -> Iterator[int]:
    """Connection k gets: 0 a good stream, 1 garbage, 2 a reset, 3 HTTP 503 (k mod 4)."""

    def answer(sock: socket.socket, kind: int) -> None:
        with sock:
            sock.recv(65536)
            if kind == 0:
                body = b"data: a\n\ndata: b\n\n"
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif kind == 1:
                sock.sendall(b"this is not HTTP at all\r\n\r\n")
            elif kind == 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.sendall(
                    b"HTTP/1.1 503 Busy\r\ncontent-type: text/plain\r\n"
                    b"content-length: 4\r\n\r\nbusy"
                )

    # Answered in the accept loop itself: the kinds go in the order of the connections.
    with accepting(lambda sock, index: answer(sock, index % 4)) as port:
        yield port


def test_errors_are_counted_by_kind_and_the_run_completes(misbehaving_port: int) -> None:
    options = LoadOptions(
        url=f"http://127.0.0.1:{misbehaving_port}/", connections=4, streams=20, duration=None
    )
    result = run_local(options)
    stats = result.stats
    assert stats.errors == {"protocol": 5, "reset": 5, "http_503": 5}
    assert (stats.started, stats.completed, stats.failed) == (20, 5, 15)
    assert stats.events == 10
    assert stats.reconnections >= 1


def test_refused_connections_are_counted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = LoadOptions(url=f"http://127.0.0.1:{port}/", connections=2, streams=6, duration=None)
    stats = run_local(options).stats
    assert stats.errors == {"refused": 6} and stats.failed == 6 and stats.reconnections == 4


# -- the report, the CPU warning, the command ------------------------------------------------


def test_a_busy_client_is_reported_with_a_suggestion() -> None:
    options = LoadOptions(url="http://127.0.0.1:1/", connections=1)
    result = RunResult(Stats(), 1.0, [ProcessCPU(cpu=0.97, wall=1.0)])
    report = build_report(options, result, loop="select", processes=1)
    assert report["client"]["cpu_limited"] is True
    assert "--processes 2" in report["client"]["warnings"][0]
    assert "--processes 2" in format_text(report)


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with BackgroundServer(app=MockApp(MockOptions(rate=0))) as server:
        yield server.url


def _bench(*args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reactsse", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _documented_schema() -> dict[str, list[str]]:
    """The top-level keys of docs/bench-tool.md's JSON schema, and for each object given as
    ``{a, b: ..., ...}`` (with no nested braces; continuation lines joined) its field names."""
    doc = (Path(__file__).parent.parent / "docs" / "bench-tool.md").read_text(encoding="utf-8")
    block = doc.split(f"schema `{SCHEMA}`", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    lines: dict[str, str] = {}
    key = ""
    for line in block.splitlines():
        if line and not line[0].isspace():
            key, _, rest = line.partition(" ")
            lines[key] = rest
        elif key:
            lines[key] += " " + line.strip()
    schema: dict[str, list[str]] = {}
    for key, rest in lines.items():
        flat = re.match(r"\s*\{([^{}]*)\}\s*(\(|$)", rest)
        fields = flat.group(1).split(",") if flat else []
        schema[key] = [field.split(":")[0].strip() for field in fields]
    return schema


def test_cli_json_schema_and_html_page(mock_url: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    run = _bench(f"{mock_url}/v1", "--openai", "-c", "4", "-n", "40", "--json", "--html", str(page))
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["schema"] == SCHEMA
    assert set(report) >= {
        "target", "load", "elapsed_s", "streams", "events", "bytes", "latency_ms", "errors",
        "timeline", "client", "tokens", "connections",
    }  # fmt: skip
    documented = _documented_schema()
    assert set(documented) == set(report)
    for key, fields in documented.items():
        if fields:  # "{a, b, ...}" in the docs: the keys of that object, exactly
            assert set(fields) == set(report[key]), key
    assert report["target"]["url"] == f"{mock_url}/v1/chat/completions"
    assert report["streams"]["started"] == report["streams"]["completed"] == 40
    assert report["errors"] == {} and report["tokens"]["total"] > 40
    assert report["latency_ms"]["ttfe"]["count"] == 40
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 2 and 'id="throughput"' in text and 'id="latency"' in text
    urls = set(re.findall(r"https?://[^\s\"'<>&]+", text))
    assert urls == {f"{mock_url}/v1/chat/completions"}
    assert "<script" not in text and "<link" not in text and "src=" not in text


def test_cli_processes_merge_and_progress_lines(mock_url: str) -> None:
    url = f"{mock_url}/events?count=50&interval=0"
    run = _bench(url, "-c", "4", "-p", "2", "--duration", "1.5", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["load"]["processes"] == 2 and len(report["client"]["processes"]) == 2
    streams = report["streams"]
    assert streams["completed"] * 50 <= report["events"]["total"]
    assert streams["started"] == streams["completed"] + streams["cut_at_end"]
    assert streams["cut_at_end"] == 4  # 2 connections in each process
    # Not a terminal: plain progress lines on stderr, one a second.
    assert re.search(r"^\s*1\.\d s +\d+ streams open", run.stderr, re.MULTILINE), run.stderr


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_cli_on_an_anyio_hosted_loop_counts_the_same(mock_url: str, loop: str) -> None:
    url = f"{mock_url}/events?count=5&interval=0"
    run = _bench(url, "-c", "2", "-n", "6", "--loop", loop, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["streams"]["completed"] == 6 and report["events"]["total"] == 30
    assert report["errors"] == {}


def test_cli_text_report_and_usage_errors(mock_url: str) -> None:
    run = _bench(f"{mock_url}/events?count=5&interval=0", "-c", "2", "-n", "4", "-q")
    assert run.returncode == 0, run.stderr
    assert "closed loop, 2 connections" in run.stdout and "time to first event" in run.stdout
    assert run.stderr == ""
    bad = _bench(f"{mock_url}/", "--processes", "0")
    assert bad.returncode == 2
    assert _bench("ftp://example.invalid/", "-n", "1").returncode == 2


@pytest.mark.usefixtures("sigint_default")
def test_ctrl_c_ends_the_run_and_still_reports(mock_url: str) -> None:
    url = f"{mock_url}/events?interval=0.05"
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "bench", url, "-c", "3", "--duration", "60", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        process.stderr.readline()  # the first progress line: the run is under way
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0
    report = json.loads(out)
    assert report["interrupted"] is True and report["events"]["total"] > 0
    assert report["streams"]["cut_at_end"] == 3


@pytest.mark.timeout(60)
def test_a_host_name_is_resolved_once_per_run(
    mock_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As wrk does: one lookup for the run, not one (and a resolver thread) per connection.
    The real getaddrinfo answers; the wrapper only counts the lookups of the name."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def counting(host: object, *args: object, **kwargs: object) -> object:
        if host == "localhost":
            lookups.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    port = mock_url.rsplit(":", 1)[1]
    options = LoadOptions(
        url=f"http://localhost:{port}/events?count=2&interval=0",
        connections=3,
        streams=12,
        warmup=0.0,
        keep_alive=False,  # a new connection for every stream
    )
    stats = run_local(options).stats
    assert (stats.completed, stats.failed, stats.connections_opened) == (12, 0, 12)
    assert lookups == ["localhost"]
