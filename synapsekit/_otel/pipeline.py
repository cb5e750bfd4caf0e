"""The SDK side of an OTelExporter installation: counting wrappers around the OTLP exporters.

They sit between the SDK's BatchSpanProcessor / PeriodicExportingMetricReader and the OTLP exporters,
report each export's outcome to :class:`~synapsekit._otel.accounting.ExportCounts`, and give shutdown a
way to stop waiting: :meth:`CountingSpanExporter.cut_off` refuses every later export at once (counted as
dropped) and shuts the OTLP exporter down, which closes its channel or session and so ends the export in
flight (gRPC) or leaves it to a daemon thread that exit does not wait for (HTTP).

Imported only when an ``OTelExporter`` installs, so ``import synapsekit`` never loads the SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from synapsekit._otel.accounting import ExportCounts

__all__ = ["CountingMetricExporter", "CountingSpanExporter", "CountingSpanProcessor", "count_points"]


class _Cutoff:
    """Stop exporting: once set, exports fail at once; the wrapped exporter is shut down exactly once."""

    def __init__(self, shut_down_inner: Any) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._inner_shut_down = False
        self._shut_down_inner = shut_down_inner

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        self.shut_down_inner()

    def shut_down_inner(self, **kwargs: Any) -> None:
        with self._lock:
            if self._inner_shut_down:
                return  # the SDK warns on a second shutdown of an OTLP exporter
            self._inner_shut_down = True
        self._shut_down_inner(**kwargs)


class CountingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, counts: ExportCounts) -> None:
        self._inner = inner
        self._counts = counts
        self._cutoff = _Cutoff(inner.shutdown)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._cutoff.is_set:
            self._counts.span_export_finished(len(spans), succeeded=False)
            return SpanExportResult.FAILURE
        result = SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        finally:
            self._counts.span_export_finished(len(spans), succeeded=result is SpanExportResult.SUCCESS)
        return result

    def cut_off(self) -> None:
        self._cutoff.set()

    def shutdown(self) -> None:
        self._cutoff.shut_down_inner()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def count_points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in metrics_data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


class CountingMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, counts: ExportCounts) -> None:
        # The reader asks its exporter for these; the OTLP exporter's choices must stay in force.
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._counts = counts
        self._cutoff = _Cutoff(inner.shutdown)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        points = count_points(metrics_data)
        self._counts.points_export_started(points)
        result = MetricExportResult.FAILURE
        try:
            if not self._cutoff.is_set:
                result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        finally:
            self._counts.points_export_finished(points, succeeded=result is MetricExportResult.SUCCESS)
        return result

    def cut_off(self) -> None:
        self._cutoff.set()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._cutoff.shut_down_inner(timeout_millis=timeout_millis, **kwargs)


class CountingSpanProcessor(SpanProcessor):
    """Counts the spans handed to the batch processor, so that shutdown can say how many never left."""

    def __init__(self, inner: SpanProcessor, counts: ExportCounts) -> None:
        self._inner = inner
        self._counts = counts

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context)

    def _on_ending(self, span: Span) -> None:
        self._inner._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        # The batch processor exports sampled spans only; the others are not ours to count.
        if span.context is not None and span.context.trace_flags.sampled:
            self._counts.span_ended()
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)
