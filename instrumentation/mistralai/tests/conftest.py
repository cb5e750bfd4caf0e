"""Fixtures: the local server speaking Mistral, the real SDK pointed at it, the instrumentation on/off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mistralai.client import Mistral

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("mistralai") == ["mistralai"]
    yield
    synapsekit.uninstrument("mistralai")


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[Mistral]:
    with Mistral(api_key="test", server_url=server.mistral_base_url) as sdk:
        yield sdk


@pytest.fixture
async def async_client(server: LLMTestServer) -> AsyncIterator[Mistral]:
    async with Mistral(api_key="test", server_url=server.mistral_base_url) as sdk:
        yield sdk
