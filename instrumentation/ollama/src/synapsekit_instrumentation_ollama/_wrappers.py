"""The wrappers of ``Client._request`` and ``AsyncClient._request``: one LLM call per model request.

A streamed answer is a generator that sends its request when first iterated; the call is started (and a
budget may refuse it) when ``_request`` is called, so nothing is sent for a refused one either way. Provider
errors pass through unchanged; a failure of synapsekit's own is reported and the request proceeds as if
uninstrumented.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import LLMCall, report_internal_error, start_call

from ._request import PROVIDER, input_messages, request_of, server_of
from ._responses import AsyncPartStream, PartStream, record_response


def _begin(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
    """The call for a model request (may raise BudgetExceeded); None for other requests or on our failure."""
    try:
        request = request_of(args, kwargs)
        if request is None:
            return None
        host, port = server_of(instance)
    except Exception as exc:
        report_internal_error("ollama.request", exc)
        return None
    call = start_call(
        PROVIDER,
        request.operation,
        request.model,
        streamed=kwargs.get("stream") is True,
        server_address=host,
        server_port=port,
        max_output_tokens=request.max_output_tokens,
        prompt=request.prompt,
    )
    if call.capture_content and request.operation != "embeddings":
        try:
            call.input_messages = input_messages(request)
        except Exception as exc:
            report_internal_error("ollama.content", exc)
    return call


def _deliver(call: LLMCall, result: Any, stream_proxy: type[Any]) -> Any:
    if call.streamed:
        try:
            return stream_proxy(result, call)
        except Exception as exc:
            call.abandon()
            report_internal_error("ollama.stream", exc)
            return result
    try:
        record_response(call, result)
    except Exception as exc:
        report_internal_error(f"ollama.response:{call.operation}", exc)
    finally:
        call.finish()
    return result


def wrap_request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _begin(instance, args, kwargs)
    if call is None:
        return wrapped(*args, **kwargs)
    with call:
        result = wrapped(*args, **kwargs)
    return _deliver(call, result, PartStream)


async def wrap_async_request(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    call = _begin(instance, args, kwargs)
    if call is None:
        return await wrapped(*args, **kwargs)
    with call:
        result = await wrapped(*args, **kwargs)
    return _deliver(call, result, AsyncPartStream)
