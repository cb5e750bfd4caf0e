"""``TracingMiddleware``: a span for every public async call of an LLM or a pipeline.

Spans are named ``<kind>.<method>`` — ``llm.generate``, ``llm.stream`` for a ``BaseLLM``, ``rag.aquery``,
``rag.aadd`` for a RAG pipeline, ``<class name lower-case>.<method>`` otherwise. Each span is current while
the call runs, so the LLM calls made underneath become its children; it also carries the tokens and cost of
those calls (``gen_ai.usage.*``), which is what ``PrometheusMetrics.record_span`` reads. Inputs and outputs
are recorded as configured and truncated; other attributes of the component pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from synapsekit import semconv
from synapsekit._core.context import leave_scope, push_scope
from synapsekit._core.scope import Tally
from synapsekit.observability._facade import shown

if TYPE_CHECKING:
    from synapsekit._llms.base import BaseLLM
    from synapsekit.rag._rag import RAGPipeline


def _component_kind(component: Any) -> str:
    from synapsekit._llms.base import BaseLLM

    if isinstance(component, BaseLLM) or (hasattr(component, "generate") and hasattr(component, "stream")):
        return "llm"
    if hasattr(component, "aquery"):
        return "rag"
    return type(component).__name__.lower()


def _has_public_async_method(component: object) -> bool:
    cls = type(component)
    for name in dir(cls):
        if name.startswith("_"):
            continue
        # The class attribute, so that no property of the component runs while it is being checked.
        attribute = inspect.getattr_static(cls, name, None)
        if isinstance(attribute, staticmethod | classmethod):
            attribute = attribute.__func__
        if inspect.iscoroutinefunction(attribute) or inspect.isasyncgenfunction(attribute):
            return True
    return False


def _check_component(component: object) -> None:
    from synapsekit._llms.base import BaseLLM

    if (
        isinstance(component, BaseLLM)
        # A duck-typed LLM, a RAGPipeline, or a wrapper forwarding them through __getattr__.
        or callable(getattr(component, "generate", None))
        or callable(getattr(component, "aquery", None))
        or _has_public_async_method(component)
    ):
        return
    raise TypeError(
        "component must be a BaseLLM, a RAGPipeline or an object with public async methods,"
        f" got {shown(component)}"
    )


def _check_bool(name: str, value: object) -> bool:
    # Strict: "no" and 0 are truthy/falsy by accident, not a decision about recording prompts.
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {shown(value)}")
    return value


def _check_length(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {shown(value)}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


class TracingMiddleware:
    """Wraps an LLM or RAG pipeline to create a span for every public async call."""

    def __init__(
        self,
        component: BaseLLM | RAGPipeline,
        tracer_name: str = "synapsekit",
        record_inputs: bool = True,
        record_outputs: bool = True,
        max_input_length: int = 500,
        max_output_length: int = 500,
    ) -> None:
        _check_component(component)
        if not isinstance(tracer_name, str):
            raise TypeError(f"tracer_name must be a str, got {shown(tracer_name)}")
        if not tracer_name:
            raise ValueError("tracer_name must not be empty")
        self._component: Any = component
        self.tracer_name = tracer_name
        self.record_inputs = _check_bool("record_inputs", record_inputs)
        self.record_outputs = _check_bool("record_outputs", record_outputs)
        self.max_input_length = _check_length("max_input_length", max_input_length)
        self.max_output_length = _check_length("max_output_length", max_output_length)
        self._kind = _component_kind(component)
        self._wrapped: dict[str, Callable[..., Any]] = {}

    @property
    def component(self) -> Any:
        return self._component

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            # Private attributes of the component pass through untraced.
            return getattr(self._component, name)
        cached = self._wrapped.get(name)
        if cached is not None:
            return cached
        attribute = getattr(self._component, name)
        if inspect.isasyncgenfunction(attribute):
            wrapped: Callable[..., Any] = self._trace_stream(name, attribute)
        elif inspect.iscoroutinefunction(attribute):
            wrapped = self._trace_coroutine(name, attribute)
        else:
            return attribute
        self._wrapped[name] = wrapped
        return wrapped

    # -- span building -----------------------------------------------------------------------------------
    def _tracer(self) -> Any:
        from opentelemetry import trace

        return trace.get_tracer(self.tracer_name)

    def _start(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        attributes: dict[str, Any] = {semconv.SYNAPSEKIT_COMPONENT: type(self._component).__name__}
        model = getattr(self._component, "model", None)
        if self._kind == "llm" and isinstance(model, str):
            attributes[semconv.GEN_AI_REQUEST_MODEL] = model
            provider = getattr(self._component, "provider_name", None)
            if isinstance(provider, str):
                attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
        if self.record_inputs:
            if args:
                value = args[0] if len(args) == 1 else list(args)
            else:
                value = kwargs
            text = value if isinstance(value, str) else repr(value)
            attributes[semconv.SYNAPSEKIT_INPUT] = _truncate(text, self.max_input_length)
        return self._tracer().start_span(f"{self._kind}.{method}", attributes=attributes)

    def _end(self, span: Any, tally: Tally, output: Any, exc: BaseException | None) -> None:
        if tally.calls:
            span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, tally.input_tokens)
            span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, tally.output_tokens)
            if tally.unknown_cost_calls:
                span.set_attribute(semconv.SYNAPSEKIT_COST_UNKNOWN, True)
            span.set_attribute(semconv.GEN_AI_USAGE_COST, tally.cost_usd)
            model = {call.model for call in tally.finished_calls}
            if len(model) == 1:
                (only,) = model
                if only:
                    span.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, only)
        if exc is not None:
            from opentelemetry.trace import Status, StatusCode

            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"))
            span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)
        elif self.record_outputs and output is not None:
            text = output if isinstance(output, str) else repr(output)
            span.set_attribute(semconv.SYNAPSEKIT_OUTPUT, _truncate(text, self.max_output_length))
        span.end()

    def _trace_coroutine(self, method: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def traced_call(*args: Any, **kwargs: Any) -> Any:
            from opentelemetry import context, trace

            span = self._start(method, args, kwargs)
            tally = Tally(keep_calls=True)
            token = context.attach(trace.set_span_in_context(span))
            push_scope(tally)
            try:
                result = await function(*args, **kwargs)
            except BaseException as exc:
                self._end(span, tally, None, exc)
                raise
            finally:
                leave_scope(tally)
                context.detach(token)
            self._end(span, tally, result, None)
            return result

        return traced_call

    def _trace_stream(self, method: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def traced_stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            from opentelemetry import context, trace

            span = self._start(method, args, kwargs)
            tally = Tally(keep_calls=True)
            chunks = function(*args, **kwargs)
            pieces: list[str] = []
            error: BaseException | None = None
            try:
                while True:
                    # Current span and scope only while the inner stream runs, never across our yield.
                    token = context.attach(trace.set_span_in_context(span))
                    push_scope(tally)
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        leave_scope(tally)
                        context.detach(token)
                    if self.record_outputs and isinstance(chunk, str):
                        pieces.append(chunk)
                    yield chunk
            except GeneratorExit:
                await chunks.aclose()
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._end(span, tally, "".join(pieces) if self.record_outputs else None, error)

        return traced_stream

    def __repr__(self) -> str:
        return f"TracingMiddleware({self._component!r})"
