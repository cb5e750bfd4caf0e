"""The public surface: complete, sorted ``__all__`` lists, and a light ``import synapsekit``."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import synapsekit
from synapsekit._core.lazy import read_stub

PUBLIC_MODULES = ["synapsekit", "synapsekit.observability", "synapsekit.plugin"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, name


STUB_PACKAGES = ["synapsekit", "synapsekit.observability", "synapsekit.plugin", "synapsekit.testing"]


def _stub_table_by_ast(module_name: str) -> dict[str, str]:
    """What a type checker reads from the package's ``__init__.pyi``: every re-exported name and its module."""
    stub = Path(importlib.import_module(module_name).__file__ or "").with_suffix(".pyi")
    table: dict[str, str] = {}
    for node in ast.parse(stub.read_text()).body:
        assert isinstance(node, ast.ImportFrom | ast.Expr), ast.dump(
            node
        )  # only the docstring and re-exports
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name} is not re-exported as itself"
                table[alias.name] = node.module or ""
    return table


@pytest.mark.parametrize("module_name", STUB_PACKAGES)
def test_public_names_are_listed_once_in_the_stub(module_name: str) -> None:
    module = importlib.import_module(module_name)
    by_ast = _stub_table_by_ast(module_name)
    assert read_stub(Path(module.__file__ or "").with_suffix(".pyi")) == by_ast
    assert module.__all__ == sorted(by_ast)
    assert dir(module) == sorted(by_ast)
    for name, defining_module in by_ast.items():
        assert getattr(module, name) is getattr(importlib.import_module(defining_module), name), name


def test_the_stub_reader_reads_every_import_form(tmp_path: Path) -> None:
    stub = tmp_path / "__init__.pyi"
    stub.write_text(
        '"""doc: from fake import NotAName as NotAName"""\n'
        "from a.b import X as X  # a comment, Y as Y\n"
        "from c import (\n    P as P,  # why\n    Q as Q,\n)\n"
        "from d import R as R, S as S\n"
    )
    assert read_stub(stub) == {"X": "a.b", "P": "c", "Q": "c", "R": "d", "S": "d"}


def test_an_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'synapsekit' has no attribute 'NoSuchThing'"):
        _ = synapsekit.NoSuchThing


def test_import_synapsekit_is_light() -> None:
    heavy = [
        "openai",
        "anthropic",
        "pydantic",
        "grpc",
        "prometheus_client",
        "opentelemetry.sdk",
        "genai_prices",
    ]
    code = (
        "import sys, synapsekit, synapsekit.observability\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
