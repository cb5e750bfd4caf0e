"""Third-party frameworks over the instrumented anthropic SDK (``nox -s interop``).

Collected only where the framework is installed (the nox session builds its own virtualenv);
``SYNAPSEKIT_INTEROP_REQUIRE`` (set by that session) names the modules that must be there, so a package that
failed to install fails the session instead of leaving it with nothing to run.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from synapsekit._errors import is_strict, set_strict
from synapsekit.testing import CallRecorder, LLMTestServer

_DRIVES = {"test_interop_langchain_anthropic.py": "langchain_anthropic"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


_required = {name for name in os.environ.get("SYNAPSEKIT_INTEROP_REQUIRE", "").split(",") if name}
_missing = sorted(module for module in _required & set(_DRIVES.values()) if not _installed(module))
if _missing:
    raise RuntimeError(f"interop session without {', '.join(_missing)}: its install step failed")

collect_ignore = [name for name, module in _DRIVES.items() if not _installed(module)]


@pytest.fixture(autouse=True)
def _strict_and_uninstrumented_after() -> Iterator[None]:
    """Internal errors raise here too; every test leaves synapsekit uninstrumented."""
    import synapsekit

    previous = is_strict()
    set_strict(True)
    yield
    synapsekit.uninstrument()
    set_strict(previous)


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def sink() -> Iterator[CallRecorder]:
    with CallRecorder() as recorder:
        yield recorder
