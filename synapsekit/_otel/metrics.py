"""The OpenTelemetry GenAI client metrics for a MeterProvider that is not the OpenTelemetry SDK's.

The metrics themselves, and their recording for every call once the global MeterProvider is the SDK's, are
in :mod:`synapsekit._core.meters`: an application that configured the SDK (or ``OTelExporter``, which does)
needs nothing here. What remains is the API path: :class:`GenAIMetricsSink` records through the OpenTelemetry
metrics API's global meter, for a provider of another implementation, and stands aside when the core
already records (no call is counted twice). The bucket boundaries are given both as an advisory on the
instruments (so an application's own MeterProvider uses them too) and as Views in the MeterProvider that
``OTelExporter`` creates.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from synapsekit._core import meters as _meters
from synapsekit._core.meters import (
    METER_NAME,
    OPERATION_DURATION_BUCKETS,
    TOKEN_TYPE_INPUT,
    TOKEN_TYPE_OUTPUT,
    TOKEN_USAGE_BUCKETS,
    GenAIMetrics,
)

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall

__all__ = [
    "METER_NAME",
    "OPERATION_DURATION_BUCKETS",
    "TOKEN_TYPE_INPUT",
    "TOKEN_TYPE_OUTPUT",
    "TOKEN_USAGE_BUCKETS",
    "GenAIMetrics",
    "GenAIMetricsSink",
    "record_genai_metrics",
]


_lock = threading.Lock()
_metrics: GenAIMetrics | None = None


def _global_metrics() -> GenAIMetrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                # Imported here so that `import synapsekit` does not import OpenTelemetry metrics.
                from opentelemetry import metrics

                # The API's proxy meter forwards to whichever MeterProvider is installed later.
                _metrics = GenAIMetrics(metrics.get_meter(METER_NAME))
    return _metrics


def record_genai_metrics(
    *,
    operation: str,
    provider: str,
    request_model: str | None,
    response_model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    duration_s: float | None,
    error_type: str | None,
    server_address: str | None,
    server_port: int | None,
) -> None:
    """Record one finished LLM call on the global MeterProvider; ``None`` values are left out."""
    _global_metrics().record(
        operation=operation,
        provider=provider,
        request_model=request_model,
        response_model=response_model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        duration_s=duration_s,
        error_type=error_type,
        server_address=server_address,
        server_port=server_port,
    )


class GenAIMetricsSink:
    """A call sink recording the GenAI metrics for every finished LLM call, sampled or not, through the
    OpenTelemetry metrics API's global meter.

    With the SDK's MeterProvider as the global one the core records every call itself and this sink records
    nothing (no call twice); it is for a provider of another implementation:
    ``synapsekit.add_sink(GenAIMetricsSink())``. ``OTelExporter(...).install()`` attaches one.
    """

    observes_call_start = False

    def on_call_start(self, call: LLMCall) -> None:
        return None

    def on_call_end(self, call: LLMCall) -> None:
        if _meters.sdk_metrics() is not None:
            return  # the core records it (synapsekit._core.meters)
        _global_metrics().record_call(call)


genai_metrics_sink = GenAIMetricsSink()
