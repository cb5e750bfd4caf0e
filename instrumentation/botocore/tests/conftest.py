"""Fixtures: the local Bedrock-compatible server, the real boto3 client pointed at it, instrumentation on/off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _bedrock_testkit import make_client

import synapsekit
from synapsekit._core.errors import is_strict, set_strict
from synapsekit.testing import CallRecorder, LLMTestServer


@pytest.fixture(autouse=True)
def _strict() -> Iterator[None]:
    previous = is_strict()
    set_strict(True)
    try:
        yield
    finally:
        set_strict(previous)


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("botocore") == ["botocore"]
    yield
    synapsekit.uninstrument("botocore")


@pytest.fixture
def sink() -> Iterator[CallRecorder]:
    with CallRecorder() as recording:
        yield recording


@pytest.fixture
def client(server: LLMTestServer) -> Any:
    return make_client(server)
