"""Suite-wide settings and fixtures for every test directory (tests/, instrumentation/*/tests/).

Internal errors are raised, not logged, so bugs surface (and strict mode is put back after any test that
turns it off). ``span_exporter`` gives tests the spans recorded by one process-wide OpenTelemetry SDK tracer
provider (a provider can be installed only once per process). ``server`` is the local LLM test server and
``sink`` records every finished call; a directory's own conftest may override either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("SYNAPSEKIT_STRICT", "1")

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
