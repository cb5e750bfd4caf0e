"""Runs one OTelExporter.install() scenario in a fresh interpreter and prints a JSON report on stdout.

The global TracerProvider and MeterProvider can be set only once per process, so every scenario that
installs globally runs here, in its own process; the test asserts on what its OTLP receiver got.

Usage: python otel_scenarios.py SCENARIO '{"endpoint": ..., ...}'
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from opentelemetry import metrics, trace

from synapsekit._otel.exporter import OTelExporter
from synapsekit._otel.metrics import record_genai_metrics


def _exporter(options: dict[str, Any]) -> OTelExporter:
    return OTelExporter(
        options["endpoint"],
        **options.get("kwargs", {}),
    )


def _record_calls() -> None:
    record_genai_metrics(
        operation="chat",
        provider="openai",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        input_tokens=12,
        output_tokens=38,
        duration_s=0.5,
        error_type=None,
        server_address="127.0.0.1",
        server_port=8080,
    )
    record_genai_metrics(
        operation="chat",
        provider="openai",
        request_model="gpt-4o-mini",
        response_model=None,
        input_tokens=None,
        output_tokens=None,
        duration_s=3.0,
        error_type="RateLimitError",
        server_address="127.0.0.1",
        server_port=8080,
    )


def _make_spans() -> None:
    tracer = trace.get_tracer("synapsekit.tests")
    with (
        tracer.start_as_current_span("rag.aquery", attributes={"synapsekit.input": "What is RAG?"}),
        tracer.start_as_current_span("chat gpt-4o-mini", kind=trace.SpanKind.CLIENT) as child,
    ):
        child.set_attribute("gen_ai.usage.input_tokens", 12)
        child.set_attribute("gen_ai.usage.cost", 0.00042)
        child.add_event("gen_ai.first_chunk", {"index": 0})


def export(options: dict[str, Any]) -> dict[str, Any]:
    exporter = _exporter(options).install()
    _make_spans()
    _record_calls()
    report: dict[str, Any] = {"protocol": exporter.protocol, "traces_endpoint": exporter.traces_endpoint}
    if options.get("flush", True):
        report["flushed"] = exporter.force_flush()
    # Otherwise the interpreter exits with the spans still queued: only the atexit hook can send them.
    return report


def existing_providers(options: dict[str, Any]) -> dict[str, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    resource = Resource.create({"service.name": "checkout-app"})
    app_tracer_provider = TracerProvider(resource=resource)
    app_spans = InMemorySpanExporter()
    app_tracer_provider.add_span_processor(SimpleSpanProcessor(app_spans))
    trace.set_tracer_provider(app_tracer_provider)
    app_reader = InMemoryMetricReader()
    app_meter_provider = MeterProvider(metric_readers=[app_reader], resource=resource)
    metrics.set_meter_provider(app_meter_provider)

    exporter = _exporter(options).install()
    _make_spans()
    _record_calls()
    flushed = exporter.force_flush()
    app_metrics = app_reader.get_metrics_data()
    assert app_metrics is not None
    app_metric_names = sorted(
        metric.name
        for resource_metrics in app_metrics.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )
    return {
        "flushed": flushed,
        "tracer_provider_kept": trace.get_tracer_provider() is app_tracer_provider,
        "meter_provider_kept": metrics.get_meter_provider() is app_meter_provider,
        "app_span_names": sorted(span.name for span in app_spans.get_finished_spans()),
        "app_metric_names": app_metric_names,
    }


def idempotent(options: dict[str, Any]) -> dict[str, Any]:
    first = _exporter(options)
    same_instance = first.install() is first and first.install() is first
    second = _exporter(options).install()  # another instance, same endpoint
    _make_spans()
    return {"same_instance": same_instance, "flushed": first.force_flush() and second.force_flush()}


def foreign_provider(options: dict[str, Any]) -> dict[str, Any]:
    trace.set_tracer_provider(trace.NoOpTracerProvider())
    metrics.set_meter_provider(metrics.NoOpMeterProvider())
    warnings: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("synapsekit").addHandler(_Collect(logging.WARNING))
    exporter = _exporter(options).install()
    _make_spans()
    _record_calls()
    return {"installed": exporter.installed, "warnings": warnings, "flushed": exporter.force_flush()}


def shutdown_twice(options: dict[str, Any]) -> dict[str, Any]:
    exporter = _exporter(options).install()
    _make_spans()
    exporter.shutdown()
    exporter.shutdown()
    reinstalled = _exporter(options).install()  # after shutdown, installing again starts afresh
    with trace.get_tracer("synapsekit.tests").start_as_current_span("after-reinstall"):
        pass
    return {"installed": exporter.installed, "reinstalled": reinstalled.installed}


def named_spans(options: dict[str, Any]) -> dict[str, Any]:
    """A parent and a child named after ``prefix``, for backends shared by several runs."""
    exporter = _exporter(options).install()
    prefix = options["prefix"]
    tracer = trace.get_tracer("synapsekit.tests")
    with (
        tracer.start_as_current_span(f"{prefix}.parent") as parent,
        tracer.start_as_current_span(f"{prefix}.child", kind=trace.SpanKind.CLIENT) as child,
    ):
        child.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        child.set_attribute("gen_ai.usage.input_tokens", 12)
    context = parent.get_span_context()
    return {
        "trace_id": format(context.trace_id, "032x"),
        "parent_span_id": format(context.span_id, "016x"),
        "child_span_id": format(child.get_span_context().span_id, "016x"),
        "flushed": exporter.force_flush(),
    }


def distributed_service_names(options: dict[str, Any]) -> dict[str, Any]:
    """DistributedTracers of two services, one created before OTelExporter made the global provider."""
    from synapsekit.observability._distributed import DistributedTracer

    early = DistributedTracer("gateway")
    exporter = _exporter(options).install()
    rag = DistributedTracer("rag-service")
    with early.start_span("gateway.request") as request, rag.start_span("rag.query", parent_context=request):
        trace.get_tracer("synapsekit.tests").start_span("chat gpt-4o-mini").end()
    return {"flushed": exporter.force_flush()}


SCENARIOS = {
    "distributed_service_names": distributed_service_names,
    "export": export,
    "existing_providers": existing_providers,
    "idempotent": idempotent,
    "foreign_provider": foreign_provider,
    "shutdown_twice": shutdown_twice,
    "named_spans": named_spans,
}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](json.loads(sys.argv[2]))))
