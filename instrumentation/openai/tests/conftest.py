"""Fixtures: one local OpenAI-compatible server, real openai clients, the instrumentor, a recording sink."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

import synapsekit
from synapsekit._core import sinks as _sinks
from synapsekit._core.errors import is_strict, set_strict
from synapsekit.testing import CallRecorder, LLMTestServer

OPENAI_MAJOR = int(openai.__version__.split(".")[0])


def httpx_module() -> Any:
    """The HTTP package of the installed SDK: openai 3 moved from httpx to httpx2."""
    return importlib.import_module("httpx2" if OPENAI_MAJOR >= 3 else "httpx")


def dropped_stream_error() -> type[BaseException]:
    """What a stream raises when the server hangs up mid-body: openai 3 wraps the transport error."""
    if OPENAI_MAJOR >= 3:
        return openai.APIConnectionError
    return httpx_module().RemoteProtocolError  # type: ignore[no-any-return]


RecordingSink = CallRecorder


@pytest.fixture(autouse=True)
def strict_mode() -> Iterator[None]:
    """Internal errors raise in this suite, so a translation bug cannot hide behind the error policy."""
    previous = is_strict()
    set_strict(True)
    yield
    set_strict(previous)


@pytest.fixture(scope="session")
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def instrumented() -> Iterator[None]:
    synapsekit.instrument("openai")
    yield
    synapsekit.uninstrument("openai")


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink()
    _sinks.add_sink(recording)
    yield recording
    _sinks.remove_sink(recording)


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0) as sdk_client:
        yield sdk_client


@pytest.fixture
async def async_client(server: LLMTestServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="test-key", max_retries=0
    ) as sdk_client:
        yield sdk_client
