"""The sans-IO cores import no socket, clock, loop or thread.

Walks the import statements of ``reactsse.sse``, ``reactsse.http`` and the OpenAI accumulators
(and, transitively, of the package modules they import) and fails if any of them reaches a
forbidden module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reactsse"
FORBIDDEN = {
    "socket",
    "ssl",
    "selectors",
    "select",
    "signal",
    "threading",
    "asyncio",
    "anyio",
    "trio",
    "time",
    "reactsse.loop",
    "reactsse.connector",
    "reactsse.eventsource",
    "reactsse.server",
}
SANS_IO = [
    "reactsse.sse",
    "reactsse.http",
    "reactsse.openai.types",
    "reactsse.openai.payload",
    "reactsse.openai.chat",
    "reactsse.openai.responses",
    "reactsse.openai.request",
]


def _module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "reactsse":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = _module_path(current)
        if path is not None:
            todo.extend(_imports(path))
    return seen


@pytest.mark.parametrize("module", SANS_IO)
def test_sans_io_module_imports_no_io(module: str) -> None:
    assert _module_path(module) is not None, f"{module} is missing"
    reached = _closure(module)
    bad = sorted(
        name
        for name in reached
        for forbidden in FORBIDDEN
        if name == forbidden or name.startswith(forbidden + ".")
    )
    assert not bad, f"{module} reaches I/O modules: {bad}"


def test_loop_knows_nothing_of_http_or_sse() -> None:
    reached = _closure("reactsse.loop")
    assert not {n for n in reached if n.startswith(("reactsse.sse", "reactsse.http", "h11"))}


def test_only_the_aio_package_imports_anyio() -> None:
    """``reactsse.aio`` is the one layer that embeds the loop in async programs; the loop below it
    (and everything else) stays free of anyio and its backends."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if module == "reactsse.aio" or module.startswith("reactsse.aio."):
            continue
        bad = {
            name
            for name in _imports(path)
            for foreign in ("anyio", "trio", "uvloop", "reactsse.aio")
            if name == foreign or name.startswith(foreign + ".")
        }
        if bad:
            offenders.append((module, sorted(bad)))
    assert not offenders
    reached = _closure("reactsse.loop")
    assert not {n for n in reached if n.startswith(("anyio", "trio", "reactsse.aio"))}
