"""Capture finished spans in memory, for tests (ours and users').

OpenTelemetry lets a process install its global tracer provider once, so this installs one SDK provider
with a synchronous in-memory exporter the first time it is asked and hands back the same exporter after.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_exporter: Any = None


def install_global_span_capture() -> Any:
    """Return an ``InMemorySpanExporter`` receiving every span of the process (installed once)."""
    global _exporter
    with _lock:
        if _exporter is not None:
            return _exporter
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _exporter = exporter
        return exporter
