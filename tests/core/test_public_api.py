"""The public surface: complete, sorted ``__all__`` lists, and a light ``import synapsekit``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC_MODULES = ["synapsekit", "synapsekit.observability", "synapsekit.plugin"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("module_name", ["synapsekit", "synapsekit.observability"])
def test_lazy_table_and_all_agree(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module._PUBLIC) | {"__version__"} >= set(module.__all__)
    assert set(module._PUBLIC) <= set(module.__all__)


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
