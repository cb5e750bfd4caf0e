"""Third-party frameworks and instrumentations over the instrumented openai SDK (``nox -s interop``).

They are not in the workspace's environment: each test module is collected only where the package it drives
is installed (the nox sessions build their own virtualenvs). ``SYNAPSEKIT_INTEROP_REQUIRE`` (set by those
sessions) names the modules that must be there, so a package that failed to install fails the session
instead of leaving it with nothing to run. Kept out of ``tests/`` so that its ``conftest`` never stands in
for that directory's (whose helpers the tests there import by module name).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from synapsekit._errors import is_strict, set_strict
from synapsekit.testing import CallRecorder, LLMTestServer

# Frameworks must not reach the network: litellm reads its model prices from its own package.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_DRIVES = {
    "test_interop_litellm.py": "litellm",
    "test_interop_langchain_openai.py": "langchain_openai",
    "test_interop_otel_openai_v2.py": "opentelemetry.instrumentation.openai_v2",
    "test_interop_logfire.py": "logfire",
    "test_interop_openlit.py": "openlit",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


_required = {name for name in os.environ.get("SYNAPSEKIT_INTEROP_REQUIRE", "").split(",") if name}
_missing = sorted(module for module in _required if not _installed(module))
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


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[Any]:
    import openai

    with openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0) as sdk_client:
        yield sdk_client


@pytest.fixture
async def async_client(server: LLMTestServer) -> AsyncIterator[Any]:
    import openai

    async with openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk
