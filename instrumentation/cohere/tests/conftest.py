"""Fixtures: the local server speaking Cohere v2, the real SDK pointed at it, the instrumentation on/off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import cohere
import httpx
import pytest

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("cohere") == ["cohere"]
    yield
    synapsekit.uninstrument("cohere")


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[cohere.ClientV2]:
    with httpx.Client() as http:
        yield cohere.ClientV2(api_key="test", base_url=server.cohere_base_url, httpx_client=http)


@pytest.fixture
async def async_client(server: LLMTestServer) -> AsyncIterator[cohere.AsyncClientV2]:
    async with httpx.AsyncClient() as http:
        yield cohere.AsyncClientV2(api_key="test", base_url=server.cohere_base_url, httpx_client=http)
