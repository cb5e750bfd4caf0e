"""An OpenTelemetry SDK span exporter that appends each finished span to a file as one JSON line.

Shared by the two service processes of the end-to-end test, so that the test reads what each process
really exported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(_as_dict(span), sort_keys=True) + "\n" for span in spans]
        with self._lock, open(self._path, "a", encoding="utf-8") as output:
            output.writelines(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _as_dict(span: ReadableSpan) -> dict[str, object]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "parent_is_remote": span.parent.is_remote if span.parent else None,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "service_name": span.resource.attributes.get("service.name"),
    }


def install(service_name: str, spans_path: str) -> TracerProvider:
    """Set this process's global tracer provider, exporting each span as soon as it ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(spans_path)))
    trace.set_tracer_provider(provider)
    return provider
