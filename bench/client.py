"""End-to-end client benchmark: SSE clients against a pre-rendered server over loopback.

Usage (from the repository root)::

    python bench/client.py                       # every corpus, every contestant, 5 rounds
    python bench/client.py --corpora openai --contestants aiohttp-uvloop,reactsse-connect-batch
    python bench/client.py --scale 0.01 --rounds 1   # a quick look (1 % of each corpus)
    python bench/client.py --profile reactsse-connect-batch --corpora openai   # cProfile one run
    python bench/client.py --list

The server (bench/_prerendered_server.py) runs in its own process, sends each corpus of
bench/_corpora.py as a pre-rendered chunked response, one HTTP chunk per SSE event, and closes.
Each measurement runs in a fresh worker process (bench/_contestants.py): it imports the
contestant's libraries, makes a 20-event warm-up request, then the measured one. Rounds alternate
the contestant order (A B C, C B A, ...) so that drift in a shared machine's load is spread over
every contestant; the table gives medians over the rounds.

Columns: events/s and MB/s (SSE stream bytes, HTTP chunk framing not counted) from request start to
the last event; "first ms", the time from request start to the first event; "× peer", events/s as
a multiple of the fastest peer's on that corpus ("peer" = the other Python SSE clients; floors and
reactsse itself excluded); "first × peer", the first-event time as a multiple of the best peer's
(below 1 is better); "spread", (max - min) / median of the elapsed times; "import ms", the
worker's import time of the contestant's libraries (not in any other column).

Every run is checked: the event count, the total length of the event data, and for the floors the
byte counts must equal the corpus's; a mismatch fails the benchmark (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

import _contestants  # noqa: E402  (bench/ is not a package; path set just above)
import _corpora  # noqa: E402
import _peers  # noqa: E402
import _prerendered_server  # noqa: E402

_WORKER = _HERE / "_contestants.py"
_SERVER = _HERE / "_prerendered_server.py"
_WORKER_TIMEOUT = 300.0

# The project's speed targets (docs/bench-client.md): events/s as a multiple of the fastest peer
# on these corpora, MB/s at least the fastest peer's on the large one, first event before
# aiohttp's.
_EVENTS_TARGET = {"openai": 1.2, "tiny": 1.2, "multiline": 1.2}
_MBPS_TARGET = {"large": 1.0}


@dataclass
class _Expected:
    count: int
    data_chars: int
    stream_bytes: int
    wire_bytes: int


@dataclass
class _Series:
    elapsed: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def _expected(name: str, scale: float) -> _Expected:
    corpus = _corpora.build(name, scale)
    wire = len(_prerendered_server.render(corpus.events))
    return _Expected(corpus.count, corpus.data_chars, len(corpus.stream), wire)


def _check(contestant: str, result: Mapping[str, object], want: _Expected) -> list[str]:
    """Return what is wrong with one worker's report (empty when it received the whole corpus)."""
    problems = []
    events, chars = result.get("events"), result.get("data_chars")
    wire, body = result.get("wire_bytes"), result.get("body_bytes")
    if events is None and wire is None:
        problems.append("reported neither events nor bytes")
    if events is not None and events != want.count:
        problems.append(f"events {events} != {want.count}")
    if chars is not None and chars != want.data_chars:
        problems.append(f"data chars {chars} != {want.data_chars}")
    if wire is not None and wire != want.wire_bytes:
        problems.append(f"wire bytes {wire} != {want.wire_bytes}")
    if body is not None and body != want.stream_bytes:
        problems.append(f"body bytes {body} != {want.stream_bytes}")
    return [f"{contestant}: {p}" for p in problems]


