"""The page at ``GET /`` in a real headless Chromium (Debian's ``chromium``, driven by Playwright
from PyPI with ``executable_path`` at the system browser), against ``reactsse serve --rate``.

With ``CI=true`` a missing browser or Playwright fails these tests; elsewhere they skip, saying
why. ``REACTSSE_SAVE_SCREENSHOT=1`` writes the screenshots to ``docs/images/`` (the README shows
them); otherwise they go to the test's temporary directory, so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reactsse.openai import OpenAIClient

RATE = 25.0  # tokens per second: slow enough to watch tokens arrive one by one
PROMPT = "Tell me how Alice's adventure begins."
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def _browser_or_reason() -> tuple[str | None, str]:
    executable = os.environ.get("REACTSSE_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        return None, "no chromium on PATH (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "the playwright package is not installed (pip install playwright)"
    return executable, ""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable, reason = _browser_or_reason()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reactsse", "serve", "--port", "0", "--rate", str(RATE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("reactsse server listening on http://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def expected(server_url: str) -> str:
    """The mock's deterministic answer, read straight from its /v1 endpoint."""
    client = OpenAIClient(base_url=server_url + "/v1", api_key="")
    with client.iter_chat(PROMPT, model="m") as deltas:
        return "".join(delta.content or "" for delta in deltas)


def open_page(chromium: Any, url: str, width: int = 1280, height: int = 900) -> Any:
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(20_000)
    page.goto(url)
    page.fill("#prompt", PROMPT)
    return page


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("REACTSSE_SAVE_SCREENSHOT") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        return IMAGES / name
    return tmp_path / name


def wait_done(page: Any) -> None:
    # Arrow functions, not expression strings: the page's CSP forbids eval.
    page.wait_for_function("() => document.body.dataset.state !== 'streaming' "
                           "&& document.body.dataset.state !== 'connecting' "
                           "&& document.body.dataset.state !== 'reconnecting'")  # fmt: skip


def test_the_answer_arrives_token_by_token_with_its_raw_frames(
    chromium: Any, server_url: str, expected: str, tmp_path: Path
) -> None:
    requests: list[str] = []
    page = open_page(chromium, server_url + "/")
    page.on("request", lambda request: requests.append(request.url))
    page.click("#go")
    page.wait_for_function("() => window.relayLog.arrivals.length >= 1")
    early = page.inner_text("#answer")
    assert 0 < len(early) < len(expected) / 2  # the first token is shown long before the last
    # Mid-stream, with the frames panel open: the screenshot the README shows.
    page.wait_for_function("() => window.relayLog.arrivals.length >= 30")
    page.wait_for_function("() => document.querySelectorAll('.parsed .pending').length === 0")
    page.screenshot(path=str(screenshot_path("page.png", tmp_path)))
    wait_done(page)
    assert page.get_attribute("body", "data-state") == "done"
    assert page.inner_text("#answer") == expected
    log = page.evaluate("() => window.relayLog")
    tokens = len(log["arrivals"])
    # Paced at RATE tokens/s: arrivals spread over (most of) the schedule, not in one burst.
    spread_ms = log["arrivals"][-1] - log["arrivals"][0]
    assert spread_ms >= 0.6 * (tokens - 1) / RATE * 1000
    assert page.inner_text("#tokens") == str(tokens)
    assert page.inner_text("#ttft").endswith(" ms")
    key = log["ids"][0].split(":")[0]
    ids = [f"{key}:{n}" for n in range(1, tokens + 2)]  # the tokens, then the done event
    assert log["ids"] == ids
    assert page.inner_text("#current-id") == ids[-1]
    # The frames panel: one row per event, the raw lines beside what EventSource dispatched.
    page.wait_for_function(
        f"() => document.querySelectorAll('.frame[data-id]').length === {len(ids)}"
    )
    rows = page.eval_on_selector_all(
        ".frame[data-id]",
        "rows => rows.map(r => [r.dataset.id, r.querySelector('.raw').innerText, "
        "r.querySelector('.parsed').innerText])",
    )
    assert [row[0] for row in rows] == ids
    assert rows[0][1].startswith(f"event: token\nid: {ids[0]}\nretry: 1000\ndata: ")
    for row_id, raw, parsed in rows:
        assert f"\nid: {row_id}\n" in raw and raw.endswith("⏎")
        assert f'lastEventId "{row_id}"' in parsed
    assert rows[-1][1].startswith("event: done\n") and 'type "done"' in rows[-1][2]
    colours = page.eval_on_selector_all(
        ".frame[data-id] .raw > span[class^='f-']",
        "spans => [...new Set(spans.map(s => s.className + '=' + getComputedStyle(s).color))]",
    )
    assert len({c.split("=")[1] for c in colours}) >= 4  # id, event, data, retry: each its own
    assert all(url.startswith(server_url) for url in requests), requests  # no external asset
    page.close()


def test_a_cut_stream_resumes_with_last_event_id_without_duplicate_or_gap(
    chromium: Any, server_url: str, expected: str
) -> None:
    page = open_page(chromium, server_url + "/?cut_after=20")
    page.click("#go")
    wait_done(page)
    assert page.get_attribute("body", "data-state") == "done"
    assert page.inner_text("#answer") == expected
    log = page.evaluate("() => window.relayLog")
    key = log["ids"][0].split(":")[0]
    assert log["ids"] == [f"{key}:{n}" for n in range(1, len(log["ids"]) + 1)]
    # The relay cut every connection after 20 events (its access log says each sent 20), and
    # EventSource came back with the last id it had. Which id that is, is Chromium's: a cut
    # ends the chunked body mid-way, a network error, and under load Chromium may report it
    # before it hands the page the last events read, which then never reach the page. It comes
    # back with an earlier id, and the relay replays from there: the ids above stay contiguous.
    cuts = (len(log["ids"]) - 1) // 20
    numbers = [int(last.split(":")[1]) for last in log["reconnects"]]
    assert all(last.startswith(f"{key}:") for last in log["reconnects"])
    assert len(numbers) >= cuts and numbers == sorted(numbers)
    assert all(1 <= number <= 20 * cuts for number in numbers)
    # The frames panel shows the learner one row per reconnect, with the id it came back with.
    lost = page.eval_on_selector_all(".frame.conn.lost", "rows => rows.map(r => r.innerText)")
    for row, last in zip(lost, log["reconnects"], strict=True):
        assert f"reconnecting with Last-Event-ID: {last}" in row
    page.close()


def test_an_upstream_error_is_shown_and_the_phone_layout_fits(
    chromium: Any, server_url: str, tmp_path: Path
) -> None:
    page = open_page(chromium, server_url + "/?fault=error-after=40", width=390, height=844)
    page.click("#go")
    page.wait_for_function("() => window.relayLog.arrivals.length >= 12")
    page.screenshot(path=str(screenshot_path("page-phone.png", tmp_path)))
    # Nothing is wider than the phone's screen: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    wait_done(page)
    assert page.get_attribute("body", "data-state") == "error"
    assert "Injected fault: error mid-stream." in page.inner_text("#notice")
    assert page.evaluate("() => window.relayLog.errors[0].type") == "server_error"
    page.close()
