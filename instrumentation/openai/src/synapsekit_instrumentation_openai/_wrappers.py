"""The sync and async wrappers around the SDK's methods: one LLM call per provider request.

A wrapper reads the request (:class:`~._operation.Operation`), starts the call, sends the request with the
call in flight, then reads the response — or hands a stream to a proxy that reads it as it goes. Provider
exceptions pass through unchanged (the call records them); a failure of our own translation is reported
and the caller's request proceeds as if uninstrumented.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from synapsekit.plugin import LLMCall, report_internal_error, start_call

from ._operation import Operation
from ._provider import EndpointResolver
from ._raw_responses import AsyncResponseProxy, SyncResponseProxy, settle
from ._sdk import RAW_RESPONSE_HEADER, SDK

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Runtime:
    """What every wrapper of one instrumentation shares."""

    sdk: SDK
    endpoints: EndpointResolver
    include_stream_usage: bool


def _is_raw_mode(kwargs: Mapping[str, Any]) -> bool:
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and RAW_RESPONSE_HEADER in headers


def with_stream_usage(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Ask a chat stream for its usage chunk unless the caller decided; True when we asked (hide it)."""
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping) and "include_usage" in options:
        return kwargs, False
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, Mapping) and "stream_options" in extra_body:
        return kwargs, False
    if _is_raw_mode(kwargs):
        # A raw body is read as bytes or lines: an extra chunk there could not be hidden from the caller.
        return kwargs, False
    if isinstance(options, Mapping):
        return {**kwargs, "stream_options": {**options, "include_usage": True}}, True
    # Sent through extra_body, which the SDK merges into the JSON as is: the same request on the wire, but
    # the SDK skips converting a typed ``stream_options`` parameter (about fifty calls per stream).
    extra = dict(extra_body) if isinstance(extra_body, Mapping) else {}
    extra["stream_options"] = {"include_usage": True}
    return {**kwargs, "extra_body": extra}, True


def _begin(
    operation: Operation, runtime: Runtime, instance: Any, kwargs: dict[str, Any]
) -> tuple[LLMCall, dict[str, Any], bool] | None:
    try:
        model, max_output_tokens, prompt, streamed = operation.describe(kwargs)
        endpoint = runtime.endpoints.for_client(instance._client)
        send_kwargs, hide_usage = kwargs, False
        if streamed and operation.injects_stream_usage and runtime.include_stream_usage:
            send_kwargs, hide_usage = with_stream_usage(kwargs)
    except Exception as exc:
        report_internal_error(f"openai.request:{operation.name}", exc)
        return None
    call = start_call(
        endpoint.provider,
        operation.name,
        model,
        streamed=streamed,
        server_address=endpoint.server_address,
        server_port=endpoint.server_port,
        max_output_tokens=max_output_tokens,
        prompt=prompt,
    )
    if call.capture_content:
        try:
            call.input_messages = operation.input_messages(kwargs)
        except Exception as exc:
            report_internal_error(f"openai.content:{operation.name}", exc)
    return call, send_kwargs, hide_usage


def _adopt(
    operation: Operation, runtime: Runtime, call: LLMCall, result: Any, hide_usage: bool, streamed: bool
) -> Any:
    """What the caller gets: ``result``, or a proxy that ends the call when the caller is done with it."""
    sdk = runtime.sdk
    try:
        if isinstance(result, sdk.stream) and operation.sync_stream is not None:
            return operation.sync_stream(result, call, hide_usage)
        if isinstance(result, sdk.async_stream) and operation.async_stream is not None:
            return operation.async_stream(result, call, hide_usage)
        if isinstance(result, sdk.legacy_response):
            if streamed:
                return SyncResponseProxy(result, call, operation, streamed, sdk)
            # with_raw_response reads a non-streamed body eagerly; parse() caches what it returns.
            settle(call, operation, result.parse())
            return result
        if isinstance(result, sdk.api_response):
            return SyncResponseProxy(result, call, operation, streamed, sdk)
        if isinstance(result, sdk.async_api_response):
            return AsyncResponseProxy(result, call, operation, streamed, sdk)
    except Exception as exc:
        call.abandon()
        report_internal_error(f"openai.response:{operation.name}", exc)
        return result
    # settle(call, operation, result) in place: this is every non-streamed response's path.
    try:
        operation.record(call, result)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        call.finish()
        report_internal_error(f"openai.response:{operation.name}", exc)
    call.finish()
    return result


def sync_wrapper(operation: Operation, runtime: Runtime) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        begun = _begin(operation, runtime, instance, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, send_kwargs, hide_usage = begun
        with call:
            result = wrapped(*args, **send_kwargs)
        return _adopt(operation, runtime, call, result, hide_usage, call.streamed)

    return wrapper


def async_wrapper(operation: Operation, runtime: Runtime) -> Wrapper:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        begun = _begin(operation, runtime, instance, kwargs)
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, send_kwargs, hide_usage = begun
        with call:
            result = await wrapped(*args, **send_kwargs)
        return _adopt(operation, runtime, call, result, hide_usage, call.streamed)

    return wrapper
