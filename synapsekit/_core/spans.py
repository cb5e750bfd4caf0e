"""OpenTelemetry spans for LLM calls, following the GenAI semantic conventions.

OpenTelemetry is imported only once something else imported it: if no code in the process has imported
``opentelemetry.trace`` there can be no tracer provider, so no span is built and nothing is imported. With
the API present but no SDK provider installed, spans are skipped too — accounting never waits on tracing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from synapsekit import semconv
from synapsekit._core.span_attributes import (
    is_plain_scalar_type,
    is_str_type,
    set_new_span_attributes,
    set_span_attributes,
)

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall

TRACER_NAME = "synapsekit"
OTEL_TRACE_MODULE = "opentelemetry.trace"
SDK_TRACE_MODULE = "opentelemetry.sdk.trace"
SDK_EXPORT_MODULE = "opentelemetry.sdk.trace.export"
SDK_SAMPLING_MODULE = "opentelemetry.sdk.trace.sampling"

# The OpenTelemetry API pieces a span needs, imported once on first use (an import statement, or a lookup
# through a loader function, on every call costs more than setting an attribute).
_trace: Any = None
_context: Any = None
_client_kind: Any = None
# (provider, its tracer) for the last tracer provider seen: the global one rarely changes.
_last_tracer: tuple[Any, Any] = (None, None)
# (tracer, its sampler, its span processors, whether a span's attributes may be written after it started) for
# the last tracer a span was started with: see _check_start.
_start_state: tuple[Any, Any, Any, bool] = (None, None, None, False)


def _load_api() -> None:
    global _trace, _context, _client_kind
    from opentelemetry import context, trace

    _context, _client_kind, _trace = context, trace.SpanKind.CLIENT, trace


def active_tracer() -> Any:
    """Our tracer from the installed OpenTelemetry SDK tracer provider; ``None`` when none is installed."""
    global _last_tracer
    trace = sys.modules.get(OTEL_TRACE_MODULE)
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    last_provider, tracer = _last_tracer
    if provider is last_provider:
        return tracer
    if isinstance(provider, trace.ProxyTracerProvider):
        return None
    from synapsekit._version import __version__

    tracer = trace.get_tracer(TRACER_NAME, __version__, tracer_provider=provider)
    _last_tracer = (provider, tracer)
    return tracer


def tracing_active() -> bool:
    """True when an OpenTelemetry SDK tracer provider is installed (spans would be recorded)."""
    return active_tracer() is not None


def get_tracer() -> Any:
    """Our tracer from the global tracer provider (a no-op tracer when no SDK is installed)."""
    tracer = active_tracer()
    if tracer is None:
        if _trace is None:
            _load_api()
        tracer = _trace.get_tracer(TRACER_NAME)
    return tracer


def start(call: LLMCall, *, start_time_ns: int | None = None) -> None:
    tracer = active_tracer()
    if tracer is None:
        return
    if _trace is None:
        _load_api()
    # The request's sampling-relevant attributes (GenAI conventions), built here rather than in helpers:
    # this runs on every traced call. The rest are set when the span ends.
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: call.operation,
        semconv.GEN_AI_PROVIDER_NAME: call.provider,
    }
    model = call.request_model
    if model:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if call.server_address:
        attributes[semconv.SERVER_ADDRESS] = call.server_address
    if call.server_port is not None:
        attributes[semconv.SERVER_PORT] = call.server_port
    if call.attributes:
        for key, value in call.attributes.items():
            if isinstance(value, (str, bool, int, float)):
                attributes[key] = value
    name = f"{call.operation} {model}" if model else call.operation
    state = _start_state
    if tracer is not state[0] or (
        state[3]
        and (tracer.sampler is not state[1] or tracer.span_processor._span_processors is not state[2])
    ):
        state = _check_start(tracer)
    if state[3]:
        # Nothing reads the attributes before the span has started (see _check_start): they are written
        # after, without the SDK's validation when that stores the same (set_new_span_attributes).
        span = call.span = tracer.start_span(name, kind=_client_kind, start_time=start_time_ns)
        set_new_span_attributes(span, attributes)
    else:
        call.span = tracer.start_span(
            name, kind=_client_kind, attributes=attributes, start_time=start_time_ns
        )


def _check_start(tracer: Any) -> tuple[Any, Any, Any, bool]:
    """Whether ``tracer`` starts a span with attributes written after ``start_span`` exactly as with them
    passed to it, remembered for the tracer, its sampler and its span processors.

    ``start_span`` hands its attributes to the sampler, puts those of the sampling result (for the SDK's own
    samplers: the same ones, unless the span is dropped) through the SDK's validation into the new span,
    then tells the span processors it started. So when the tracer is the SDK's, its sampler one of the SDK's
    own (which decide without reading attributes and add none) and its processors ones whose ``on_start``
    does nothing (the SDK's batch and simple exporting processors), writing them right after the span
    started stores exactly the same, and nobody could have looked in between. Anything else (a sampler
    that may read them, a processor that may look at the span as it starts) gets them at ``start_span``.
    """
    global _start_state
    sdk_trace = sys.modules.get(SDK_TRACE_MODULE)
    quiet = False
    sampler = processors = None
    if sdk_trace is not None and type(tracer) is getattr(sdk_trace, "Tracer", None):
        sampler = getattr(tracer, "sampler", None)
        multi = getattr(tracer, "span_processor", None)
        processors = getattr(multi, "_span_processors", None)
        quiet = (
            type(multi) is getattr(sdk_trace, "SynchronousMultiSpanProcessor", None)
            and type(processors) is tuple
            and all(_quiet_on_start(processor) for processor in processors)
            and _blind_to_attributes(sampler)
        )
    _start_state = state = (tracer, sampler, processors, quiet)
    return state


def _quiet_on_start(processor: Any) -> bool:
    export = sys.modules.get(SDK_EXPORT_MODULE)
    return export is not None and type(processor) in (
        getattr(export, "BatchSpanProcessor", None),
        getattr(export, "SimpleSpanProcessor", None),
    )


def _blind_to_attributes(sampler: Any) -> bool:
    """The SDK's own samplers, which decide without the attributes, add none and return them unchanged: a
    static or ratio sampler, or a parent-based one delegating to those only."""
    sampling = sys.modules.get(SDK_SAMPLING_MODULE)
    if sampling is None:
        return False
    leaves = tuple(
        getattr(sampling, name, None)
        for name in ("StaticSampler", "TraceIdRatioBased", "_AlwaysOff", "_AlwaysOn")
    )
    if type(sampler) in leaves:
        return True
    parents = tuple(
        getattr(sampling, name, None)
        for name in (
            "ParentBased",
            "ParentBasedTraceIdRatio",
            "_ParentBasedAlwaysOff",
            "_ParentBasedAlwaysOn",
        )
    )
    delegates = (
        "_root",
        "_remote_parent_sampled",
        "_remote_parent_not_sampled",
        "_local_parent_sampled",
        "_local_parent_not_sampled",
    )
    return type(sampler) in parents and all(
        type(getattr(sampler, name, None)) in leaves for name in delegates
    )


def attach(span: Any) -> Any:
    """Make ``span`` the current span (it may come from elsewhere than :func:`start`, e.g. an SDK's own)."""
    if _trace is None:
        _load_api()
    return _context.attach(_trace.set_span_in_context(span))


def detach(token: Any) -> None:
    _context.detach(token)  # a token comes from attach: the API is loaded


def start_late(call: LLMCall) -> None:
    """An outer layer (a BaseLLM with no instrumented SDK under it) turned out to be the wire: its span
    starts now, back-dated to the call's start, before the scopes see the call (budget events need it)."""
    if call.span is None and not call.wire and tracing_active():
        start(call, start_time_ns=int(call.start_time * 1e9))


def end(call: LLMCall) -> None:
    span = call.span
    if span is None:
        return
    if not span.is_recording():
        span.end()
        return
    # Request attributes no sampler reads are set here with the response's: an attribute passed to
    # start_span costs the SDK's validation, one written at the end does not (see span_attributes).
    attributes: dict[str, Any] = {}
    if call.max_output_tokens is not None:
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = call.max_output_tokens
    if call.streamed:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    if call.span_attributes:
        attributes.update(call.span_attributes)
    if call.response_model:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = call.response_model
    if call.response_id:
        attributes[semconv.GEN_AI_RESPONSE_ID] = call.response_id
    # What the instrumentor read from the request and the response is checked here, all at once and in C
    # (set_span_attributes writes directly only plain values); what follows is ours and plain by
    # construction (counts checked as ints by record_usage, the cost a float, flags, the error's type name),
    # save the finish reasons and the budget's notes (a budget's name is the user's), checked as they come.
    # (span_attributes.plain_scalars's expression in place: a frame fewer on every traced call.)
    plain = all(map(is_plain_scalar_type, map(type, attributes.values())))
    reasons = call.finish_reasons
    if reasons:
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons  # a tuple, as stored
        if type(reasons) is not tuple or not all(map(is_str_type, map(type, reasons))):
            plain = False
    if call.rejected:
        # Never sent: there is no usage or cost to report, only the rejection (error.type below).
        pass
    elif call.input_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = call.input_tokens
    if call.output_tokens is not None and not call.rejected:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = call.output_tokens
    if call.cached_input_tokens:
        attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = call.cached_input_tokens
    if call.cache_creation_input_tokens:
        attributes[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = call.cache_creation_input_tokens
    if call.reasoning_tokens:
        attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = call.reasoning_tokens
    if not call.rejected:
        # call.cost, its property's body in place: priced on first read, read once.
        priced = call._cost
        if priced is False:
            priced = call._priced()
        if priced is not None:
            attributes[semconv.GEN_AI_USAGE_COST] = float(priced.total)  # type: ignore[union-attr]
        else:
            attributes[semconv.SYNAPSEKIT_COST_UNKNOWN] = True
    if call.usage_estimated:
        attributes[semconv.SYNAPSEKIT_USAGE_ESTIMATED] = True
    if call.time_to_first_chunk_s is not None:
        attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.time_to_first_chunk_s
    budget_notes = call.budget_attributes
    if budget_notes:
        attributes.update(budget_notes)
        if not all(map(is_plain_scalar_type, map(type, budget_notes.values()))):
            plain = False
    if call.input_messages is not None or call.output_messages is not None:
        _add_content(attributes, call)
    if call.error_type is not None:
        from opentelemetry.trace import Status, StatusCode

        attributes[semconv.ERROR_TYPE] = call.error_type
        span.set_status(Status(StatusCode.ERROR, str(call.error) if call.error is not None else None))
        if call.error is not None:
            span.record_exception(call.error)
    set_span_attributes(span, attributes, plain)
    span.end()


def _add_content(attributes: dict[str, Any], call: LLMCall) -> None:
    """Prompt and completion content, only when the user opted in, after their redaction hook."""
    from synapsekit._core import config as _config

    if not call.capture_content:
        return
    import json

    redact = _config.redactor()
    for key, messages in (
        (semconv.GEN_AI_INPUT_MESSAGES, call.input_messages),
        (semconv.GEN_AI_OUTPUT_MESSAGES, call.output_messages),
    ):
        if messages is None:
            continue
        if redact is not None:
            redacted = redact(messages)
            if redacted is None:
                continue
            messages = redacted
        attributes[key] = json.dumps(messages, ensure_ascii=False, default=str)
