"""The OpenTelemetry GenAI client metrics, recorded from each finished LLM call.

``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration`` as the GenAI semantic conventions
define them. Recording goes through the OpenTelemetry metrics API only: with no SDK MeterProvider
configured it costs next to nothing, and once one is installed (by ``OTelExporter`` or by the application)
the instruments created earlier start reporting to it. The bucket boundaries are given both as an
advisory on the instruments (so an application's own MeterProvider uses them too) and as Views in the
MeterProvider that ``OTelExporter`` creates.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

from synapsekit import semconv

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter

    from synapsekit._core.call import LLMCall

__all__ = [
    "OPERATION_DURATION_BUCKETS",
    "TOKEN_USAGE_BUCKETS",
    "GenAIMetrics",
    "GenAIMetricsSink",
    "record_genai_metrics",
]

METER_NAME: Final = "synapsekit"

# Boundaries from the GenAI semantic conventions (metrics.md, "Recommended bucket boundaries").
TOKEN_USAGE_BUCKETS: Final[tuple[float, ...]] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
OPERATION_DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"


class GenAIMetrics:
    """The two GenAI histograms, created once on one meter."""

    def __init__(self, meter: Meter) -> None:
        self.token_usage: Histogram = meter.create_histogram(
            semconv.METRIC_GEN_AI_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_USAGE_BUCKETS,
        )
        self.operation_duration: Histogram = meter.create_histogram(
            semconv.METRIC_GEN_AI_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=OPERATION_DURATION_BUCKETS,
        )

    def record(
        self,
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
        attributes: dict[str, str | int] = {
            semconv.GEN_AI_OPERATION_NAME: operation,
            semconv.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model is not None:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = request_model
        if response_model is not None:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = response_model
        if server_address is not None:
            attributes[semconv.SERVER_ADDRESS] = server_address
        if server_port is not None:
            attributes[semconv.SERVER_PORT] = server_port

        # The conventions record token usage only when the provider reported it, and error.type only
        # on the duration metric.
        if input_tokens is not None:
            self.token_usage.record(input_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: TOKEN_TYPE_INPUT})
        if output_tokens is not None:
            self.token_usage.record(
                output_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: TOKEN_TYPE_OUTPUT}
            )
        if duration_s is not None:
            if error_type is not None:
                attributes[semconv.ERROR_TYPE] = error_type
            self.operation_duration.record(duration_s, attributes)


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
    """A call sink recording the GenAI metrics for every finished LLM call, sampled or not.

    ``OTelExporter(...).install()`` attaches one; with an application's own MeterProvider, attach it yourself:
    ``synapsekit.add_sink(GenAIMetricsSink())``.
    """

    observes_call_start = False

    def on_call_start(self, call: LLMCall) -> None:
        return None

    def on_call_end(self, call: LLMCall) -> None:
        if call.rejected:
            return  # never sent: no operation took place
        record_genai_metrics(
            operation=call.operation,
            provider=call.provider,
            request_model=call.request_model,
            response_model=call.response_model,
            input_tokens=None if call.usage_estimated else call.input_tokens,
            output_tokens=None if call.usage_estimated else call.output_tokens,
            duration_s=call.latency_s,
            error_type=call.error_type,
            server_address=call.server_address,
            server_port=call.server_port,
        )


genai_metrics_sink = GenAIMetricsSink()
