"""Keep README's excerpt of ``reactsse demo --trace`` real: run the demo, cut the excerpt.

    python docs/make_trace_excerpt.py           # rewrite the excerpt in README.md
    python docs/make_trace_excerpt.py --check   # exit 1 if README's excerpt differs from a run

The excerpt is the trace (stderr, as piped: no colours, lines of at most 100 characters) from
the first line to the third typed delta, unedited. Two runs differ only in the server's port,
so ``--check`` compares with the port numbers masked. How the kernel splits the first bytes
into reads can vary on a busy machine, so ``--check`` tries a few fresh runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- trace-excerpt:begin (docs/make_trace_excerpt.py writes this) -->"
END = "<!-- trace-excerpt:end -->"
COMMAND = ["demo", "--trace"]
DELTAS = 3
ATTEMPTS = 3
_PORT = re.compile(r"127\.0\.0\.1:\d+")


def fresh_excerpt() -> str:
    """The trace of one fresh demo run, from its first line to the third typed delta."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "reactsse", *COMMAND],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    lines = [
        line for line in result.stderr.splitlines() if line[:2] in ("* ", "> ", "< ", "| ", "= ")
    ]
    deltas = [i for i, line in enumerate(lines) if line.startswith("= openai ")]
    return "\n".join(lines[: deltas[DELTAS - 1] + 1]) + "\n"


def block(excerpt: str) -> str:
    return f"{BEGIN}\n```console\n$ reactsse {' '.join(COMMAND)}\n{excerpt}...\n```\n{END}"


def readme_block(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    current = readme_block(text)
    if "--check" in argv:
        for _ in range(ATTEMPTS):
            if _PORT.sub("127.0.0.1:PORT", block(fresh_excerpt())) == _PORT.sub(
                "127.0.0.1:PORT", current
            ):
                return 0
        print("README.md's trace excerpt differs from a fresh run:", file=sys.stderr)
        print("run python docs/make_trace_excerpt.py to rewrite it", file=sys.stderr)
        return 1
    README.write_text(text.replace(current, block(fresh_excerpt())), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