class _Server:
    """The pre-rendered server process; it exits when its stdin closes."""

    def __init__(self, scale: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(_SERVER), "--scale", str(scale)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _run_worker(
    contestant: str, base_url: str, corpus: str, extra: list[str] | None = None
) -> tuple[dict[str, object] | None, float, str]:
    """Run one measurement in a fresh process: (report or None, wall seconds, error text)."""
    command = [sys.executable, str(_WORKER), contestant, base_url, corpus, *(extra or [])]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, f"timed out after {_WORKER_TIMEOUT:.0f} s"
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-6:])
        return None, wall, f"exit {done.returncode}: {tail}"
    return json.loads(lines[-1]), wall, ""


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def _fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _table(
    corpus: str,
    want: _Expected,
    series: dict[str, _Series],
    kinds: dict[str, str],
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Markdown table for one corpus, and the medians per contestant."""
    medians: dict[str, dict[str, float]] = {}
    for name, s in series.items():
        if not s.elapsed:
            continue
        elapsed = statistics.median(s.elapsed)
        medians[name] = {
            "events_s": want.count / elapsed,
            "mb_s": want.stream_bytes / elapsed / 1e6,
            "first_ms": statistics.median(s.first) * 1e3,
            "spread": (max(s.elapsed) - min(s.elapsed)) / elapsed,
            "import_ms": statistics.median(s.imports) * 1e3,
            "runs": len(s.elapsed),
        }
    peers = [m for n, m in medians.items() if kinds[n] == "peer"]
    best_rate = max((m["events_s"] for m in peers), default=0.0)
    best_first = min((m["first_ms"] for m in peers), default=0.0)
    lines = [
        f"### {corpus}: {want.count:,} events, {want.stream_bytes / 1e6:.2f} MB",
        "",
        "| contestant | kind | events/s | MB/s | first ms | × peer | first × peer | spread | "
        "import ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in medians.items():
        ratio = f"{m['events_s'] / best_rate:.2f}" if best_rate else "-"
        first_ratio = f"{m['first_ms'] / best_first:.2f}" if best_first else "-"
        lines.append(
            f"| {name} | {kinds[name]} | {_fmt_rate(m['events_s'])} | {m['mb_s']:.1f} | "
            f"{m['first_ms']:.2f} | {ratio} | {first_ratio} | {m['spread'] * 100:.0f}% | "
            f"{m['import_ms']:.0f} |"
        )
    return lines, medians


def _targets(
    all_medians: dict[str, dict[str, dict[str, float]]], kinds: dict[str, str]
) -> list[str]:
    """The speed targets, one row per reactsse contestant and corpus: ratios and met or not.

    Throughput: events/s ≥ 1.2× the fastest peer on openai, tiny and multiline; MB/s ≥ 1.0× the
    fastest peer on large. First event: before the best aiohttp variant's. The openai-specific
    contestant is also compared with the openai SDK (the peer that does the same typed work).
    """
    ours = sorted({n for m in all_medians.values() for n in m if kinds[n] == "reactsse"})
    if not ours:
        return []
    lines = [
        "### Targets: reactsse vs. the fastest peer on each corpus",
        "",
        "| contestant | corpus | throughput vs. fastest peer | target | met | first ms "
        "| aiohttp first ms | met |",
        "|---|---|---:|---:|:---:|---:|---:|:---:|",
    ]
    extra = []
    for name in ours:
        for corpus, medians in all_medians.items():
            peers = {n: m for n, m in medians.items() if kinds[n] == "peer"}
            if name not in medians or not peers:
                continue
            mine = medians[name]
            key = "mb_s" if corpus in _MBPS_TARGET else "events_s"
            want = _MBPS_TARGET.get(corpus, _EVENTS_TARGET.get(corpus, 1.0))
            got = mine[key] / max(m[key] for m in peers.values())
            unit = "MB/s" if key == "mb_s" else "events/s"
            aiohttp = [m["first_ms"] for n, m in peers.items() if n.startswith("aiohttp")]
            best = min(aiohttp) if aiohttp else float("nan")
            lines.append(
                f"| {name} | {corpus} | {got:.2f}× {unit} | {want}× | "
                f"{'yes' if got >= want else 'no'} | {mine['first_ms']:.2f} | {best:.2f} | "
                f"{'yes' if mine['first_ms'] < best else 'no'} |"
            )
            sdk = medians.get("openai-sdk")
            if sdk and name == "reactsse-openai":
                extra.append(
                    f"{name} vs. openai-sdk on {corpus}: "
                    f"{mine['events_s'] / sdk['events_s']:.1f}× events/s, first event "
                    f"{mine['first_ms']:.2f} ms vs. {sdk['first_ms']:.2f} ms"
                )
    return lines + (["", *extra] if extra else [])


def _profile(contestant: str, base_url: str, corpus: str, top: int) -> int:
    """cProfile one measured run in a worker; print the top entries by own and cumulative time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.out"
        result, _, error = _run_worker(contestant, base_url, corpus, ["--profile", str(out)])
        if result is None:
            print(f"profile run failed: {error}", file=sys.stderr)
            return 1
        print(f"profile of {contestant} on {corpus} (under cProfile, so slower): {result}")
        for key in ("tottime", "cumulative"):
            print(f"\n--- top {top} by {key} ---")
            pstats.Stats(str(out)).strip_dirs().sort_stats(key).print_stats(top)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables; return 0, or 1 if any run failed its checks."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", default=",".join(_corpora.CORPORA), help="comma-separated")
    parser.add_argument(
        "--contestants", default=",".join(_contestants.CONTESTANTS), help="comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=5, help="measurements per pair (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size factor")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    parser.add_argument("--profile", metavar="CONTESTANT", help="cProfile one run and stop")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print")
    parser.add_argument("--list", action="store_true", help="list the contestants and stop")
    args = parser.parse_args(argv)

    registry = _contestants.CONTESTANTS
    if args.list:
        for c in registry.values():
            only = f" (only {', '.join(c.corpora)})" if c.corpora else ""
            print(f"{c.name:26} {c.kind:8} {c.description}{only}")
        return 0
    corpora = [c for c in args.corpora.split(",") if c]
    names = [c for c in args.contestants.split(",") if c]
    unknown = [n for n in names if n not in registry] + [
        c for c in corpora if c not in _corpora.CORPORA
    ]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)} (see --list)")

    # Not an error: CI installs only the test extra; `pip install -e .[bench]` brings the peers.
    names = _peers.skip_missing({n: _contestants.CONTESTANTS[n].modules for n in names})

    server = _Server(args.scale)
    try:
        if args.profile:
            return _profile(args.profile, server.base_url, corpora[0], args.top)
        return _bench(args, corpora, names, server.base_url)
    finally:
        server.close()


