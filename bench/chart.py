"""Draw the headline benchmark ratios from bench/RESULTS.md as a PNG for the README.

Usage (from the repository root, with the ``bench`` extra, which brings matplotlib)::

    python bench/chart.py                  # writes docs/bench-ratios.png
    python bench/chart.py --print          # the ratios it read, no drawing

The figures are read from the hand-written "Targets, met or missed" part of bench/RESULTS.md
(the tables and sentences that quote ``python bench/run_all.py``'s medians), never typed in
here: after a new run and its write-up, rerun this script. A ratio it cannot find is an error,
so a change of RESULTS.md's wording cannot silently drop a bar.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
OUTPUT = BENCH.parent / "docs" / "bench-ratios.png"

# (group, label, the table whose first cell starts with it, or a sentence pattern)
_TABLE_ROWS = [
    ("event loop vs asyncio", "future ticks", "future ticks"),
    ("event loop vs asyncio", "zero-interval timers", "zero-interval timers"),
    ("event loop vs asyncio", "socket ping-pong", "socketpair ping-pong"),
    ("SSE decoding vs httpx-sse (16 KiB chunks)", "OpenAI chunks", "OpenAI chat chunks"),
    ("SSE decoding vs httpx-sse (16 KiB chunks)", "tiny events", "tiny (`data: x`)"),
    ("SSE decoding vs httpx-sse (16 KiB chunks)", "multi-line CRLF", "multi-line, CRLF"),
    ("SSE decoding vs httpx-sse (16 KiB chunks)", "Responses events", "Responses API named"),
    ("end to end vs the fastest peer", "OpenAI (events/s)", "OpenAI |"),
    ("end to end vs the fastest peer", "tiny (events/s)", "tiny |"),
    ("end to end vs the fastest peer", "multi-line (events/s)", "multi-line |"),
    ("end to end vs the fastest peer", "64 KiB events (MB/s)", "large (64 KiB events)"),
]
_SENTENCES = [
    (
        "HTTP and typed layers",
        "batch de-chunker vs h11",
        r"The batch de-chunker against h11's own chunked reader: ([\d.]+)×",
    ),
    (
        "HTTP and typed layers",
        "typed deltas vs openai SDK",
        r"is ([\d.]+)× the openai SDK's events/s",
    ),
]
_RATIO = re.compile(r"([\d.]+)×")


def read_ratios(text: str) -> list[tuple[str, str, float]]:
    """(group, label, ratio) for every headline figure, in the chart's order."""
    targets = text.split("## Targets, met or missed", 1)[-1].split("## Raw output", 1)[0]
    rows = [line for line in targets.splitlines() if line.startswith("| ")]
    found: list[tuple[str, str, float]] = []
    for group, label, start in _TABLE_ROWS:
        row = next((r for r in rows if r[2:].replace(" | ", " |", 1).startswith(start)), None)
        match = None if row is None else _RATIO.search(row.split("|", 2)[2])
        if match is None:
            raise SystemExit(f"bench/chart.py: no ratio for {start!r} in {RESULTS.name}")
        found.append((group, label, float(match.group(1))))
    for group, label, pattern in _SENTENCES:
        match = re.search(pattern, targets)
        if match is None:
            raise SystemExit(f"bench/chart.py: no ratio for {label!r} in {RESULTS.name}")
        found.append((group, label, float(match.group(1))))
    return found


def draw(ratios: list[tuple[str, str, float]], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    groups = list(dict.fromkeys(group for group, _, _ in ratios))
    colours = dict(zip(groups, ["#4c72b0", "#55a868", "#c44e52", "#8172b2"], strict=False))
    labels = [label for _, label, _ in ratios][::-1]
    values = [value for _, _, value in ratios][::-1]
    bar_colours = [colours[group] for group, _, _ in ratios][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(ratios) + 2.0), dpi=110)
    bars = ax.barh(labels, values, color=bar_colours)
    ax.set_xscale("log")
    ax.axvline(1.0, color="#333333", linewidth=1)
    ax.text(1.0, len(ratios) - 0.4, " the peer = 1×", va="bottom", fontsize=8)
    for bar, value in zip(bars, values, strict=True):
        ax.text(value * 1.04, bar.get_y() + bar.get_height() / 2, f"{value:g}×", va="center")
    ax.set_xlim(0.8, max(values) * 1.6)
    ticks = [t for t in (1, 2, 5, 10, 20, 50) if t < max(values) * 1.6]
    ax.set_xticks(ticks, [f"{t}×" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("reactsse ÷ the comparison (higher is faster; log scale)")
    ax.set_title("reactsse's benchmark ratios (bench/RESULTS.md)")
    handles = [Rectangle((0, 0), 1, 1, color=colours[g]) for g in groups]
    ax.legend(handles, groups, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the ratios, draw nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    ratios = read_ratios(RESULTS.read_text(encoding="utf-8"))
    if args.print:
        for group, label, value in ratios:
            print(f"{group}: {label}: {value:g}×")
        return 0
    draw(ratios, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
