"""Smoke tests of bench/sse.py and bench/alignment.py: they run, and their checks hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(script: str, *args: str) -> str:
    """Run a bench script quickly; assert it exits 0 (its own checks passed); return stdout."""
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_sse_benchmark_runs_and_contestants_agree() -> None:
    output = _run("sse.py", "--rounds", "1", "--scale", "0.002")
    assert "MISMATCH" not in output
    for corpus in ("openai", "tiny", "multiline", "responses", "large"):
        assert f"## {corpus}:" in output
    assert "reactsse" in output


def test_alignment_benchmark_runs() -> None:
    """bench/alignment.py decodes every event at every alignment (it asserts the counts)."""
    output = _run("alignment.py", "--rounds", "1", "--scale", "0.02")
    assert output.count("\n| ") == 9  # the header and one row per first-read size
