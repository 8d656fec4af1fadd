"""The report of a run: the JSON document (a stable schema) and its text rendering.

``build_report`` turns the merged measurements into one JSON-ready ``dict`` whose schema is
documented in docs/bench-tool.md and named by its ``"schema"`` key (``reactsse-bench/1``): keys
are only ever added to it, never renamed or removed, under the same name. ``format_text``
renders that document for a terminal; ``--json`` prints it as it is.
"""

from __future__ import annotations

from typing import Any

from reactsse.loadgen.options import LoadOptions
from reactsse.loadgen.runner import RunResult

__all__ = ["CPU_LIMIT_PERCENT", "SCHEMA", "build_report", "format_text"]

SCHEMA = "reactsse-bench/1"

CPU_LIMIT_PERCENT = 90.0
"""A client process above this share of one core may be what limits the run."""

_LATENCIES = (
    ("ttfb", "time to first byte"),
    ("ttfe", "time to first event"),
    ("gap", "gap between events"),
    ("duration", "stream duration"),
)
_TOKEN_LATENCIES = (("ttft", "time to first token"), ("tpot", "time per output token"))


def build_report(
    options: LoadOptions, result: RunResult, *, loop: str, processes: int
) -> dict[str, Any]:
    """The JSON document of a run (see docs/bench-tool.md for every key)."""
    stats, elapsed = result.stats, result.elapsed
    per_s = stats.events / elapsed if elapsed > 0 else 0.0
    mb_per_s = stats.bytes / 1e6 / elapsed if elapsed > 0 else 0.0
    # Per connection means something in a closed loop only (an open loop's cap is no count).
    connections = options.connections if options.mode == "closed" else None
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "target": {"url": options.url, "method": options.method.upper(), "openai": options.openai},
        "load": {
            "mode": options.mode,
            "connections": options.connections,
            "duration_s": options.duration,
            "streams": options.streams,
            "rate_per_s": options.rate,
            "warmup_s": options.warmup,
            "processes": processes,
            "loop": loop,
            "keep_alive": options.keep_alive,
        },
        "elapsed_s": round(elapsed, 6),
        "interrupted": result.interrupted,
        "streams": {
            "started": stats.started,
            "completed": stats.completed,
            "failed": stats.failed,
            "cut_at_end": stats.cut,
            "reconnections": stats.reconnections,
            "delayed_arrivals": stats.delayed,
        },
        "connections": {
            "opened": stats.connections_opened,
            "reused": stats.connections_reused,
            "retried": stats.keepalive_retries,
        },
        "events": {
            "total": stats.events,
            "per_s": round(per_s, 3),
            "per_s_per_connection": _per(per_s, connections),
        },
        "bytes": {
            "total": stats.bytes,
            "mb_per_s": round(mb_per_s, 6),
            "mb_per_s_per_connection": _per(mb_per_s, connections, digits=6),
        },
        "latency_ms": {name: getattr(stats, name).summary() for name, _ in _LATENCIES},
        "errors": dict(sorted(stats.errors.items())),
        "timeline": {
            "interval_s": 1.0,
            "events": list(stats.timeline_events),
            "bytes": list(stats.timeline_bytes),
        },
        "client": _client(result),
    }
    report["tokens"] = _tokens(result, options) if options.openai else None
    return report


def _per(value: float, connections: int | None, digits: int = 3) -> float | None:
    return round(value / connections, digits) if connections else None


def _tokens(result: RunResult, options: LoadOptions) -> dict[str, Any]:
    stats, elapsed = result.stats, result.elapsed
    tpot = stats.tpot.percentile(50) / 1e6
    return {
        "total": stats.tokens,
        "per_s": round(stats.tokens / elapsed, 3) if elapsed > 0 else 0.0,
        "per_s_per_stream": round(1.0 / tpot, 3) if tpot > 0 else None,
        "latency_ms": {name: getattr(stats, name).summary() for name, _ in _TOKEN_LATENCIES},
    }


def _client(result: RunResult) -> dict[str, Any]:
    processes = [
        {"cpu_s": round(p.cpu, 3), "wall_s": round(p.wall, 3), "cpu_percent": round(p.percent, 1)}
        for p in result.cpu
    ]
    limited = any(p.percent >= CPU_LIMIT_PERCENT for p in result.cpu)
    warnings = []
    if limited:
        warnings.append(
            f"a client process used {max(p.percent for p in result.cpu):.0f} % of a core: the "
            "client, not the server, may be the limit; try --processes "
            f"{len(result.cpu) + 1} (or more, up to the free cores)"
        )
    return {"processes": processes, "cpu_limited": limited, "warnings": warnings}


