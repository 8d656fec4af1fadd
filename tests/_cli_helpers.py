"""What the CLI tests share: running ``python -m reactsse`` as a user would, in a clean env."""

from __future__ import annotations

import os
import subprocess
import sys


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """``python -m reactsse ARGS``: no OPENAI_* variable of the caller's, no colour, UTF-8."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    full_env["NO_COLOR"] = "1"
    full_env["PYTHONIOENCODING"] = "utf-8"
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reactsse", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=full_env,
    )