def _bench(args: argparse.Namespace, corpora: list[str], names: list[str], base_url: str) -> int:
    registry = _contestants.CONTESTANTS
    kinds = {n: c.kind for n, c in registry.items()}
    wanted = {c: _expected(c, args.scale) for c in corpora}
    series = {c: {n: _Series() for n in names if _applies(n, c)} for c in corpora}
    failures: list[str] = []
    raw: list[dict[str, object]] = []
    started = time.perf_counter()
    print(f"# End-to-end client benchmark\n\nmachine: {_machine()}")
    print(f"command: python bench/{Path(__file__).name} {' '.join(sys.argv[1:])}".rstrip())
    print(f"contestants: {', '.join(names)}")
    print(f"rounds: {args.rounds}, scale: {args.scale}\n", flush=True)
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for corpus in corpora:
            for name in order:
                if name not in series[corpus]:
                    continue
                result, wall, error = _run_worker(name, base_url, corpus)
                if result is None:
                    failures.append(f"{name} on {corpus}: {error}")
                    continue
                problems = _check(name, result, wanted[corpus])
                raw.append({"round": round_index, "corpus": corpus, "contestant": name, **result})
                if problems:
                    failures.extend(f"{p} (corpus {corpus})" for p in problems)
                    continue
                s = series[corpus][name]
                s.elapsed.append(float(result["elapsed_s"]))  # type: ignore[arg-type]
                s.first.append(float(result["first_s"]))  # type: ignore[arg-type]
                s.imports.append(float(result["import_s"]))  # type: ignore[arg-type]
                s.wall.append(wall)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"round {round_index + 1}/{args.rounds} done (load average {load})",
            file=sys.stderr,
            flush=True,
        )

    all_medians: dict[str, dict[str, dict[str, float]]] = {}
    for corpus in corpora:
        lines, medians = _table(corpus, wanted[corpus], series[corpus], kinds)
        all_medians[corpus] = medians
        print("\n".join(lines) + "\n")
    target_lines = _targets(all_medians, kinds)
    if target_lines:
        print("\n".join(target_lines) + "\n")
    walls = [w for per in series.values() for s in per.values() for w in s.wall]
    print(
        f"total {time.perf_counter() - started:.0f} s; {len(walls)} worker processes, median "
        f"worker wall time {statistics.median(walls) if walls else 0:.2f} s "
        f"(process start, imports, warm-up and the run); load average now "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")
    if failures:
        print("\nFAILED checks:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def _applies(name: str, corpus: str) -> bool:
    only = _contestants.CONTESTANTS[name].corpora
    return only is None or corpus in only


if __name__ == "__main__":
    sys.exit(main())
