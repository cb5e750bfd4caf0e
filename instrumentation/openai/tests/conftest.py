"""Fixtures: one local OpenAI-compatible server, real openai clients, the instrumentor, a recording sink."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

import synapsekit
from synapsekit._core import sinks as _sinks
from synapsekit._core.errors import is_strict, set_strict
from synapsekit.testing import CallRecorder, LLMTestServer

OPENAI_MAJOR = int(openai.__version__.split(".")[0])

# interop/: third-party frameworks and instrumentations over ours (``nox -s interop``, ``nox -s interop_openlit``).
# They are not in the workspace's environment: a module is collected only where what it drives is installed.
# ``SYNAPSEKIT_INTEROP_REQUIRE`` (set by those sessions) names what must be there, so a package that failed to
# install fails the session instead of leaving it with nothing to run.
_INTEROP = {
    "interop/test_interop_litellm.py": "litellm",
    "interop/test_interop_langchain_openai.py": "langchain_openai",
    "interop/test_interop_otel_openai_v2.py": "opentelemetry.instrumentation.openai_v2",
    "interop/test_interop_conventions_side_by_side.py": "opentelemetry.instrumentation.openai_v2",
    "interop/test_interop_logfire.py": "logfire",
    "interop/test_interop_openlit.py": "openlit",
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


_missing = [m for m in os.environ.get("SYNAPSEKIT_INTEROP_REQUIRE", "").split(",") if m and not installed(m)]
if _missing:
    raise RuntimeError(f"interop session without {', '.join(_missing)}: its install step failed")
collect_ignore = [path for path, module in _INTEROP.items() if not installed(module)]
# Frameworks must not reach the network: litellm reads its model prices from its own package.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


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
def own_server() -> Iterator[LLMTestServer]:
    """A server for one test, for tests that count the requests reaching it (``server`` is the session's)."""
    with LLMTestServer() as running:
        yield running


@pytest.fixture
def uninstrument_after() -> Iterator[None]:
    """Leaves synapsekit uninstrumented however the test instrumented it (the interop tests)."""
    yield
    synapsekit.uninstrument()


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
