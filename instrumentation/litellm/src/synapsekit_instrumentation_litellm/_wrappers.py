"""The wrappers around litellm's public functions: one LLM call per request litellm sends.

litellm's call is started as an outer layer (``wire=False``): when litellm hands the request to an SDK that
synapsekit instruments (its ``openai/`` route drives the openai SDK), that SDK's call starts inside ours and
takes over, closest to the wire, and ours reports nothing; when litellm speaks HTTP itself (``anthropic/``,
``gemini/``, ``ollama/``...), ours is the one counted. Either way the request is admitted against budgets
before litellm does anything with it.

``acompletion`` and ``aembedding`` run ``completion`` / ``embedding`` in an executor: the inner wrapper sees
the outer one's marker (copied with the context) and passes through, so one request is one call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from synapsekit.plugin import LLMCall, report_internal_error, start_call

from ._provider import resolve
from ._request import (
    bound_arguments,
    chat_prompt,
    embedding_prompt,
    input_messages,
    max_output_tokens,
)
from ._streams import AsyncChunkStream, ChunkReader, SyncChunkStream
from ._usage import record_response

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]

# Set while one of our wrappers runs litellm: litellm's async functions call its sync ones (in an executor,
# with the context copied), which must not start a second call for the same request.
_in_litellm: contextvars.ContextVar[bool] = contextvars.ContextVar("synapsekit_in_litellm", default=False)


@dataclass(frozen=True)
class Operation:
    name: str  # the GenAI operation
    parameters: tuple[str, ...]  # the public function's leading parameters, for positional arguments
    prompt: Callable[[Mapping[str, Any]], Callable[[], str]]
    streams: bool


CHAT = Operation("chat", ("model", "messages"), chat_prompt, streams=True)
EMBEDDINGS = Operation("embeddings", ("model", "input"), embedding_prompt, streams=False)


@dataclass(frozen=True)
class Runtime:
    """What every wrapper of one instrumentation shares."""

    litellm: Any
    stream_type: type[Any]
    include_stream_usage: bool


def _with_stream_usage(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Ask the stream for its usage chunk unless the caller decided; True when we asked (hide it)."""
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping):
        if "include_usage" in options:
            return kwargs, False
        return {**kwargs, "stream_options": {**options, "include_usage": True}}, True
    if options is not None:
        return kwargs, False
    return {**kwargs, "stream_options": {"include_usage": True}}, True


def _begin(
    operation: Operation, runtime: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[LLMCall, dict[str, Any], bool, str] | None:
    try:
        request = bound_arguments(args, kwargs, operation.parameters)
        model = request.get("model")
        if not isinstance(model, str) or request.get("mock_response") is not None:
            return None  # litellm rejects it itself, or answers without a provider: no request to count
        try:
            route = resolve(runtime.litellm, model, request)
        except Exception:
            return None  # litellm cannot route it and raises its own error: nothing is sent
        streamed = operation.streams and request.get("stream") is True
        send_kwargs, hide_usage = kwargs, False
        if streamed and runtime.include_stream_usage:
            send_kwargs, hide_usage = _with_stream_usage(kwargs)
        prompt = operation.prompt(request)
    except Exception as exc:
        report_internal_error(f"litellm.request:{operation.name}", exc)
        return None
    call = start_call(
        route.provider,
        operation.name,
        route.model,
        streamed=streamed,
        server_address=route.server_address,
        server_port=route.server_port,
        max_output_tokens=max_output_tokens(request) if operation.streams else None,
        prompt=prompt,
        wire=False,
    )
    if call.capture_content and operation is CHAT:
        try:
            call.input_messages = input_messages(request.get("messages"))
        except Exception as exc:
            report_internal_error("litellm.content", exc)
    return call, send_kwargs, hide_usage, route.model_prefix


def _adopt(
    runtime: Runtime, call: LLMCall, result: Any, hide_usage: bool, model_prefix: str, is_async: bool
) -> Any:
    """What the caller gets: ``result``, or a stream proxy that ends the call when the caller is done."""
    try:
        if isinstance(result, runtime.stream_type):
            reader = ChunkReader(call, hide_usage, model_prefix)
            if is_async:
                return AsyncChunkStream(result, call, reader)
            return SyncChunkStream(result, call, reader)
        record_response(call, result, model_prefix)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        call.abandon()
        report_internal_error("litellm.response", exc)
        return result
    call.finish()
    return result


def sync_wrapper(operation: Operation, runtime: Runtime) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _in_litellm.get():
            return wrapped(*args, **kwargs)
        begun = _begin(operation, runtime, args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, send_kwargs, hide_usage, prefix = begun
        marker = _in_litellm.set(True)
        try:
            with call:
                result = wrapped(*args, **send_kwargs)
        finally:
            _in_litellm.reset(marker)
        return _adopt(runtime, call, result, hide_usage, prefix, is_async=False)

    return wrapper


def async_wrapper(operation: Operation, runtime: Runtime) -> Wrapper:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _in_litellm.get():
            return await wrapped(*args, **kwargs)
        begun = _begin(operation, runtime, args, kwargs)
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, send_kwargs, hide_usage, prefix = begun
        marker = _in_litellm.set(True)
        try:
            with call:
                result = await wrapped(*args, **send_kwargs)
        finally:
            _in_litellm.reset(marker)
        return _adopt(runtime, call, result, hide_usage, prefix, is_async=True)

    return wrapper
