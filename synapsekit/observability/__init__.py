"""The spec's observability classes: thin facades over synapsekit's ambient instrumentation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapsekit._lazy import lazy_getattr

_PUBLIC: dict[str, str] = {
    "BudgetExceeded": "synapsekit._exceptions",
    "BudgetGuard": "synapsekit._budget",
    "BudgetLimit": "synapsekit._budget",
    "CircuitState": "synapsekit._budget",
    "CostRecord": "synapsekit.observability._cost_tracker",
    "CostTracker": "synapsekit.observability._cost_tracker",
    "DistributedTracer": "synapsekit.observability._distributed",
    "GenAIMetricsSink": "synapsekit._otel_metrics",
    "OTelExporter": "synapsekit.observability._otel_exporter",
    "PrometheusMetrics": "synapsekit.observability._prometheus",
    "Span": "synapsekit.observability._span",
    "SpanBuffer": "synapsekit.observability._span",
    "TokenTracer": "synapsekit.observability._token_tracer",
    "TraceContext": "synapsekit._propagation",
    "TraceContextMiddleware": "synapsekit.observability._asgi",
    "TraceSpan": "synapsekit.observability._distributed",
    "TracingMiddleware": "synapsekit.observability._tracing_middleware",
    "create_propagator": "synapsekit.observability._distributed",
    "span_buffer": "synapsekit.observability._span",
}

__all__ = [
    "BudgetExceeded",
    "BudgetGuard",
    "BudgetLimit",
    "CircuitState",
    "CostRecord",
    "CostTracker",
    "DistributedTracer",
    "GenAIMetricsSink",
    "OTelExporter",
    "PrometheusMetrics",
    "Span",
    "SpanBuffer",
    "TokenTracer",
    "TraceContext",
    "TraceContextMiddleware",
    "TraceSpan",
    "TracingMiddleware",
    "create_propagator",
    "span_buffer",
]

if TYPE_CHECKING:
    from synapsekit._budget import BudgetGuard, BudgetLimit, CircuitState
    from synapsekit._exceptions import BudgetExceeded
    from synapsekit._otel_metrics import GenAIMetricsSink
    from synapsekit._propagation import TraceContext
    from synapsekit.observability._asgi import TraceContextMiddleware
    from synapsekit.observability._cost_tracker import CostRecord, CostTracker
    from synapsekit.observability._distributed import DistributedTracer, TraceSpan, create_propagator
    from synapsekit.observability._otel_exporter import OTelExporter
    from synapsekit.observability._prometheus import PrometheusMetrics
    from synapsekit.observability._span import Span, SpanBuffer, span_buffer
    from synapsekit.observability._token_tracer import TokenTracer
    from synapsekit.observability._tracing_middleware import TracingMiddleware

__getattr__: Any = lazy_getattr(__name__, _PUBLIC, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
