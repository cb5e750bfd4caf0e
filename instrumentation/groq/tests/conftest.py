"""Fixtures: the local server, the real groq SDK pointed at it over HTTP, the instrumentation on/off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _groq_testkit import NAME, AsyncClient, Client, base_url

import synapsekit
from synapsekit.testing import CallRecorder, LLMTestServer


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument(NAME) == [NAME]
    yield
    synapsekit.uninstrument(NAME)


@pytest.fixture
def sink() -> Iterator[CallRecorder]:
    with CallRecorder() as recording:
        yield recording


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[Any]:
    with Client(base_url=base_url(server), api_key="test", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(server: LLMTestServer) -> AsyncIterator[Any]:
    async with AsyncClient(base_url=base_url(server), api_key="test", max_retries=0) as sdk:
        yield sdk
