"""The layers: imports point down them; the sans-IO cores import no socket, clock, loop or
thread; no private name leaks, by import or by attribute; a module, class or function over the
size guide says why.

Walks the import statements of ``reactsse.sse``, ``reactsse.http`` and the OpenAI accumulators
(and, transitively, of the package modules they import) and fails if any of them reaches a
forbidden module.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h11
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
    "reactsse.sse.tool",
    "reactsse.http",
    "reactsse.openai.types",
    "reactsse.openai.payload",
    "reactsse.openai.chat",
    "reactsse.openai.completions",
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
            # "from reactsse.http import connection" imports a submodule: follow it too.
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _module_path(f"{node.module}.{alias.name}") is not None
            )
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


def test_submodule_imports_are_followed(tmp_path: Path) -> None:
    """``from package import module`` reaches the module (so that no I/O hides behind it)."""
    source = tmp_path / "m.py"
    source.write_text("from reactsse.http import connection, ClientConnection\n", encoding="utf-8")
    assert _imports(source) == {"reactsse.http", "reactsse.http.connection"}


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


@pytest.mark.parametrize("module", ["reactsse.sse", "reactsse.http", "reactsse.openai.chat"])
def test_importing_a_sans_io_layer_loads_no_io(module: str) -> None:
    """What the static walk cannot see: importing a layer runs the package's ``__init__`` first,
    which must not pull in the rest of the stack (it re-exports lazily).

    ``python -S``: no site hooks (a ``.pth`` file may import threading at start-up), with only
    this checkout and h11 on the path. What the interpreter itself loads before any import
    (``time`` is built in) cannot be seen, and the probe says which those are."""
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        "print(json.dumps([sorted(before), sorted(set(sys.modules) - before)]))\n"
    )
    path = os.pathsep.join([str(PACKAGE.parent), str(Path(h11.__file__).parent.parent)])
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    before, loaded = json.loads(result.stdout)
    assert module in loaded  # the probe saw the import happen
    assert set(before) & FORBIDDEN <= {"time"}  # the rest could be seen if it were loaded
    bad = [
        name
        for name in loaded
        for forbidden in FORBIDDEN
        if name == forbidden or name.startswith(forbidden + ".")
    ]
    assert not bad, f"import {module} loads {bad}"


@pytest.mark.parametrize("package", ["reactsse", "reactsse.openai"])
def test_lazy_reexports_resolve_every_public_name(package: str) -> None:
    """Each name in ``__all__`` is there on first use, is the object its home defines, and is
    listed by ``dir()``; any other name is an ``AttributeError`` that names it."""
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert name in dir(module)
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and home.startswith("reactsse."):
            assert getattr(importlib.import_module(home), name) is value
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        getattr(module, "nothing_here")  # noqa: B009 - a name only known at run time


def test_a_submodule_is_an_attribute_of_its_lazy_package() -> None:
    """``import reactsse`` then ``reactsse.sse`` (and ``reactsse.openai.client``) work as they
    did when the package imported them eagerly: in a fresh interpreter, nothing imported yet."""
    probe = (
        "import reactsse, reactsse.openai\n"
        "assert reactsse.sse.EventStreamDecoder is reactsse.EventStreamDecoder\n"
        "assert reactsse.loop.StreamSelectLoop and reactsse.connector.connect\n"
        "assert reactsse.openai.client.OpenAIClient is reactsse.openai.OpenAIClient\n"
        "for name in ('nothing_here', 'a.b', '__wrapped__'):\n"
        "    assert not hasattr(reactsse, name), name\n"
    )
    subprocess.run([sys.executable, "-c", probe], timeout=60, check=True)


def test_loop_knows_nothing_of_http_or_sse() -> None:
    reached = _closure("reactsse.loop")
    assert not {n for n in reached if n.startswith(("reactsse.sse", "reactsse.http", "h11"))}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_imports(source: str, importer: str, is_package: bool = False) -> list[str]:
    """Imports in the module ``importer`` (its ``source``) of another module's private names.

    A name with a leading underscore is private to its module; a module with a leading
    underscore is private to its package (its siblings and their subpackages may import it).
    """
    package = importer if is_package else importer.rpartition(".")[0]

    def inside(owner: str) -> bool:
        return package == owner or package.startswith(owner + ".")

    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            modules = [module]
            found.extend(
                f"{importer} imports private name {alias.name!r} from {module}"
                for alias in node.names
                if _is_private(alias.name) and not inside(module)
            )
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for name in modules:
            parts = name.split(".")
            if parts[0] != "reactsse":
                continue
            for index, part in enumerate(parts[1:], start=1):
                owner = ".".join(parts[:index])
                if _is_private(part) and not inside(owner):
                    found.append(f"{importer} imports {name}, private to {owner}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    bad = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in _private_imports(
            path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
        )
    ]
    assert not bad, "\n".join(bad)


def test_the_private_import_check_sees_what_it_must() -> None:
    """The checker itself: it flags foreign private names and modules, and nothing else."""
    assert _module_name(PACKAGE / "sse" / "__init__.py") == "reactsse.sse"
    source = (
        "from reactsse.sse import _hidden\n"
        "from reactsse.http._chunked import Reader\n"
        "import reactsse.http._chunked\n"
        "from reactsse.loop._private import helper\n"
        "from . import _sibling\n"
        "from ._sibling import public\n"
        "from reactsse.loop.timer import Timer\n"
        "from reactsse._version import __version__\n"
        "import reactsse.http\n"
    )
    assert _private_imports(source, "reactsse.loop.probe") == [
        "reactsse.loop.probe imports private name '_hidden' from reactsse.sse",
        "reactsse.loop.probe imports reactsse.http._chunked, private to reactsse.http",
        "reactsse.loop.probe imports reactsse.http._chunked, private to reactsse.http",
    ]


def test_only_the_aio_package_imports_anyio() -> None:
    """``reactsse.aio`` is the one layer that embeds the loop in async programs; the loop below it
    (and everything else) stays free of anyio and its backends. Only the layers above it, the
    command line and the load generator, may use ``reactsse.aio`` itself (``--loop``)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if module == "reactsse.aio" or module.startswith("reactsse.aio."):
            continue
        forbidden = ("anyio", "trio", "uvloop")
        if not module.startswith(("reactsse.cli", "reactsse.loadgen")):
            forbidden += ("reactsse.aio",)
        bad = {
            name
            for name in _imports(path)
            for foreign in forbidden
            if name == foreign or name.startswith(foreign + ".")
        }
        if bad:
            offenders.append((module, sorted(bad)))
    assert not offenders
    reached = _closure("reactsse.loop")
    assert not {n for n in reached if n.startswith(("anyio", "trio", "reactsse.aio"))}


