"""The wrappers of ``Chat.complete``/``stream`` and ``Embeddings.create`` (and their ``_async`` twins).

Each wrapper reads the request, starts the call (a budget may refuse it here, before anything is sent),
sends the request with the call in flight, then reads the response -- or returns the SDK's event stream
inside a proxy that reads it as the caller does. Provider errors pass through unchanged (the call records
them); a failure of synapsekit's own is reported and the caller's request proceeds as if uninstrumented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synapsekit.plugin import LLMCall, report_internal_error, start_call

from ._chat import AsyncChatEventStream, ChatEventStream, record_completion
from ._request import (
    PROVIDER,
    chat_messages,
    field,
    inputs_text,
    int_value,
    messages_text,
    server_of,
    str_value,
)

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def _begin(instance: Any, kwargs: dict[str, Any], operation: str, *, streamed: bool) -> LLMCall | None:
    """The call for this request (may raise BudgetExceeded), or None when synapsekit failed to read it."""
    try:
        host, port = server_of(instance, kwargs)
        if operation == "chat":
            messages = kwargs.get("messages")
            max_tokens = int_value(kwargs.get("max_tokens"))
            prompt: Callable[[], str] = lambda: messages_text(messages)  # noqa: E731
        else:
            inputs = kwargs.get("inputs")
            max_tokens = 0  # embeddings produce no output tokens: reserve none
            prompt = lambda: inputs_text(inputs)  # noqa: E731
    except Exception as exc:
        report_internal_error(f"mistralai.request:{operation}", exc)
        return None
    call = start_call(
        PROVIDER,
        operation,
        str_value(kwargs.get("model")),
        streamed=streamed,
        server_address=host,
        server_port=port,
        max_output_tokens=max_tokens,
        prompt=prompt,
    )
    if call.capture_content and operation == "chat":
        try:
            call.input_messages = chat_messages(kwargs.get("messages"))
        except Exception as exc:
            report_internal_error("mistralai.content", exc)
    return call


def _record_embeddings(call: LLMCall, response: Any) -> None:
    usage = field(response, "usage")
    call.record_usage(input_tokens=int_value(field(usage, "prompt_tokens")), output_tokens=0)
    call.record_response(
        model=str_value(field(response, "model")), response_id=str_value(field(response, "id"))
    )


def _settle(call: LLMCall, record: Callable[[LLMCall, Any], None], response: Any) -> None:
    try:
        record(call, response)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        report_internal_error(f"mistralai.response:{call.operation}", exc)
    finally:
        call.finish()


def _proxy(call: LLMCall, stream: Any, proxy: Callable[[Any, LLMCall], Any]) -> Any:
    try:
        return proxy(stream, call)
    except Exception as exc:
        call.abandon()
        report_internal_error("mistralai.stream", exc)
        return stream


def _response_wrapper(operation: str, record: Callable[[LLMCall, Any], None]) -> tuple[Wrapper, Wrapper]:
    def sync_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(instance, kwargs, operation, streamed=False)
        if call is None:
            return wrapped(*args, **kwargs)
        with call:
            response = wrapped(*args, **kwargs)
        _settle(call, record, response)
        return response

    async def async_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _begin(instance, kwargs, operation, streamed=False)
        if call is None:
            return await wrapped(*args, **kwargs)
        with call:
            response = await wrapped(*args, **kwargs)
        _settle(call, record, response)
        return response

    return sync_wrapper, async_wrapper


def wrap_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _begin(instance, kwargs, "chat", streamed=True)
    if call is None:
        return wrapped(*args, **kwargs)
    with call:
        stream = wrapped(*args, **kwargs)
    return _proxy(call, stream, ChatEventStream)


async def wrap_stream_async(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    call = _begin(instance, kwargs, "chat", streamed=True)
    if call is None:
        return await wrapped(*args, **kwargs)
    with call:
        stream = await wrapped(*args, **kwargs)
    return _proxy(call, stream, AsyncChatEventStream)


wrap_complete, wrap_complete_async = _response_wrapper("chat", record_completion)
wrap_embeddings, wrap_embeddings_async = _response_wrapper("embeddings", _record_embeddings)
