"""An OpenTelemetry SDK set-up that does the SDK's whole path up to the wire and sends nothing.

Shared by the workspace benchmarks (``bench/_configs.py``) and the peer harness (``_scenario.py``, which runs
in virtualenvs without the workspace): standard library at import, OpenTelemetry only when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DroppingSpanExporter:
    """Counts the spans it is given (so a peer that instrumented nothing shows) and keeps none."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def dropping_tracer_provider(*, sampled: bool = True) -> tuple[Any, DroppingSpanExporter]:
    """An SDK provider as an application runs it: batch processor, exporter on its worker thread."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
    exporter = DroppingSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter
