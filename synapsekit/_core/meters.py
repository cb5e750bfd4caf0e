"""The OpenTelemetry GenAI client metrics, recorded for every finished call once an SDK MeterProvider is set.

``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and, for streams,
``gen_ai.client.operation.time_to_first_chunk`` and ``gen_ai.client.operation.time_per_output_chunk``, as the
GenAI semantic conventions define them. Like spans (:mod:`.spans`), metrics need nothing to be switched on:
an application that configured the OpenTelemetry SDK's ``MeterProvider`` as the global one gets them for
every call, sampled or not, whether or not ``OTelExporter`` was installed. Nothing is imported to find out:
without the SDK's metrics module in ``sys.modules`` there can be no SDK MeterProvider, and the check is one
dictionary lookup per call.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final

from synapsekit import semconv

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter

    from synapsekit._core.call import LLMCall

METER_NAME: Final = "synapsekit"
OTEL_METRICS_MODULE: Final = "opentelemetry.metrics"
SDK_METRICS_MODULE: Final = "opentelemetry.sdk.metrics"

# Boundaries from the GenAI semantic conventions (metrics.md, "Recommended bucket boundaries"); the two
# streaming histograms use the duration's.
TOKEN_USAGE_BUCKETS: Final[tuple[float, ...]] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
OPERATION_DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"


class GenAIMetrics:
    """The GenAI client histograms, created once on one meter."""

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
        self.time_to_first_chunk: Histogram = meter.create_histogram(
            semconv.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=OPERATION_DURATION_BUCKETS,
        )
        self.time_per_output_chunk: Histogram = meter.create_histogram(
            semconv.METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK,
            unit="s",
            description="Time between consecutive chunks of a streamed response, after the first",
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
        time_to_first_chunk_s: float | None = None,
        chunk_times_ns: list[int] | None = None,
    ) -> None:
        """One finished operation; ``None`` values are left out. ``chunk_times_ns``: when each chunk of a
        stream arrived (``perf_counter_ns``), the first one included; its gaps are the time per output chunk.
        """
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

        # The conventions record token usage only when the provider reported it, and error.type only on the
        # timing metrics.
        if input_tokens is not None:
            self.token_usage.record(input_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: TOKEN_TYPE_INPUT})
        if output_tokens is not None:
            self.token_usage.record(
                output_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: TOKEN_TYPE_OUTPUT}
            )
        if error_type is not None:
            attributes[semconv.ERROR_TYPE] = error_type
        if duration_s is not None:
            self.operation_duration.record(duration_s, attributes)
        if time_to_first_chunk_s is not None:
            self.time_to_first_chunk.record(time_to_first_chunk_s, attributes)
        if chunk_times_ns:
            record_gap = self.time_per_output_chunk.record
            previous = chunk_times_ns[0]
            for arrived in chunk_times_ns[1:]:
                record_gap((arrived - previous) / 1e9, attributes)
                previous = arrived

    def record_call(self, call: LLMCall) -> None:
        """A finished call (not a rejected one: it was never sent, no operation took place)."""
        if call.rejected:
            return
        estimated = call.usage_estimated
        self.record(
            operation=call.operation,
            provider=call.provider,
            request_model=call.request_model,
            response_model=call.response_model,
            input_tokens=None if estimated else call.input_tokens,
            output_tokens=None if estimated else call.output_tokens,
            duration_s=call.latency_s,
            error_type=call.error_type,
            server_address=call.server_address,
            server_port=call.server_port,
            time_to_first_chunk_s=call.time_to_first_chunk_s if call.streamed else None,
            chunk_times_ns=call.chunk_times_ns,
        )


# (the global meter provider last seen, our instruments on it or None when it is not the SDK's): the global
# provider is set once in an application's life, so this is decided once.
_last: tuple[Any, GenAIMetrics | None] = (None, None)


def sdk_metrics() -> GenAIMetrics | None:
    """Our instruments on the global MeterProvider when it is the OpenTelemetry SDK's, else ``None``."""
    global _last
    api = sys.modules.get(OTEL_METRICS_MODULE)
    sdk = sys.modules.get(SDK_METRICS_MODULE)
    if api is None or sdk is None:
        return None
    provider = api.get_meter_provider()
    last_provider, instruments = _last
    if provider is last_provider:
        return instruments
    instruments = None
    if isinstance(provider, sdk.MeterProvider):
        from synapsekit._version import __version__

        instruments = GenAIMetrics(provider.get_meter(METER_NAME, __version__))
    _last = (provider, instruments)
    return instruments


def record(call: LLMCall) -> None:
    """Record ``call``'s GenAI metrics when an SDK MeterProvider is the global one."""
    instruments = sdk_metrics()
    if instruments is not None:
        instruments.record_call(call)
