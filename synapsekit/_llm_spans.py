"""OpenTelemetry spans for LLM calls, following the GenAI semantic conventions.

OpenTelemetry is imported only once something else imported it: if no code in the process has imported
``opentelemetry.trace`` there can be no tracer provider, so no span is built and nothing is imported. With
the API present but no SDK provider installed, spans are skipped too — accounting never waits on tracing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from synapsekit import semconv

if TYPE_CHECKING:
    from synapsekit._call import LLMCall

TRACER_NAME = "synapsekit"
OTEL_TRACE_MODULE = "opentelemetry.trace"
_tracer_cache: dict[int, Any] = {}


class _API:
    """The OpenTelemetry API pieces a span needs, imported once (an import statement per call costs more
    than setting an attribute)."""

    trace: Any = None
    context: Any = None
    client_kind: Any = None

    @classmethod
    def load(cls) -> type[_API]:
        if cls.trace is None:
            from opentelemetry import context, trace

            cls.context, cls.client_kind, cls.trace = context, trace.SpanKind.CLIENT, trace
        return cls


def tracing_active() -> bool:
    """True when an OpenTelemetry SDK tracer provider is installed (spans would be recorded)."""
    trace = sys.modules.get(OTEL_TRACE_MODULE)
    if trace is None:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider)


def get_tracer() -> Any:
    trace = _API.load().trace
    provider = trace.get_tracer_provider()
    key = id(provider)
    tracer = _tracer_cache.get(key)
    if tracer is None:
        from synapsekit import __version__

        tracer = trace.get_tracer(TRACER_NAME, __version__, tracer_provider=provider)
        _tracer_cache.clear()
        _tracer_cache[key] = tracer
    return tracer


def _start_attributes(call: LLMCall) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: call.operation,
        semconv.GEN_AI_PROVIDER_NAME: call.provider,
    }
    if call.request_model:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = call.request_model
    if call.server_address:
        attributes[semconv.SERVER_ADDRESS] = call.server_address
    if call.server_port is not None:
        attributes[semconv.SERVER_PORT] = call.server_port
    if call.max_output_tokens is not None:
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = call.max_output_tokens
    if call.streamed:
        attributes[semconv.SYNAPSEKIT_STREAMED] = True
    for key, value in call.attributes.items():
        if isinstance(value, (str, bool, int, float)):
            attributes[key] = value
    return attributes


def span_name(call: LLMCall) -> str:
    return f"{call.operation} {call.request_model}" if call.request_model else call.operation


def start(call: LLMCall, *, start_time_ns: int | None = None) -> None:
    if not tracing_active():
        return
    call.span = get_tracer().start_span(
        span_name(call),
        kind=_API.load().client_kind,
        attributes=_start_attributes(call),
        start_time=start_time_ns,
    )


def attach(span: Any) -> Any:
    api = _API.load()
    return api.context.attach(api.trace.set_span_in_context(span))


def detach(token: Any) -> None:
    _API.load().context.detach(token)


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
    attributes: dict[str, Any] = {}
    if call.response_model:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = call.response_model
    if call.response_id:
        attributes[semconv.GEN_AI_RESPONSE_ID] = call.response_id
    if call.finish_reasons:
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = list(call.finish_reasons)
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
    if call.rejected:
        pass
    elif call.cost is not None:
        attributes[semconv.GEN_AI_USAGE_COST] = float(call.cost)
    elif not call.rejected:
        attributes[semconv.SYNAPSEKIT_COST_UNKNOWN] = True
    if call.usage_estimated:
        attributes[semconv.SYNAPSEKIT_USAGE_ESTIMATED] = True
    if call.time_to_first_chunk_s is not None:
        attributes[semconv.SYNAPSEKIT_TIME_TO_FIRST_CHUNK] = call.time_to_first_chunk_s
    if call.budget_attributes:
        attributes.update(call.budget_attributes)
    if call.input_messages is not None or call.output_messages is not None:
        _add_content(attributes, call)
    if call.error_type is not None:
        from opentelemetry.trace import Status, StatusCode

        attributes[semconv.ERROR_TYPE] = call.error_type
        span.set_status(Status(StatusCode.ERROR, str(call.error) if call.error is not None else None))
        if call.error is not None:
            span.record_exception(call.error)
    span.set_attributes(attributes)
    span.end()


def _add_content(attributes: dict[str, Any], call: LLMCall) -> None:
    """Prompt and completion content, only when the user opted in, after their redaction hook."""
    from synapsekit import _config

    if not _config.capture_content():
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
