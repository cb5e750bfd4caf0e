"""Public names of ``synapsekit.observability``, listed once.

Type checkers read this stub; at run time ``__init__.py`` reads the same lines to load each name
lazily and to build ``__all__`` (see :mod:`synapsekit._core.lazy`). Add a public name here and nowhere else.
"""

from synapsekit._budget.circuit import CircuitState as CircuitState
from synapsekit._budget.limit import BudgetLimit as BudgetLimit
from synapsekit._core.exceptions import BudgetExceeded as BudgetExceeded
from synapsekit._otel.accounting import OTelExportStats as OTelExportStats
from synapsekit._otel.exporter import OTelExporter as OTelExporter
from synapsekit._otel.metrics import GenAIMetricsSink as GenAIMetricsSink
from synapsekit._otel.propagation import TraceContext as TraceContext
from synapsekit._otel.propagators import create_propagator as create_propagator
from synapsekit._prometheus.metrics import PrometheusMetrics as PrometheusMetrics
from synapsekit.observability._asgi import TraceContextMiddleware as TraceContextMiddleware
from synapsekit.observability._budget_guard import BudgetGuard as BudgetGuard
from synapsekit.observability._cost_tracker import (
    CostRecord as CostRecord,
    CostTracker as CostTracker,
)
from synapsekit.observability._distributed import (
    DistributedTracer as DistributedTracer,
    TraceSpan as TraceSpan,
)
from synapsekit.observability._span import (
    Span as Span,
    SpanBuffer as SpanBuffer,
    span_buffer as span_buffer,
)
from synapsekit.observability._token_tracer import TokenTracer as TokenTracer
from synapsekit.observability._tracing_middleware import TracingMiddleware as TracingMiddleware
