"""``Span``: the in-process view of a finished span, and a bounded buffer that collects them.

The OpenTelemetry SDK owns spans; :class:`SpanBuffer` is an SDK span processor that converts each finished
span into the spec's :class:`Span` dataclass for in-process consumers (``PrometheusMetrics.record_span``,
tests, the demo's trace tree). It keeps at most ``maxlen`` spans — the oldest are dropped — so memory stays
bounded however long the process runs.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

DEFAULT_BUFFER_SIZE = 2048
INSTALL_HINT = 'span_buffer() needs the OpenTelemetry SDK: pip install "synapsekit[otel]"'


@dataclass
class Span:
    span_id: str
    trace_id: str
    parent_span_id: str | None
    name: str
    start_time: datetime
    end_time: datetime | None
    duration_ms: float | None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "unset"  # "ok", "error", "unset"
    error: str | None = None


def _time(nanoseconds: int | None) -> datetime | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=timezone.utc)


def span_from_otel(readable: Any) -> Span:
    """Convert an SDK ``ReadableSpan`` into a :class:`Span` (ids as lower-case hex).

    ``status`` is ``"error"`` for a span whose status is ERROR, ``"ok"`` for one that ended otherwise and
    ``"unset"`` for one that has not ended yet.
    """
    context = readable.context
    parent = readable.parent
    start_ns = readable.start_time
    end_ns = readable.end_time
    status_code = readable.status.status_code.name.lower()
    error = readable.status.description if status_code == "error" else None
    if status_code == "error" and not error:
        error = str(readable.attributes.get("error.type", "error"))
    if status_code == "error":
        status = "error"
    elif status_code == "ok" or end_ns is not None:
        # OpenTelemetry leaves a successful span UNSET (instrumentations should not set OK themselves);
        # the spec's view says "ok" for a span that ended without an error. "unset": still running.
        status = "ok"
    else:
        status = "unset"
    start_time = _time(start_ns)
    return Span(
        span_id=format(context.span_id, "016x"),
        trace_id=format(context.trace_id, "032x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=readable.name,
        start_time=start_time if start_time is not None else datetime.now(timezone.utc),
        end_time=_time(end_ns),
        duration_ms=(end_ns - start_ns) / 1e6 if end_ns is not None and start_ns is not None else None,
        attributes=dict(readable.attributes or {}),
        events=[
            {
                "name": event.name,
                "timestamp": _time(event.timestamp),
                "attributes": dict(event.attributes or {}),
            }
            for event in readable.events
        ],
        status=status,
        error=error,
    )


class SpanBuffer:
    """An OpenTelemetry SDK span processor keeping the last ``maxlen`` finished spans as :class:`Span`.

    ``listeners`` are called with each finished :class:`Span` (e.g. ``PrometheusMetrics.record_span``).
    """

    def __init__(self, maxlen: int = DEFAULT_BUFFER_SIZE) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int):
            raise TypeError(f"maxlen must be an int, got {type(maxlen).__name__} {maxlen!r}")
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        self._spans: collections.deque[Span] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[Span], None], ...] = ()

    # -- the SpanProcessor interface ---------------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
        # Called by recent SDKs on every processor just before a span ends.
        return None

    def on_end(self, span: Any) -> None:
        converted = span_from_otel(span)
        with self._lock:
            self._spans.append(converted)
        for listener in self._listeners:
            try:
                listener(converted)
            except Exception as exc:
                from synapsekit._core.errors import report_internal_error

                report_internal_error("span_buffer.listener", exc)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- reading -------------------------------------------------------------------------------------------
    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def add_listener(self, listener: Callable[[Span], None]) -> None:
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[Span], None]) -> None:
        self._listeners = tuple(existing for existing in self._listeners if existing != listener)


_global_buffer: SpanBuffer | None = None
_global_lock = threading.Lock()


def span_buffer(maxlen: int = DEFAULT_BUFFER_SIZE) -> SpanBuffer:
    """The process's span buffer, attached to the global SDK tracer provider on first use.

    Requires ``synapsekit[otel]`` and an installed SDK tracer provider (``OTelExporter(...).install()`` or
    your own); if the global provider is not an SDK one yet, an SDK provider is installed.
    """
    global _global_buffer
    with _global_lock:
        if _global_buffer is None:
            from opentelemetry import trace

            try:
                from opentelemetry.sdk.trace import TracerProvider
            except ImportError as exc:
                raise ImportError(INSTALL_HINT) from exc

            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                provider = TracerProvider()
                trace.set_tracer_provider(provider)
            buffer = SpanBuffer(maxlen)
            provider.add_span_processor(buffer)  # type: ignore[arg-type]
            _global_buffer = buffer
        return _global_buffer
