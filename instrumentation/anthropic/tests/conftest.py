"""Fixtures: the local Anthropic-compatible server, the real SDK pointed at it, the instrumentation on/off."""

from __future__ import annotations

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
