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


class MetricCapture:
    """What the GenAI metrics recorded during one test (see the ``metrics`` fixture)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def points(self, scope: str = "synapsekit") -> dict[str, list[Any]]:
        """``{metric name: its data points}`` collected so far from ``scope``'s meter."""
        points: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                if scope_metrics.scope.name != scope:
                    continue
                for metric in scope_metrics.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


@pytest.fixture
def metrics() -> Iterator[MetricCapture]:
    """An ``InMemoryMetricReader`` on the process's global SDK MeterProvider, for this test only.

    Like the tracer provider, the global MeterProvider can be set once per process: the first test to ask
    installs an SDK one (unless one is there already); each test gets a reader of its own, removed after.
    """
    from opentelemetry import metrics as metrics_api
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    provider = metrics_api.get_meter_provider()
    if not isinstance(provider, MeterProvider):
        provider = MeterProvider(shutdown_on_exit=False)
        metrics_api.set_meter_provider(provider)
        if metrics_api.get_meter_provider() is not provider:
            pytest.skip("the global MeterProvider is not the OpenTelemetry SDK's")
    reader = InMemoryMetricReader()
    provider.add_metric_reader(reader)
    yield MetricCapture(reader)
    provider.remove_metric_reader(reader)
