"""The wrappers of ``Messages`` / ``AsyncMessages``: ``create`` (plain and streamed), ``parse``, ``stream``.

``messages.stream()`` does not go through ``create``: it returns a stream manager holding the request, sent
only when the manager is entered. The wrapper hands the manager a request that starts the call and returns
the instrumented raw stream, so the manager, its ``MessageStream`` and every helper (``text_stream``,
``get_final_message``, ``until_done``, ...) keep working on the SDK's own code.

Wrappers never break the user's call: a failure inside synapsekit is reported and the call proceeds
uninstrumented; provider errors pass through unchanged; ``BudgetExceeded`` is raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from synapsekit.plugin import BudgetExceeded, LLMCall, report_internal_error
from synapsekit_instrumentation_anthropic import _sdk_spans
from synapsekit_instrumentation_anthropic._request import _texts, output_messages, start_messages_call
from synapsekit_instrumentation_anthropic._streams import AsyncMessageEventStream, MessageEventStream
from synapsekit_instrumentation_anthropic._usage import UsageCounts

_API_REQUEST_SUFFIX = "__api_request"
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def _start(instance: Any, kwargs: dict[str, Any], *, streamed: bool) -> LLMCall | None:
    """The call for this request, or None when synapsekit failed (the request then goes uninstrumented)."""
    try:
        return start_messages_call(instance, kwargs, streamed=streamed)
    except BudgetExceeded:
        raise
    except Exception as exc:
        report_internal_error("anthropic.start_call", exc)
        return None


def _finish_message(call: LLMCall, message: Any) -> None:
    usage = getattr(message, "usage", None)
    if usage is not None:
        counts = UsageCounts()
        counts.update(usage, final=True)
        counts.record(call)
    stop_reason = getattr(message, "stop_reason", None)
    call.record_response(
        model=getattr(message, "model", None),
        response_id=getattr(message, "id", None),
        finish_reasons=(stop_reason,) if isinstance(stop_reason, str) else None,
    )
    if call.capture_content:
        call.output_messages = output_messages(
            _texts(getattr(message, "content", None)), stop_reason if isinstance(stop_reason, str) else None
        )
    if usage is None:
        # A streaming-response wrapper hides the usage: the counts are estimated from the prompt.
        call.abandon()
    else:
        call.finish()


def _reads_raw_body(call: LLMCall, kwargs: dict[str, Any], result: Any) -> bool:
    """``with_raw_response`` on a plain request: its parsed (and cached) body holds the usage.

    ``with_streaming_response`` is left unread: the caller chose to read the body itself.
    """
    if call.streamed or not callable(getattr(result, "parse", None)):
        return False
    headers = kwargs.get("extra_headers")
    return isinstance(headers, dict) and headers.get(_RAW_RESPONSE_HEADER) == "raw"


def _stream_proxy(call: LLMCall, result: Any) -> Any:
    from anthropic import AsyncStream, Stream

    if isinstance(result, Stream):
        return MessageEventStream(result, call)
    if isinstance(result, AsyncStream):
        return AsyncMessageEventStream(result, call)
    return None


def _deliver(call: LLMCall, kwargs: dict[str, Any], result: Any) -> Any:
    try:
        proxy = _stream_proxy(call, result)
        if proxy is not None:
            return proxy
        _finish_message(call, result.parse() if _reads_raw_body(call, kwargs, result) else result)
    except Exception as exc:
        report_internal_error("anthropic.deliver", exc)
        call.abandon()
    return result


async def _deliver_async(call: LLMCall, kwargs: dict[str, Any], result: Any) -> Any:
    try:
        proxy = _stream_proxy(call, result)
        if proxy is not None:
            return proxy
        _finish_message(call, await result.parse() if _reads_raw_body(call, kwargs, result) else result)
    except Exception as exc:
        report_internal_error("anthropic.deliver", exc)
        call.abandon()
    return result


# -- create / parse ------------------------------------------------------------------------------------------
def wrap_create(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _start(instance, kwargs, streamed=kwargs.get("stream") is True)
    if call is None:
        return wrapped(*args, **kwargs)
    token = _sdk_spans.offer(call)
    try:
        with call:
            result = wrapped(*args, **kwargs)
    finally:
        _sdk_spans.withdraw(token)
    return _deliver(call, kwargs, result)


def wrap_async_create(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _async_create(wrapped, instance, args, kwargs)


async def _async_create(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _start(instance, kwargs, streamed=kwargs.get("stream") is True)
    if call is None:
        return await wrapped(*args, **kwargs)
    token = _sdk_spans.offer(call)
    try:
        with call:
            result = await wrapped(*args, **kwargs)
    finally:
        _sdk_spans.withdraw(token)
    return await _deliver_async(call, kwargs, result)


# -- stream() managers ---------------------------------------------------------------------------------------
def _request_attribute(manager: Any) -> str | None:
    # The manager keeps its request in a name-mangled attribute (``_MessageStreamManager__api_request``).
    names: list[str] = [name for name in vars(manager) if name.endswith(_API_REQUEST_SUFFIX)]
    return names[0] if len(names) == 1 else None


def wrap_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    manager = wrapped(*args, **kwargs)
    try:
        attribute = _request_attribute(manager)
        if attribute is None:
            raise TypeError(f"{type(manager).__name__} holds no request to instrument")
        send: Callable[[], Any] = getattr(manager, attribute)
        setattr(manager, attribute, lambda: _open_stream(send, instance, kwargs))
    except Exception as exc:
        report_internal_error("anthropic.wrap_stream", exc)
    return manager


def _open_stream(send: Callable[[], Any], instance: Any, kwargs: dict[str, Any]) -> Any:
    call = _start(instance, kwargs, streamed=True)
    if call is None:
        return send()
    token = _sdk_spans.offer(call)
    try:
        with call:
            raw_stream = send()
    finally:
        _sdk_spans.withdraw(token)
    return _deliver(call, kwargs, raw_stream)


def wrap_async_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    manager = wrapped(*args, **kwargs)
    try:
        attribute = _request_attribute(manager)
        if attribute is None:
            raise TypeError(f"{type(manager).__name__} holds no request to instrument")
        send: Awaitable[Any] = getattr(manager, attribute)
        setattr(manager, attribute, _open_async_stream(send, instance, kwargs))
    except Exception as exc:
        report_internal_error("anthropic.wrap_stream", exc)
    return manager


async def _open_async_stream(send: Awaitable[Any], instance: Any, kwargs: dict[str, Any]) -> Any:
    try:
        call = _start(instance, kwargs, streamed=True)
    except BudgetExceeded:
        # Rejected before sending: the SDK's request coroutine will never run.
        close = getattr(send, "close", None)
        if callable(close):
            close()
        raise
    if call is None:
        return await send
    token = _sdk_spans.offer(call)
    try:
        with call:
            raw_stream = await send
    finally:
        _sdk_spans.withdraw(token)
    return await _deliver_async(call, kwargs, raw_stream)