# The size guide of docs/architecture.md: lines a module, a class and a function aim to stay
# under. A bigger one says why in a comment at its top.
SIZE_GUIDE = {"module": 500, "class": 300, "function": 60}


def _oversized(source: str, name: str) -> list[str]:
    """The units of ``source`` over the size guide whose top carries no comment saying why.

    A unit's top runs from its first line to its first statement after the docstring (for a
    module: its first statement after the docstring). A comment line there that is not a tool's
    directive (``noqa``, ``type:``, ``pragma``) counts as the reason.
    """
    lines = source.splitlines()
    tree = ast.parse(source)

    def says_why(first: int, body: list[ast.stmt]) -> bool:
        documented = (
            bool(body)
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        rest = body[1:] if documented else body
        end = rest[0].lineno - 1 if rest else len(lines)
        comments = (line.strip() for line in lines[first:end])
        return any(
            line.startswith("#") and not line[1:].lstrip().startswith(_DIRECTIVES)
            for line in comments
        )

    found: list[str] = []
    if len(lines) > SIZE_GUIDE["module"] and not says_why(0, tree.body):
        found.append(f"{name}: {len(lines)} lines, no comment says why")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            kind = "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind = "function"
        else:
            continue
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        if size > SIZE_GUIDE[kind] and not says_why(node.lineno - 1, node.body):
            found.append(f"{name}: {kind} {node.name}, {size} lines, no comment says why")
    return found


_DIRECTIVES = ("noqa", "type:", "pragma")


def test_units_over_the_size_guide_say_why() -> None:
    bad = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in _oversized(path.read_text(encoding="utf-8"), _module_name(path))
    ]
    assert not bad, "\n".join(bad)


def test_the_size_check_sees_what_it_must() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(70))
    why = "    # Long on purpose: a table of seventy.\n"
    doc = '    """Doc."""\n'
    assert _oversized(f"def f():\n{doc}{body}", "m") == [
        "m: function f, 72 lines, no comment says why"
    ]
    assert _oversized(f"def f():\n{doc}{why}{body}", "m") == []
    assert _oversized("def f():\n    return 1\n", "m") == []
    # A comment further down, or a tool's directive, is no reason.
    assert _oversized(f"def f():\n{body}{why}", "m") != []
    assert _oversized(f"def f():  # noqa: C901\n{body}", "m") != []
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(110))
    assert _oversized(f"class C:\n{methods}", "m") == ["m: class C, 330 lines, no comment says why"]
    assert _oversized(f"class C:\n{doc}\n{why}{methods}", "m") == []
    module = "".join(f"x{i} = {i}\n" for i in range(501))
    assert _oversized(f'"""Doc."""\n{module}', "m") == ["m: 502 lines, no comment says why"]
    assert _oversized(f'"""Doc."""\n\n# Long on purpose: a table.\n{module}', "m") == []
    assert _oversized(f'"""Doc."""\nURL = "http://x/#frag"\n{module}', "m") != []


# The layers of docs/architecture.md, bottom up: a module may import from its own package and
# from the packages of lower rows, never from a higher row or the other package of its row.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "_version", "_lazy"),
    ("loop",),
    ("sse", "http"),
    ("connector",),
    ("eventsource",),
    ("openai",),
    ("server",),
    ("mock",),
    ("aio",),
    ("relay", "loadgen"),
    ("cli",),
]
# The one upward import, lazy and documented: a server built with no app serves the mock.
UPWARD_ALLOWED = {("server", "mock")}


