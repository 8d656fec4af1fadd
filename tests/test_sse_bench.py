"""Smoke test of bench/sse.py: it runs, and every contestant sees the same number of events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "sse.py"


def test_sse_benchmark_runs_and_contestants_agree() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--scale", "0.002"],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISMATCH" not in result.stdout
    for corpus in ("openai", "tiny", "multiline", "responses", "large"):
        assert f"## {corpus}:" in result.stdout
    assert "reactsse" in result.stdout


def test_alignment_benchmark_runs() -> None:
    """bench/alignment.py decodes every event at every alignment (it asserts the counts)."""
    script = BENCH.parent / "alignment.py"
    result = subprocess.run(
        [sys.executable, str(script), "--rounds", "1", "--scale", "0.02"],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\n| ") == 9  # the header and one row per first-read size
