"""The docs keep up with the code: every module of the package is named on a page of docs/, and
the relative links between the pages (and from README.md) lead to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reactsse"
PAGES = sorted((ROOT / "docs").glob("*.md"))


def _unnamed(modules: list[Path], pages: dict[str, str]) -> list[str]:
    """The modules (paths under the package) that no page names: as ``pkg/name.py`` anywhere,
    or as ``name.py`` on a page that is about the package (it names ``reactsse/pkg/`` or
    ``reactsse.pkg``)."""
    missing = []
    for module in modules:
        relative = module.relative_to(PACKAGE).as_posix()
        package, _, name = relative.rpartition("/")
        about = (f"reactsse/{package}/", f"reactsse.{package}")
        if not any(
            relative in text or (f"`{name}`" in text and any(a in text for a in about))
            for text in pages.values()
        ):
            missing.append(relative)
    return missing


def test_every_module_is_named_in_the_docs() -> None:
    modules = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent != PACKAGE and path.name != "__init__.py"
    ]
    pages = {page.name: page.read_text(encoding="utf-8") for page in PAGES}
    missing = _unnamed(modules, pages)
    assert not missing, f"modules no page of docs/ names: {missing}"


def test_the_module_check_sees_what_it_must() -> None:
    module = PACKAGE / "loop" / "timer.py"
    assert _unnamed([module], {"a.md": "`loop/timer.py`"}) == []
    assert _unnamed([module], {"a.md": "`reactsse/loop/` has `timer.py`"}) == []
    # A bare file name counts only on a page about its package.
    assert _unnamed([module], {"a.md": "`reactsse/http/` has `timer.py`"}) == ["loop/timer.py"]
    assert _unnamed([module], {"a.md": "nothing"}) == ["loop/timer.py"]


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_lead_to_files() -> None:
    broken = []
    for page in [ROOT / "README.md", *PAGES]:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, "\n".join(broken)