# -- text ------------------------------------------------------------------------------------


def format_text(report: dict[str, Any]) -> str:
    """The report for a human: throughput, latencies, errors, the client's own CPU."""
    lines = [
        *_run_lines(report),
        "",
        *_volume_lines(report),
        "",
        *_latency_lines(report),
        "",
        *_client_lines(report),
    ]
    return "\n".join(lines) + "\n"


def _run_lines(report: dict[str, Any]) -> list[str]:
    """The target, the load's shape, and what became of the streams and connections."""
    load, streams = report["load"], report["streams"]
    lines = [f"{report['target']['method']} {report['target']['url']}"]
    shape = (
        f"closed loop, {load['connections']} connections"
        if load["mode"] == "closed"
        else f"open loop, {load['rate_per_s']:g} streams/s"
        + (f", at most {load['connections']} at once" if load["connections"] else "")
    )
    lines.append(
        f"  {shape}, {report['elapsed_s']:.2f} s measured"
        + (f" after {load['warmup_s']:g} s warm-up" if load["warmup_s"] else "")
        + f", {load['processes']} process{'es' if load['processes'] > 1 else ''}, "
        f"loop {load['loop']}" + (" (interrupted)" if report["interrupted"] else "")
    )
    lines.append(
        f"  streams: {streams['started']} started, {streams['completed']} completed, "
        f"{streams['failed']} failed, {streams['cut_at_end']} cut at the end, "
        f"{streams['reconnections']} reconnections"
        + (f", {streams['delayed_arrivals']} delayed" if streams["delayed_arrivals"] else "")
    )
    connections = report["connections"]
    lines.append(
        f"  connections: {connections['opened']} opened, {connections['reused']} reused"
        + (" (keep-alive)" if load["keep_alive"] else " (keep-alive off)")
        + (f", {connections['retried']} retried" if connections["retried"] else "")
    )
    return lines


def _volume_lines(report: dict[str, Any]) -> list[str]:
    """Events, megabytes and (for OpenAI streams) tokens: totals and rates."""
    events, size, tokens = report["events"], report["bytes"], report["tokens"]
    lines = [
        f"  events   {events['total']:>12,}  {events['per_s']:>14,.1f}/s"
        + _per_text(events["per_s_per_connection"], "/s per connection", ",.1f"),
        f"  MB       {size['total'] / 1e6:>12,.2f}  {size['mb_per_s']:>12,.3f} MB/s"
        + _per_text(size["mb_per_s_per_connection"], " MB/s per connection", ",.4f"),
    ]
    if tokens is not None:
        lines.append(
            f"  tokens   {tokens['total']:>12,}  {tokens['per_s']:>14,.1f}/s"
            + _per_text(tokens["per_s_per_stream"], "/s per stream", ",.1f")
        )
    return lines


def _latency_lines(report: dict[str, Any]) -> list[str]:
    """The latency table: a row per measure, p50 to max in milliseconds, and the count."""
    lines = [f"  {'latency (ms)':<22}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'count':>10}"]
    rows = [(label, report["latency_ms"][name]) for name, label in _LATENCIES]
    tokens = report["tokens"]
    if tokens is not None:
        rows += [(label, tokens["latency_ms"][name]) for name, label in _TOKEN_LATENCIES]
    for label, summary in rows:
        lines.append(
            f"  {label:<22}"
            + "".join(f"{summary[key]:>10.3f}" for key in ("p50", "p90", "p99", "max"))
            + f"{summary['count']:>10}"
        )
    return lines


def _client_lines(report: dict[str, Any]) -> list[str]:
    """Errors by kind, the client's own CPU, and the warnings."""
    errors, client = report["errors"], report["client"]
    lines = [
        "  errors: " + (", ".join(f"{kind} {n}" for kind, n in errors.items()) or "none"),
        "  client CPU: "
        + ", ".join(f"{p['cpu_percent']:.0f} %" for p in client["processes"])
        + " of a core",
    ]
    lines.extend(f"  warning: {text}" for text in client["warnings"])
    return lines


def _per_text(value: float | None, unit: str, spec: str) -> str:
    return "" if value is None else f"  ({value:{spec}}{unit})"
