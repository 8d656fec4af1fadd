"""Before and after: every benchmark on an older commit and on this tree, one after the other.

Usage (from the repository root, with the ``bench`` extra installed)::

    python bench/ab.py REV                      # REV: the commit to compare against
    python bench/ab.py REV --only sse,client    # a subset
    python bench/ab.py REV --out DIR            # where the outputs go (default: a temp dir)

For each script, the older commit's copy runs first and this tree's right after it, each in its
own process with its own tree first on ``sys.path``, so the two runs share the machine's state
as closely as two runs can. Each script already runs its contestants side by side and prints
medians; compare the two outputs' ratios to the peers first, then the absolute figures. The
older tree is a ``git worktree`` made for the run and removed after it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCRIPTS = ["loop", "sse", "http_body", "connector", "client", "alignment", "server"]


def _run(tree: Path, name: str, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with out.open("w") as file:
        subprocess.run(
            [sys.executable, f"bench/{name}.py"], cwd=tree, env=env, stdout=file, check=False
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the older commit")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(SCRIPTS))
    parser.add_argument("--out", type=Path, help="directory for the outputs")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else SCRIPTS
    out = args.out or Path(tempfile.mkdtemp(prefix="reactsse-ab-"))
    out.mkdir(parents=True, exist_ok=True)
    older = Path(tempfile.mkdtemp(prefix="reactsse-ab-tree-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(older), args.rev], cwd=ROOT, check=True
    )
    try:
        for name in names:
            for label, tree in (("before", older), ("after", ROOT)):
                print(f"{name}: {label}", flush=True)
                _run(tree, name, out / f"{name}.{label}.txt")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(older)], cwd=ROOT, check=False)
    print(f"outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
