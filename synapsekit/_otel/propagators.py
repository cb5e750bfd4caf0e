"""OpenTelemetry propagators for the formats synapsekit reads and writes: W3C Trace Context + baggage, and B3.

OpenTelemetry's own B3 propagator is a separate package; this one is built on synapsekit's header parsing
(:mod:`synapsekit._otel.propagation`), so extraction validates B3 headers exactly as ``extract_context``
does. OpenTelemetry is imported on first use only.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from synapsekit._otel.propagation import (
    B3_FLAGS,
    B3_PARENT_SPAN_ID,
    B3_SAMPLED,
    B3_SINGLE,
    B3_SPAN_ID,
    B3_TRACE_ID,
    TraceContext,
    extract_trace_context,
    trace_headers,
)

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import SpanContext


def remote_span_context(parent: TraceContext) -> SpanContext:
    from opentelemetry.trace import SpanContext, TraceFlags, TraceState

    return SpanContext(
        trace_id=int(parent["trace_id"], 16),
        span_id=int(parent["span_id"], 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if parent["sampled"] else TraceFlags.DEFAULT),
        trace_state=TraceState.from_header([parent["tracestate"]]) if parent["tracestate"] else None,
    )


def create_propagator(propagation_format: str, *, b3_single_header: bool = True) -> TextMapPropagator:
    """An OpenTelemetry ``TextMapPropagator`` for ``"w3c"`` (trace context + baggage) or ``"b3"``.

    The W3C one also writes the identity of a budget opened with ``propagate=True`` into the baggage.
    """
    if propagation_format == "w3c":
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from synapsekit._otel.budget_baggage import budget_baggage_propagator

        return CompositePropagator([TraceContextTextMapPropagator(), budget_baggage_propagator()])
    if propagation_format == "b3":
        b3_propagator: Any = _b3_propagator_type()
        propagator: TextMapPropagator = b3_propagator(single_header=b3_single_header)
        return propagator
    raise ValueError(f'propagation_format must be "w3c" or "b3", got {propagation_format!r}')


@functools.cache
def _b3_propagator_type() -> type[TextMapPropagator]:
    """The B3 ``TextMapPropagator`` class, defined on first use so that importing synapsekit does not
    import OpenTelemetry."""
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import (
        CarrierT,
        Getter,
        Setter,
        TextMapPropagator,
        default_getter,
        default_setter,
    )

    header_names = (B3_SINGLE, B3_TRACE_ID, B3_SPAN_ID, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_FLAGS)

    class B3Propagator(TextMapPropagator):
        """Reads B3 single and multi headers; writes the single ``b3`` header or the ``X-B3-*`` headers."""

        def __init__(self, single_header: bool = True) -> None:
            self.single_header = single_header

        def extract(
            self,
            carrier: CarrierT,
            context: Context | None = None,
            getter: Getter[CarrierT] = default_getter,
        ) -> Context:
            if context is None:
                context = Context()
            found: list[tuple[str, str]] = []
            for name in header_names:
                # The default getter is case-sensitive on plain dicts; try the two spellings seen in practice.
                for spelling in dict.fromkeys((name.lower(), name)):
                    values = getter.get(carrier, spelling)
                    if values:
                        found.extend((name, value) for value in values)
                        break
            parent = extract_trace_context(found, "b3")
            if parent is None or parent["format"] != "b3":
                return context
            return trace.set_span_in_context(trace.NonRecordingSpan(remote_span_context(parent)), context)

        def inject(
            self,
            carrier: CarrierT,
            context: Context | None = None,
            setter: Setter[CarrierT] = default_setter,
        ) -> None:
            span_context = trace.get_current_span(context).get_span_context()
            if not span_context.is_valid:
                return
            headers = trace_headers(
                "b3",
                f"{span_context.trace_id:032x}",
                f"{span_context.span_id:016x}",
                span_context.trace_flags.sampled,
                b3_single_header=self.single_header,
            )
            for name, value in headers.items():
                setter.set(carrier, name, value)

        @property
        def fields(self) -> set[str]:
            return {B3_SINGLE} if self.single_header else {B3_TRACE_ID, B3_SPAN_ID, B3_SAMPLED}

    return B3Propagator
