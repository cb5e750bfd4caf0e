"""Fixtures: the local Gemini/Vertex-compatible server, the real google-genai SDK pointed at it, the
instrumentation on and off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _gemini_testkit import gemini_client, vertex_client
from google import genai

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("google-genai") == ["google-genai"]
    yield
    synapsekit.uninstrument("google-genai")


@pytest.fixture
def client(server: LLMTestServer) -> genai.Client:
    return gemini_client(server)


@pytest.fixture
def vertex(server: LLMTestServer) -> genai.Client:
    return vertex_client(server)


@pytest.fixture(params=["gemini", "vertex"])
def any_client(request: pytest.FixtureRequest, server: LLMTestServer) -> genai.Client:
    """Each test runs in Gemini API mode and in Vertex AI mode."""
    return gemini_client(server) if request.param == "gemini" else vertex_client(server)
