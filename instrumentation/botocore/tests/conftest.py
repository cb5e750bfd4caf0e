"""Fixtures: the local Bedrock-compatible server, the real boto3 client pointed at it, instrumentation on/off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _bedrock_testkit import make_client

import synapsekit
from synapsekit.testing import LLMTestServer


@pytest.fixture
def instrumented() -> Iterator[None]:
    assert synapsekit.instrument("botocore") == ["botocore"]
    yield
    synapsekit.uninstrument("botocore")


@pytest.fixture
def client(server: LLMTestServer) -> Any:
    return make_client(server)