def _layer_violations(source: str, package: str) -> list[str]:
    """Imports in a module of the top-level ``package`` that point up or across the layers;
    an import inside a function is lazy, and only a lazy import may be an allowed exception."""
    rank = {name: row for row, names in enumerate(LAYERS) for name in names}
    tree = ast.parse(source)
    lazy = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for inner in ast.walk(node)
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "reactsse":
            # "from reactsse import X": the package's face, which imports every layer.
            names = [f"reactsse.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "reactsse" or len(parts) < 2 or parts[1] == package:
                continue
            target = parts[1]
            if rank.get(target, len(LAYERS)) < rank[package]:
                continue
            if (package, target) in UPWARD_ALLOWED and id(node) in lazy:
                continue
            found.append(f"{package} imports {name} (line {node.lineno})")
    return found


def test_imports_point_down_the_layers() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts in (("__init__",), ("__main__",)):
            continue  # the package's face: it re-exports, and runs the command line
        bad += _layer_violations(path.read_text(encoding="utf-8"), parts[0])
    assert not bad, "\n".join(bad)


def test_the_layer_check_sees_what_it_must() -> None:
    assert {name for row in LAYERS for name in row} == {
        path.stem
        for path in PACKAGE.iterdir()
        if path.stem not in ("__init__", "__main__")
        if path.suffix == ".py" or (path / "__init__.py").exists()
    }
    assert _layer_violations("from reactsse.eventsource import EventSource\n", "connector") == [
        "connector imports reactsse.eventsource (line 1)"
    ]
    assert _layer_violations("import reactsse.http.url\n", "sse") == [
        "sse imports reactsse.http.url (line 1)"
    ]
    assert (
        _layer_violations("from reactsse.loop import Loop\nfrom reactsse import errors\n", "http")
        == []
    )
    assert _layer_violations("from reactsse import EventSource\n", "loop") == [
        "loop imports reactsse.EventSource (line 1)"
    ]
    # The allowed exception holds only for a lazy import.
    assert _layer_violations("from reactsse.mock import MockApp\n", "server") != []
    assert _layer_violations("def f():\n    from reactsse.mock import MockApp\n", "server") == []


# Names every namedtuple has: public API despite the underscore.
_NAMEDTUPLE_API = frozenset({"_replace", "_asdict", "_fields", "_make"})


def _is_own(owner: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: a class and its subclasses share their underscore names."""
    if isinstance(owner, ast.Name):
        return owner.id in ("self", "cls")
    return isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super"


def _class_names(tree: ast.AST) -> set[str]:
    """The attribute names this module's classes define: methods and class-level names, the
    ``__slots__`` they declare, and what their methods set on ``self`` or ``cls``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    targets = [t.id for t in item.targets if isinstance(t, ast.Name)]
                    names.update(targets)
                    if "__slots__" in targets:
                        names.update(
                            c.value
                            for c in ast.walk(item.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)
                        )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and _is_own(node.value)
        ):
            names.add(node.attr)
    return names


def _foreign_private_reads(source: str) -> list[str]:
    """Reads and writes of ``obj._name`` in ``source`` where no class of this module defines
    ``_name``: another module's private attribute (``self``, ``cls`` and ``super()`` exempt)."""
    tree = ast.parse(source)
    own = _class_names(tree)
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _is_private(node.attr)
        and node.attr not in own
        and node.attr not in _NAMEDTUPLE_API
        and not _is_own(node.value)
    ]


def test_no_module_reads_another_modules_private_attributes() -> None:
    bad = [
        f"{_module_name(path)} {problem}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in _foreign_private_reads(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "\n".join(bad)


def test_the_private_attribute_check_sees_what_it_must() -> None:
    assert _foreign_private_reads("def f(timers):\n    return timers._heap\n") == [
        "line 2: timers._heap"
    ]
    # A write is flagged too, and a string that happens to spell the name whitelists nothing.
    assert _foreign_private_reads("def f(t):\n    t._heap = []\n    return '_heap'\n") == [
        "line 2: t._heap"
    ]
    # Defined here (another instance of this module's class), or a namedtuple's API: fine.
    assert (
        _foreign_private_reads("class A:\n    __slots__ = ('_n',)\n\ndef f(a):\n    return a._n\n")
        == []
    )
    assert _foreign_private_reads("def f(e):\n    return e._replace(x=1)\n") == []
    # A class and its subclasses share their underscore names.
    assert _foreign_private_reads("class B(A):\n    def f(self):\n        return self._x\n") == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (type-only and lazy imports included; a
    package is its ``__init__``)."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        imported = {n for n in _imports(path) if n in paths and n != name}
        graph[name] = imported
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of ``graph`` with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    """Data flows one way: where a lower module needs a higher one's object, it names what it
    needs as a ``Protocol`` of its own (as ``server.stream.StreamHost``), not the class."""
    assert _cycles(_import_graph()) == []


def test_the_circle_check_sees_what_it_must() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
