"""Suite-wide settings and fixtures for every test directory (tests/, instrumentation/*/tests/).

Internal errors are raised, not logged, so bugs surface (and strict mode is put back after any test that
turns it off). ``span_exporter`` gives tests the spans recorded by one process-wide OpenTelemetry SDK tracer
provider (a provider can be installed only once per process). ``server`` is the local LLM test server and
``sink`` records every finished call; a directory's own conftest may override either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("SYNAPSEKIT_STRICT", "1")

# The chat suite of the OpenAI-compatible generated SDKs is written once, in this folder, and imported by each
# of their test directories (instrumentation/{groq,cerebras,together,fireworks}/tests). It ships in no
# distribution, and pytest puts a test directory on sys.path only when it collects it, so the path is added
# here: this conftest is loaded both by the full run and by each ``nox -s <sdk>_versions`` session.
sys.path.insert(0, str(Path(__file__).parent / "instrumentation" / "openai" / "tests" / "compatible_suite"))

from synapsekit._core.errors import is_strict, set_strict

set_strict(True)

if TYPE_CHECKING:
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
    from synapsekit.testing import LLMTestServer

    with LLMTestServer() as running:
        yield running


@pytest.fixture
def sink() -> Iterator[CallRecorder]:
    from synapsekit.testing import CallRecorder

    with CallRecorder() as recording:
        yield recording


@pytest.fixture
def span_exporter() -> Iterator[Any]:
    from synapsekit.testing._span_capture import install_global_span_capture

    exporter = install_global_span_capture()
    exporter.clear()
    yield exporter
    exporter.clear()
