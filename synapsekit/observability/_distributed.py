"""DistributedTracer and TraceSpan: one trace across services, propagated as W3C Trace Context or B3.

Spans are OpenTelemetry API spans, so they are exported by whatever SDK the application configured
(``OTelExporter`` or its own). OpenTelemetry is imported lazily: importing this module stays cheap.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, cast

from synapsekit import semconv
from synapsekit._budget.remote import BAGGAGE_KEY, JoinResult, join
from synapsekit._core.context import leave_scope, push_scope
from synapsekit._core.errors import report_internal_error
from synapsekit._otel.budget_baggage import outgoing_budget_identity
from synapsekit._otel.exporter import tracer_provider_for_service
from synapsekit._otel.propagation import (
    PROPAGATION_FORMATS,
    PropagationFormat,
    TraceContext,
    extract_trace_context,
    parse_tracestate,
    set_headers,
    trace_headers,
)
from synapsekit._otel.propagators import create_propagator, remote_span_context

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Span, SpanContext, Tracer, TracerProvider
    from opentelemetry.util.types import AttributeValue

SpanKindName = Literal["internal", "server", "client", "producer", "consumer"]

SERVICE_NAME_ATTRIBUTE = "synapsekit.service.name"
_TRACER_NAME = "synapsekit"
_HOOK_MARKER = "__synapsekit_trace_context_hook__"
_PRIMITIVE_ATTRIBUTE_TYPES = (bool, str, int, float)


def _random_hex_id(hex_digits: int) -> str:
    while True:  # an all-zero id is invalid in both W3C and B3; vanishingly rare, but never emit one
        value = secrets.token_hex(hex_digits // 2)
        if value.strip("0"):
            return value


def _attribute_value(value: object) -> AttributeValue | None:
    """Coerce ``value`` to what OpenTelemetry accepts; ``None`` means "do not record"."""
    if value is None:
        return None
    if isinstance(value, _PRIMITIVE_ATTRIBUTE_TYPES):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        items = list(value)
        for kind in _PRIMITIVE_ATTRIBUTE_TYPES:
            # bool first: True is an int too, and a mixed list must not be half bools.
            if all(type(item) is kind for item in items):
                return cast("AttributeValue", tuple(items))
        return tuple(str(item) for item in items)
    return str(value)


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    coerced: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        attribute = _attribute_value(value)
        if attribute is not None:
            coerced[str(key)] = attribute
    return coerced


def _validated_parent(parent: object) -> TraceContext:
    """Re-check a parent mapping: it may have been built by hand rather than by ``extract_context``."""
    if not isinstance(parent, Mapping):
        # A raw header value (say a traceparent string) is the usual mistake: point at the parser.
        raise TypeError(
            "parent_context must be the dict returned by extract_context(headers), a TraceSpan or None, "
            f"got {type(parent).__name__} {parent!r:.80}"
        )
    trace_id, span_id = parent.get("trace_id"), parent.get("span_id")
    if not isinstance(trace_id, str) or len(trace_id) != 32 or not _is_nonzero_lower_hex(trace_id):
        raise ValueError(f"parent_context['trace_id'] must be 32 lower-case hex digits, got {trace_id!r}")
    if not isinstance(span_id, str) or len(span_id) != 16 or not _is_nonzero_lower_hex(span_id):
        raise ValueError(f"parent_context['span_id'] must be 16 lower-case hex digits, got {span_id!r}")
    tracestate = parent.get("tracestate")
    baggage = parent.get("baggage") or {}
    if not isinstance(baggage, Mapping):
        raise ValueError("parent_context['baggage'] must be a mapping of str to str")
    return TraceContext(
        trace_id=trace_id,
        span_id=span_id,
        sampled=bool(parent.get("sampled", True)),
        format="b3" if parent.get("format") == "b3" else "w3c",
        tracestate=parse_tracestate([tracestate]) if isinstance(tracestate, str) else None,
        baggage={k: v for k, v in baggage.items() if isinstance(k, str) and isinstance(v, str)},
    )


def _is_nonzero_lower_hex(value: str) -> bool:
    return all(char in "0123456789abcdef" for char in value) and value.strip("0") != ""


class TraceSpan:
    """A span started by :meth:`DistributedTracer.start_span`.

    Use it as a context manager (``with`` or ``async with``): inside the block it is the current
    OpenTelemetry span, so OpenTelemetry spans started there (LLM calls, ``@traced`` functions, nested
    ``start_span``) become its children; an exception escaping the block is recorded and sets the status
    to error; the span ends when the block exits. Without a ``with`` block, call :meth:`end` yourself.
    """

    def __init__(
        self,
        name: str,
        otel_span: Span,
        parent_span_id: str | None,
        base_context: Context,
        joined_budget: JoinResult | None = None,
    ) -> None:
        self.name = name
        self._span = otel_span
        self._base_context = base_context
        self._tokens: list[object] = []
        self._joined_budget = joined_budget
        self._ended = False
        span_context = otel_span.get_span_context()
        self.trace_id: str = f"{span_context.trace_id:032x}"
        self.span_id: str = f"{span_context.span_id:016x}"
        self.parent_span_id: str | None = parent_span_id

    def __repr__(self) -> str:
        return f"TraceSpan(name={self.name!r}, trace_id={self.trace_id!r}, span_id={self.span_id!r})"

    @property
    def otel_span(self) -> Span:
        """The underlying OpenTelemetry span."""
        return self._span

    @property
    def is_ended(self) -> bool:
        return self._ended

    @property
    def sampled(self) -> bool:
        return self._span.get_span_context().trace_flags.sampled

    def set_attribute(self, key: str, value: Any) -> None:
        """Set an attribute; a value OpenTelemetry cannot hold is recorded as ``str(value)``, ``None`` is
        skipped."""
        attribute = _attribute_value(value)
        if attribute is not None and not self._ended:
            self._span.set_attribute(key, attribute)

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        if not self._ended:
            self._span.add_event(name, attributes=_attributes(attributes))

    def record_exception(self, exc: BaseException) -> None:
        if not isinstance(exc, BaseException):
            raise TypeError(f"record_exception() needs an exception instance, got {type(exc).__name__}")
        if not self._ended:
            self._span.record_exception(exc)

    def set_status(self, status: str, description: str | None = None) -> None:
        """Set the status to ``"ok"`` or ``"error"`` (the description is kept for errors only)."""
        from opentelemetry.trace import Status, StatusCode

        if status == "ok":
            code, description = StatusCode.OK, None
        elif status == "error":
            code = StatusCode.ERROR
        else:
            raise ValueError(f'TraceSpan.set_status() takes "ok" or "error", got {status!r}')
        if not self._ended:
            self._span.set_status(Status(code, description))

    def end(self) -> None:
        """End the span; calling it again does nothing."""
        if not self._ended:
            self._ended = True
            self._span.end()

    def __enter__(self) -> TraceSpan:
        from opentelemetry import context as context_api
        from opentelemetry.trace import set_span_in_context

        self._tokens.append(context_api.attach(set_span_in_context(self._span, self._base_context)))
        joined = self._joined_budget
        if joined is not None and joined.scope is not None:
            push_scope(joined.scope)  # the caller's budget applies to every LLM call inside the block
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        from opentelemetry import context as context_api

        joined = self._joined_budget
        if joined is not None and joined.scope is not None:
            leave_scope(joined.scope)
        try:
            # Exceptions only: BaseExceptions such as GeneratorExit or CancelledError are not failures.
            if isinstance(exc, Exception):
                self.record_exception(exc)
                self.set_status("error", f"{type(exc).__name__}: {exc}")
        finally:
            if self._tokens:
                context_api.detach(cast("Any", self._tokens.pop()))
            self.end()

    async def __aenter__(self) -> TraceSpan:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class DistributedTracer:
    """Starts spans for one service and carries their trace context across process boundaries.

    ``propagation_format`` is the format written by :meth:`inject_context`, the HTTP client hook and the
    global propagator: ``"w3c"`` (``traceparent``, ``tracestate``, ``baggage``) or ``"b3"`` (the single
    ``b3`` header, or the ``X-B3-*`` headers with ``b3_single_header=False``). Extraction reads both
    formats whatever is configured, preferring the configured one.
    """

    def __init__(
        self,
        service_name: str,
        propagation_format: str = "w3c",
        *,
        b3_single_header: bool = True,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if not isinstance(service_name, str) or not service_name.strip():
            raise ValueError("service_name must be a non-empty string")
        if propagation_format not in PROPAGATION_FORMATS:
            raise ValueError(
                f'propagation_format must be "w3c" or "b3", got {propagation_format!r}'
                ' (B3 multi-header is "b3" with b3_single_header=False)'
            )
        self.service_name = service_name
        self.propagation_format: PropagationFormat = propagation_format
        self.b3_single_header = b3_single_header
        self._tracer_provider = tracer_provider
        self._tracer: Tracer | None = None
        # The provider naming this service in its resource (when synapsekit made the global one), and its tracer.
        self._service_tracer: tuple[TracerProvider, Tracer] | None = None

    def __repr__(self) -> str:
        return (
            f"DistributedTracer(service_name={self.service_name!r}, "
            f"propagation_format={self.propagation_format!r})"
        )

    def _get_tracer(self) -> Tracer:
        # Asked at every span, not once: an OTelExporter may create the global provider after this tracer.
        if self._tracer_provider is None:
            service_provider = tracer_provider_for_service(self.service_name)
            if service_provider is not None:
                if self._service_tracer is None or self._service_tracer[0] is not service_provider:
                    self._service_tracer = (service_provider, service_provider.get_tracer(_TRACER_NAME))
                return self._service_tracer[1]
        if self._tracer is None:
            from opentelemetry import trace

            # A ProxyTracer when no SDK is set yet: it follows a provider installed later.
            self._tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=self._tracer_provider)
        return self._tracer

    def start_span(
        self,
        name: str,
        parent_context: Mapping[str, Any] | TraceSpan | None = None,
        *,
        kind: SpanKindName = "internal",
    ) -> TraceSpan:
        """Start a span named ``name``.

        ``parent_context`` is a context from :meth:`extract_context` (the span joins the remote trace), a
        :class:`TraceSpan`, or ``None`` to use the current OpenTelemetry span as parent (a new trace
        when there is none). The span starts now; use it in a ``with`` block to make it current.
        """
        from opentelemetry import baggage as baggage_api, context as context_api, trace

        if not isinstance(name, str) or not name:
            raise ValueError("span name must be a non-empty string")
        span_kind = getattr(trace.SpanKind, kind.upper(), None) if isinstance(kind, str) else None
        if span_kind is None:
            raise ValueError(
                f"kind must be one of internal, server, client, producer, consumer; got {kind!r}"
            )

        base_context = context_api.get_current()
        joined_budget: JoinResult | None = None
        if isinstance(parent_context, TraceSpan):
            base_context = trace.set_span_in_context(parent_context.otel_span, base_context)
        elif parent_context is not None:
            parent = _validated_parent(parent_context)
            base_context = trace.set_span_in_context(
                trace.NonRecordingSpan(remote_span_context(parent)), base_context
            )
            for key, value in parent["baggage"].items():
                base_context = baggage_api.set_baggage(key, value, base_context)
            identity = parent["baggage"].get(BAGGAGE_KEY)
            if identity is not None:
                joined_budget = join(identity)

        parent_span_context = trace.get_current_span(base_context).get_span_context()
        otel_span = self._get_tracer().start_span(
            name,
            context=base_context,
            kind=span_kind,
            attributes={SERVICE_NAME_ATTRIBUTE: self.service_name},
        )
        otel_span = _ensure_identified(otel_span, parent_span_context)
        parent_span_id = f"{parent_span_context.span_id:016x}" if parent_span_context.is_valid else None
        if joined_budget is not None:
            _note_joined_budget(otel_span, joined_budget)
        return TraceSpan(name, otel_span, parent_span_id, base_context, joined_budget)

    def inject_context(self, headers: dict[str, str]) -> dict[str, str]:
        """Write the current span's context into ``headers`` (mutated and returned).

        The current span is whatever OpenTelemetry considers current: a ``with tracer.start_span(...)``
        block, or any other OpenTelemetry span. With no valid current span nothing is written.
        Existing fields of the same name are replaced whatever their letter case.
        """
        outgoing = self._current_headers()
        if outgoing:
            set_headers(headers, outgoing)
        return headers

    def extract_context(self, headers: object) -> TraceContext | None:
        """Read the remote parent from incoming ``headers``, or ``None`` when absent or invalid.

        ``headers`` may be a dict, a Starlette/ASGI ``Headers``, an ASGI scope or its raw header list,
        a WSGI environ, an ``http.client.HTTPMessage``/``email.message.Message``, or httpx/httpx2/requests
        headers. Header names are matched case-insensitively; both W3C and B3 are understood, the
        configured format first. The result is a plain dict (see :class:`TraceContext`) accepted by
        :meth:`start_span` as ``parent_context``. Never raises on header content.
        """
        return extract_trace_context(headers, self.propagation_format)

    def instrument_http_client(self, client: Any) -> Any:
        """Add a request hook to an httpx or httpx2 ``Client``/``AsyncClient`` that injects the current
        trace context into every request, in this tracer's format. Returns the client.

        Give the client to an LLM SDK to propagate into its requests, e.g.
        ``openai.OpenAI(http_client=tracer.instrument_http_client(httpx2.Client()))``.
        Instrumenting the same client twice adds one hook only.
        """
        hooks = getattr(client, "event_hooks", None)
        if not isinstance(hooks, Mapping) or not isinstance(hooks.get("request", []), list):
            raise TypeError(
                "instrument_http_client() needs an httpx/httpx2 Client or AsyncClient, "
                f"got {type(client).__name__}"
            )
        request_hooks = list(hooks.get("request", []))
        if any(getattr(hook, _HOOK_MARKER, None) is self for hook in request_hooks):
            return client
        hook = (
            self._async_request_hook() if inspect.iscoroutinefunction(client.send) else self._request_hook()
        )
        setattr(hook, _HOOK_MARKER, self)
        client.event_hooks = {**hooks, "request": [*request_hooks, hook]}
        return client

    def install_global_propagator(self) -> TextMapPropagator:
        """Make OpenTelemetry's global propagator use this tracer's format, so that other OpenTelemetry
        instrumentation (HTTP clients and servers) reads and writes the same headers. Returns it."""
        from opentelemetry import propagate

        propagator = create_propagator(self.propagation_format, b3_single_header=self.b3_single_header)
        propagate.set_global_textmap(propagator)
        return propagator

    def _current_headers(self) -> dict[str, str]:
        from opentelemetry import baggage as baggage_api, trace

        span_context = trace.get_current_span().get_span_context()
        if not span_context.is_valid:
            return {}
        tracestate = span_context.trace_state.to_header() if span_context.trace_state else None
        baggage: dict[str, str] = {}
        if self.propagation_format == "w3c":
            baggage = {key: str(value) for key, value in baggage_api.get_all().items()}
            identity = outgoing_budget_identity()
            if identity is not None:
                baggage[BAGGAGE_KEY] = identity  # a budget opened here wins over one joined from upstream
        return trace_headers(
            self.propagation_format,
            f"{span_context.trace_id:032x}",
            f"{span_context.span_id:016x}",
            span_context.trace_flags.sampled,
            tracestate=parse_tracestate([tracestate]) if tracestate else None,
            baggage=baggage,
            b3_single_header=self.b3_single_header,
        )

    def _inject_into_request(self, request: Any) -> None:
        try:
            outgoing = self._current_headers()
            if outgoing:
                set_headers(request.headers, outgoing)
        except Exception as exc:  # the user's request must go out even if tracing fails
            report_internal_error("DistributedTracer.http_client_hook", exc)

    def _request_hook(self) -> Any:
        def inject_trace_context(request: Any) -> None:
            self._inject_into_request(request)

        return inject_trace_context

    def _async_request_hook(self) -> Any:
        async def inject_trace_context(request: Any) -> None:
            self._inject_into_request(request)

        return inject_trace_context


def _note_joined_budget(span: Span, joined: JoinResult) -> None:
    """Which budget the request came with, and whether it joined it: never the raw header text."""
    if joined.budget_id is not None:
        span.set_attribute(semconv.SYNAPSEKIT_BUDGET_ID, joined.budget_id)
    if joined.budget_name is not None:
        span.set_attribute(semconv.SYNAPSEKIT_BUDGET_NAME, joined.budget_name)
    span.set_attribute(semconv.SYNAPSEKIT_BUDGET_JOIN, joined.refused or "joined")


def _ensure_identified(span: Span, parent: SpanContext) -> Span:
    """Give a span from a no-op tracer (no SDK configured) real ids of its own.

    The API's no-op tracer returns the parent's context (or an invalid one) unchanged; propagating that
    would make this service invisible or reuse the caller's span id. A span the SDK merely sampled out
    already has fresh ids and is kept as it is.
    """
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    span_context = span.get_span_context()
    if span.is_recording() or (span_context.is_valid and span_context.span_id != parent.span_id):
        return span
    if parent.is_valid:
        trace_id, flags, trace_state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        # No SDK anywhere upstream: mark the new trace sampled so a downstream service with an SDK records.
        trace_id, flags, trace_state = int(_random_hex_id(32), 16), TraceFlags(TraceFlags.SAMPLED), None
    return NonRecordingSpan(
        SpanContext(
            trace_id=trace_id,
            span_id=int(_random_hex_id(16), 16),
            is_remote=False,
            trace_flags=flags,
            trace_state=trace_state,
        )
    )
