"""The hostile suite's fixtures, and the record of each case for docs/reliability.md.

Every case in this directory is recorded: its fault (the docstring's first line), its expected
outcome (the docstring's ``Expected:`` paragraph), what was observed (the ``observed`` fixture's
notes, and whether the case passed) and, when ``REACTSSE_RELIABILITY_RESULTS`` names a file, the
records are written there as JSON at the end of the run (``tests/hostile/report.py`` does that
and renders the table). Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from reactsse.loop import VirtualTimeLoop

RESULTS_ENV = "REACTSSE_RELIABILITY_RESULTS"

_OBSERVED = pytest.StashKey[list[str]]()
_RECORDS = pytest.StashKey[dict[str, dict[str, Any]]]()


def describe(doc: str | None) -> tuple[str, str]:
    """(fault, expected) from a case's docstring: its first line, and its ``Expected:``
    paragraph (the lines from ``Expected:`` up to a blank line)."""
    if not doc:
        return "(no description)", "(not stated)"
    lines = [line.strip() for line in doc.strip().splitlines()]
    fault = lines[0]
    expected: list[str] = []
    for line in lines[1:]:
        if expected:
            if not line:
                break
            expected.append(line)
        elif line.startswith("Expected:"):
            expected.append(line[len("Expected:") :].strip())
    return fault, " ".join(expected) if expected else "(not stated)"


@pytest.fixture
def observed(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``observed(text)``: a note of what the case saw, shown in docs/reliability.md."""
    return request.node.stash.setdefault(_OBSERVED, []).append


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    """A loop on virtual time: delays and timeouts pass at once, to the exact tick. The
    threshold is the real time it waits for a peer thread's bytes before it jumps."""
    loop = VirtualTimeLoop(autojump_threshold=0.25)
    yield loop
    loop.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    records = item.config.stash.setdefault(_RECORDS, {})
    if report.when == "setup" and report.passed:
        return
    if report.when == "teardown" and report.passed:
        return
    fault, expected = describe(getattr(getattr(item, "obj", None), "__doc__", None))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        fault = f"{fault} [{callspec.id}]"
    record = records.setdefault(
        item.nodeid,
        {
            "module": item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1],
            "case": item.name,
            "fault": fault,
            "expected": expected,
            "outcome": "passed",
            "observed": [],
            "detail": "",
        },
    )
    record["observed"] = list(item.stash.get(_OBSERVED, []))
    if report.failed:
        record["outcome"] = "failed"
        record["detail"] = report.longreprtext.strip().splitlines()[-1:] or [""]
        record["detail"] = record["detail"][0][:300]
    elif report.skipped and record["outcome"] == "passed":
        record["outcome"] = "skipped"
        if isinstance(report.longrepr, tuple):
            record["detail"] = str(report.longrepr[2])[:300]


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(RESULTS_ENV)
    records = session.config.stash.get(_RECORDS, {})
    if target and records:
        Path(target).write_text(json.dumps(list(records.values()), indent=1), encoding="utf-8")
