"""``@traced``: a span around any function — sync, async, generator or async generator.

The span is created through the OpenTelemetry API and made current, so LLM calls and other ``@traced``
functions inside become its children. With no OpenTelemetry SDK installed the decorated function is called
straight through (one cheap check per call). Arguments and results are not recorded unless asked for.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, TypeVar, overload

from synapsekit import semconv
from synapsekit._core.spans import get_tracer, tracing_active

P = ParamSpec("P")
R = TypeVar("R")

MAX_RECORDED_LENGTH = 1000


def _truncate(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_RECORDED_LENGTH else text[: MAX_RECORDED_LENGTH - 3] + "..."


class _SpanFactory:
    __slots__ = ("attributes", "name", "record_args", "record_result")

    def __init__(self, name: str, attributes: dict[str, Any], record_args: bool, record_result: bool) -> None:
        self.name = name
        self.attributes = attributes
        self.record_args = record_args
        self.record_result = record_result

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        attributes = dict(self.attributes)
        if self.record_args:
            attributes[semconv.SYNAPSEKIT_FUNCTION_ARGUMENTS] = _truncate({"args": args, "kwargs": kwargs})
        return get_tracer().start_span(self.name, attributes=attributes)

    def end(
        self, span: Any, exc: BaseException | None, result: Any = None, *, has_result: bool = False
    ) -> None:
        if exc is not None:
            from opentelemetry.trace import Status, StatusCode

            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"))
            span.set_attribute(semconv.ERROR_TYPE, type(exc).__qualname__)
        elif has_result and self.record_result:
            span.set_attribute(semconv.SYNAPSEKIT_FUNCTION_RESULT, _truncate(result))
        span.end()


def _attach(span: Any) -> Any:
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(span))


def _detach(token: Any) -> None:
    from opentelemetry import context

    context.detach(token)


def _wrap_function(fn: Callable[P, R], spans: _SpanFactory) -> Callable[P, R]:
    @functools.wraps(fn)
    def traced_function(*args: P.args, **kwargs: P.kwargs) -> R:
        if not tracing_active():
            return fn(*args, **kwargs)
        span = spans.start(args, kwargs)
        token = _attach(span)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            spans.end(span, exc)
            raise
        finally:
            _detach(token)
        spans.end(span, None, result, has_result=True)
        return result

    return traced_function


def _wrap_coroutine(fn: Callable[P, Any], spans: _SpanFactory) -> Callable[P, Any]:
    @functools.wraps(fn)
    async def traced_coroutine(*args: P.args, **kwargs: P.kwargs) -> Any:
        if not tracing_active():
            return await fn(*args, **kwargs)
        span = spans.start(args, kwargs)
        token = _attach(span)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            spans.end(span, exc)
            raise
        finally:
            _detach(token)
        spans.end(span, None, result, has_result=True)
        return result

    return traced_coroutine


def _wrap_generator(fn: Callable[P, Generator[Any, Any, Any]], spans: _SpanFactory) -> Callable[P, Any]:
    @functools.wraps(fn)
    def traced_generator(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, Any]:
        if not tracing_active():
            return (yield from fn(*args, **kwargs))
        span = spans.start(args, kwargs)
        inner = fn(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            # The span is current only while the generator body runs, never across our own yield.
            token = _attach(span)
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    item = inner.throw(thrown)
                else:
                    item = inner.send(to_send)
            except StopIteration as stop:
                spans.end(span, None, stop.value, has_result=True)
                return stop.value
            except BaseException as exc:
                spans.end(span, exc)
                raise
            finally:
                _detach(token)
            try:
                to_send = yield item
            except GeneratorExit:
                # close() or garbage collection: close the inner generator and end the span.
                try:
                    inner.close()
                finally:
                    spans.end(span, None)
                raise
            except BaseException as exc:
                to_throw, to_send = exc, None

    return traced_generator


def _wrap_async_generator(fn: Callable[P, AsyncGenerator[Any, Any]], spans: _SpanFactory) -> Callable[P, Any]:
    @functools.wraps(fn)
    async def traced_async_generator(*args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[Any, Any]:
        inner = fn(*args, **kwargs)
        span = spans.start(args, kwargs) if tracing_active() else None
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = _attach(span) if span is not None else None
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    item = await inner.athrow(thrown)
                else:
                    item = await inner.asend(to_send)
            except StopAsyncIteration:
                if span is not None:
                    spans.end(span, None)
                return
            except BaseException as exc:
                if span is not None:
                    spans.end(span, exc)
                raise
            finally:
                if token is not None:
                    _detach(token)
            try:
                to_send = yield item
            except GeneratorExit:
                try:
                    await inner.aclose()
                finally:
                    if span is not None:
                        spans.end(span, None)
                raise
            except BaseException as exc:
                to_throw, to_send = exc, None

    return traced_async_generator


@overload
def traced(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced(
    *,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
    record_args: bool = False,
    record_result: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
    record_args: bool = False,
    record_result: bool = False,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace a function: ``@traced`` or ``@traced(name="rag.retrieve", attributes={...})``.

    The span is named after the function's qualified name unless ``name`` is given. ``record_args`` /
    ``record_result`` store ``repr`` of the arguments / result (truncated) — off by default, since they may
    hold personal data. Exceptions are recorded and set the span's status to error.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        base = dict(attributes or {})
        base.setdefault("code.function.name", f"{function.__module__}.{function.__qualname__}")
        spans = _SpanFactory(name or function.__qualname__, base, record_args, record_result)
        wrapped: Callable[..., Any]
        if inspect.isasyncgenfunction(function):
            wrapped = _wrap_async_generator(function, spans)
        elif inspect.isgeneratorfunction(function):
            wrapped = _wrap_generator(function, spans)
        elif inspect.iscoroutinefunction(function):
            wrapped = _wrap_coroutine(function, spans)
        else:
            wrapped = _wrap_function(function, spans)
        return wrapped

    if fn is not None:
        return decorate(fn)
    return decorate
