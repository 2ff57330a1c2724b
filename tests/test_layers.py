"""The layers hold: import-linter's contracts (in pyproject.toml) are kept, and no module imports
itself through others, type-checking imports included."""

from __future__ import annotations

import sys

import pytest

grimp = pytest.importorskip("grimp", reason="install the test extra: pip install -e '.[test]' (import-linter brings grimp)")


def _cycles(graph: object) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), smallest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):  # type: ignore[attr-defined]
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for module in sorted(graph.modules):  # type: ignore[attr-defined]
        if module not in index:
            visit(module)
    return sorted(found, key=len)


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("mmo", exclude_type_checking_imports=False)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]


def test_the_import_contracts_are_kept() -> None:
    from importlinter.cli import lint_imports

    assert lint_imports(no_cache=True) == 0


def test_every_name_of_the_public_api_resolves() -> None:
    import mmo

    for name in mmo.__all__:
        assert getattr(mmo, name) is not None, name
    assert mmo.RunOutcome.__module__ == "mmo.app.outcome"
