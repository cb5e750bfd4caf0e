"""The package layering of ``synapsekit/``: imports point down only (docs/architecture.md).

Each package has a rank; a module may import its own package and packages of a lower rank, never one of a
higher rank. Imports under ``if TYPE_CHECKING:`` are exempt (they do not run). The root package re-exports
everything lazily from ``__init__.pyi``; only the command line, a user of that public API, sits above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "synapsekit"

# Lowest first. Packages of one rank do not import each other, except where a later entry of the same
# rank is listed in ALLOWED_SIDEWAYS.
RANKS: dict[str, int] = {
    "synapsekit.semconv": 0,
    "synapsekit._version": 0,
    "synapsekit._pricing": 0,
    "synapsekit._core": 1,
    "synapsekit._instrumenting": 2,
    "synapsekit._budget": 2,
    "synapsekit._llms": 2,
    "synapsekit._spend": 2,
    "synapsekit._otel": 3,
    "synapsekit._prometheus": 3,
    "synapsekit.plugin": 4,
    "synapsekit.observability": 4,
    "synapsekit.rag": 4,
    "synapsekit.testing": 4,
    "synapsekit": 5,
    "synapsekit.cli": 6,
}
# Prometheus reports budget events; it sits beside budgets' users, above the budget package itself.
ALLOWED_SIDEWAYS = {("synapsekit._prometheus", "synapsekit._budget")}


def _package_of(module: str) -> str:
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in RANKS:
            return candidate
    raise AssertionError(f"{module} belongs to no package of the layering: add it to RANKS")


def _module_name(path: Path, source: Path = SOURCE) -> str:
    relative = path.relative_to(source.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _known_module(name: str, source: Path) -> bool:
    path = source.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _runtime_imports(tree: ast.AST, module: str, is_package: bool, source: Path) -> list[tuple[int, str]]:
    """Every synapsekit module imported by code that can run, with its line.

    ``from synapsekit import semconv`` imports the module ``synapsekit.semconv``, not a name of the root
    package; ``from synapsekit._core.call import LLMCall`` imports ``synapsekit._core.call``.
    """
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if _known_module(submodule, source) else base))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(line, name) for line, name in found if name == "synapsekit" or name.startswith("synapsekit.")]


def upward_imports(source: Path = SOURCE) -> list[str]:
    violations: set[str] = set()
    for path in sorted(source.rglob("*.py")):
        module = _module_name(path, source)
        own = _package_of(module)
        tree = ast.parse(path.read_text())
        for line, imported in _runtime_imports(tree, module, path.name == "__init__.py", source):
            target = _package_of(imported)
            if target == own or (own, target) in ALLOWED_SIDEWAYS:
                continue
            if RANKS[target] >= RANKS[own]:
                violations.add(f"{path.relative_to(source.parent)}:{line}: {own} imports {imported}")
    return sorted(violations)


def test_imports_point_down_only() -> None:
    assert upward_imports() == []


def test_every_package_has_a_rank() -> None:
    for path in SOURCE.rglob("*.py"):
        _package_of(_module_name(path))


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "synapsekit"
    (fake / "_core").mkdir(parents=True)
    (fake / "_budget").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "_budget" / "__init__.py").write_text("")
    (fake / "_core" / "__init__.py").write_text("")
    (fake / "_core" / "call.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from synapsekit._budget import scope\n"
        "def f():\n    from synapsekit._budget import ledger\n"
    )
    (fake / "_budget" / "scope.py").write_text("")
    (fake / "_budget" / "ledger.py").write_text("")
    assert upward_imports(fake) == [
        "synapsekit/_core/call.py:5: synapsekit._core imports synapsekit._budget.ledger"
    ]


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("synapsekit._core.call", "synapsekit._core"),
        ("synapsekit", "synapsekit"),
        ("synapsekit.semconv", "synapsekit.semconv"),
    ],
)
def test_modules_map_to_their_package(module: str, package: str) -> None:
    assert _package_of(module) == package
