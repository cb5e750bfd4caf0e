"""Fixtures: the local test server, litellm pointed at it per route, the instrumentation on/off.

litellm fetches its model cost map over the network at import unless told to use its bundled copy: the
variable is set before anything imports litellm.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import pytest

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(output_tokens=4) as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("litellm") == ["litellm"]
    yield
    synapsekit.uninstrument("litellm")


@pytest.fixture
def openai_instrumented() -> Iterator[None]:
    assert synapsekit.instrument("openai") == ["openai"]
    yield
    synapsekit.uninstrument("openai")
