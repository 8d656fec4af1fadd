"""``render_html``: the report as one self-contained page (inline CSS and SVG, no asset).

The page works offline and from a mail attachment: no script, no font, no stylesheet or image
is fetched, and the SVG is inline HTML5 (no namespace URL needed). The only URL on the page is
the target's. Two charts: throughput over time (events/s per second of the measured window) and
the latency percentiles of each latency the report measures.
"""

from __future__ import annotations

import html
import json
from typing import Any

from reactsse.loadgen.report import format_text

__all__ = ["render_html"]

_WIDTH, _HEIGHT, _PAD = 720, 260, 48
_PERCENTILES = ("p50", "p90", "p99", "p999", "max")
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def render_html(report: dict[str, Any]) -> str:
    """The whole page for ``report`` (the document ``build_report`` returns)."""
    title = f"reactsse bench: {report['target']['url']}"
    latencies = dict(report["latency_ms"])
    if report.get("tokens"):
        latencies.update(report["tokens"]["latency_ms"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
svg {{ background: #fff; border: 1px solid #ddd; }}
svg text {{ font-size: 11px; fill: #444; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Throughput over time</h2>
{_throughput_chart(report["timeline"]["events"], report["timeline"]["interval_s"])}
<h2>Latency percentiles</h2>
{_latency_chart(latencies)}
<h2>Report</h2>
<pre>{html.escape(format_text(report))}</pre>
<h2>JSON</h2>
<pre id="json">{html.escape(json.dumps(report, indent=1))}</pre>
</body></html>
"""


def _throughput_chart(events: list[int], interval: float) -> str:
    rates = [count / interval for count in events] or [0.0]
    top = max(rates) or 1.0
    inner_w, inner_h = _WIDTH - 2 * _PAD, _HEIGHT - 2 * _PAD
    step = inner_w / max(1, len(rates) - 1)
    points = " ".join(
        f"{_PAD + i * step:.1f},{_HEIGHT - _PAD - rate / top * inner_h:.1f}"
        for i, rate in enumerate(rates)
    )
    return (
        f'<svg class="chart" id="throughput" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="events per second over time">'
        + _axes(f"{top:,.0f} events/s", f"{len(rates) * interval:g} s")
        + f'<polyline fill="none" stroke="{_COLOURS[0]}" stroke-width="2" points="{points}"/>'
        + "</svg>"
    )


def _latency_chart(latencies: dict[str, dict[str, float]]) -> str:
    shown = {name: summary for name, summary in latencies.items() if summary["count"]}
    top = max((summary["max"] for summary in shown.values()), default=0.0) or 1.0
    inner_w, inner_h = _WIDTH - 2 * _PAD, _HEIGHT - 2 * _PAD
    step = inner_w / (len(_PERCENTILES) - 1)
    parts = [_axes(f"{top:,.3f} ms", "percentile")]
    for i, label in enumerate(_PERCENTILES):
        x = _PAD + i * step
        parts.append(f'<text x="{x:.1f}" y="{_HEIGHT - _PAD + 14}">{label}</text>')
    for n, (name, summary) in enumerate(shown.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        points = " ".join(
            f"{_PAD + i * step:.1f},{_HEIGHT - _PAD - summary[key] / top * inner_h:.1f}"
            for i, key in enumerate(_PERCENTILES)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        parts.append(
            f'<text x="{_WIDTH - _PAD - 90}" y="{_PAD + 14 * n}" style="fill:{colour}">'
            f"{html.escape(name)}</text>"
        )
    return (
        f'<svg class="chart" id="latency" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="latency percentiles">'
        + "".join(parts)
        + "</svg>"
    )


def _axes(top_label: str, right_label: str) -> str:
    bottom, right = _HEIGHT - _PAD, _WIDTH - _PAD
    return (
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{bottom}" stroke="#888"/>'
        f'<line x1="{_PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        f'<text x="{_PAD}" y="{_PAD - 8}">{html.escape(top_label)}</text>'
        f'<text x="{right - 40}" y="{bottom + 30}">{html.escape(right_label)}</text>'
    )
