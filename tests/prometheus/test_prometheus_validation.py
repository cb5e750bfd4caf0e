"""``PrometheusMetrics`` refuses bad configuration where it is written, naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from synapsekit.observability import PrometheusMetrics


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"registry": "x"},
            TypeError,
            "registry must be a prometheus_client CollectorRegistry or None, got str 'x'",
        ),
        (
            {"registry": "x", "enabled": False},
            TypeError,
            "registry must be a prometheus_client CollectorRegistry or None, got str 'x'",
        ),
        ({"enabled": "no"}, TypeError, "enabled must be a bool, got str 'no'"),
        ({"start_server": 1}, TypeError, "start_server must be a bool, got int 1"),
        ({"host": 127}, TypeError, "host must be a str, got int 127"),
        ({"host": ""}, ValueError, "host must not be empty (use '0.0.0.0' for every interface)"),
        # Checked even without start_server: the deployment that turns the server on would fail later.
        ({"port": "8000"}, TypeError, "port must be an integer in 0..65535, got str '8000'"),
        ({"port": 70000}, ValueError, "port must be an integer in 0..65535, got 70000"),
    ],
)
def test_constructor_rejects_bad_values(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        PrometheusMetrics(**kwargs)
    assert str(raised.value) == message


def test_a_collector_registry_is_accepted() -> None:
    registry = CollectorRegistry()
    assert PrometheusMetrics(registry=registry).registry is registry


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize(
    ("span", "shown"), [("x", "str 'x'"), (None, "None"), ({"name": "llm.generate"}, None)]
)
def test_record_span_wants_a_span(enabled: bool, span: object, shown: str | None) -> None:
    metrics = PrometheusMetrics(enabled=enabled)
    with pytest.raises(TypeError) as raised:
        metrics.record_span(span)  # type: ignore[arg-type]
    shown = shown or "dict {'name': 'llm.generate'}"
    assert str(raised.value) == (
        f"span must be a Span (with name, attributes, duration_ms and status), got {shown}"
    )
