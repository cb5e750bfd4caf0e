"""Fixtures: the local server speaking Ollama, the real client pointed at it, the instrumentation on/off."""

from __future__ import annotations

from collections.abc import Iterator

import ollama
import pytest

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("ollama") == ["ollama"]
    yield
    synapsekit.uninstrument("ollama")


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[ollama.Client]:
    sdk = ollama.Client(host=server.ollama_base_url)
    yield sdk
    sdk._client.close()


@pytest.fixture
def async_client(server: LLMTestServer) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=server.ollama_base_url)
