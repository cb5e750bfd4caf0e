"""Fixtures: the local Anthropic-compatible server, the real SDK pointed at it, the instrumentation on/off."""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from _anthropic_testkit import RecordingSink

import synapsekit
from synapsekit._core import sinks as _sinks
from synapsekit._core.errors import is_strict, set_strict
from synapsekit.testing import LLMTestServer

# interop/: langchain-anthropic over ours (``nox -s interop``), collected only where it is installed; the
# session's ``SYNAPSEKIT_INTEROP_REQUIRE`` makes a failed install fail it rather than leave nothing to run.
_INTEROP = {"interop/test_interop_langchain_anthropic.py": "langchain_anthropic"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


_required = {m for m in os.environ.get("SYNAPSEKIT_INTEROP_REQUIRE", "").split(",") if m}
_missing = sorted(m for m in _required & set(_INTEROP.values()) if not _installed(m))
if _missing:
    raise RuntimeError(f"interop session without {', '.join(_missing)}: its install step failed")
collect_ignore = [path for path, module in _INTEROP.items() if not _installed(module)]


@pytest.fixture(autouse=True)
def _strict_and_no_deprecated_models() -> Iterator[None]:
    previous = is_strict()
    set_strict(True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "error", message=r"The model .* is deprecated", category=DeprecationWarning
            )
            yield
    finally:
        set_strict(previous)


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("anthropic") == ["anthropic"]
    yield
    synapsekit.uninstrument("anthropic")


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink()
    _sinks.add_sink(recording)
    yield recording
    _sinks.remove_sink(recording)


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(server: LLMTestServer) -> Any:
    async with anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="test-key", max_retries=0
    ) as sdk:
        yield sdk
