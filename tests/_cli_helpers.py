"""What the CLI tests share: running ``python -m reactsse`` as a user would, in a clean env."""

from __future__ import annotations

import os
import signal
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


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[str, str]:
    """Send ``sig`` to a running ``reactsse`` process, wait (bounded; killed after 20 s), and
    return what it wrote to stdout and stderr.

    Not ``communicate()``: it reads the raw pipes, and would miss lines that a caller's
    ``readline()`` already pulled into the text buffer (they come in one read on a busy machine).
    """
    assert process.stdout is not None and process.stderr is not None
    process.send_signal(sig)
    try:
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with process.stdout, process.stderr:
        return process.stdout.read(), process.stderr.read()
