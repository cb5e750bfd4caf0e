"""The wrappers of the raw v2 clients' ``chat``, ``chat_stream`` and ``embed`` (sync and async).

``chat`` and ``embed`` return an ``HttpResponse`` whose ``data`` is the typed answer. ``chat_stream`` is a
context manager that sends the request when entered and yields an ``HttpResponse`` whose ``data`` is a
generator of typed events; the wrapper returns a context manager of the same kind that starts the call
(a budget may refuse it here, before anything is sent), enters the SDK's, and puts a proxy around
``data`` that reads each event as the caller does. The call ends exactly once: when the events run out,
the caller closes them, the manager exits, the proxy is collected, or an error occurs.

Provider errors pass through unchanged; a failure of synapsekit's own is reported and the request proceeds
as if uninstrumented.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from synapsekit.plugin import LLMCall, report_internal_error, start_call

from ._chat import AsyncChatEventStream, ChatEventStream, record_chat_response
from ._request import PROVIDER, chat_messages, embed_text, messages_text, server_of, str_value
from ._usage import record_embed_usage

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def _begin(instance: Any, kwargs: dict[str, Any], operation: str, *, streamed: bool) -> LLMCall | None:
    """The call for this request (may raise BudgetExceeded), or None when synapsekit failed to read it."""
    try:
        host, port = server_of(instance)
        prompt: Callable[[], str]
        if operation == "chat":
            messages = kwargs.get("messages")
            max_tokens = kwargs.get("max_tokens")
            max_output = max_tokens if type(max_tokens) is int else None
            prompt = lambda: messages_text(messages)  # noqa: E731
        else:
            max_output = 0  # embeddings produce no output tokens: reserve none
            prompt = lambda: embed_text(kwargs)  # noqa: E731
    except Exception as exc:
        report_internal_error(f"cohere.request:{operation}", exc)
        return None
    call = start_call(
        PROVIDER,
        operation,
        str_value(kwargs.get("model")),
        streamed=streamed,
        server_address=host,
        server_port=port,
        max_output_tokens=max_output,
        prompt=prompt,
    )
    if call.capture_content and operation == "chat":
        try:
            call.input_messages = chat_messages(kwargs.get("messages"))
        except Exception as exc:
            report_internal_error("cohere.content", exc)
    return call


def _settle(call: LLMCall, record: Callable[[LLMCall, Any], None], response: Any) -> None:
    try:
        record(call, response.data)
        if call.input_tokens is None:
            call.estimate_missing_usage()
    except Exception as exc:
        report_internal_error(f"cohere.response:{call.operation}", exc)
    finally:
        call.finish()


def _response_wrappers(operation: str, record: Callable[[LLMCall, Any], None]) -> tuple[Wrapper, Wrapper]:
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


def _read_events(call: LLMCall, response: Any, proxy: type[Any]) -> None:
    """Put the proxy around the response's event generator (``HttpResponse.data`` reads ``_data``)."""
    try:
        response._data = proxy(response._data, call)
    except Exception as exc:
        report_internal_error("cohere.stream", exc)


@contextlib.contextmanager
def _stream_manager(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[Any]:
    call = _begin(instance, kwargs, "chat", streamed=True)
    if call is None:
        with wrapped(*args, **kwargs) as response:
            yield response
        return
    with contextlib.ExitStack() as stack:
        with call:
            response = stack.enter_context(wrapped(*args, **kwargs))
        _read_events(call, response, ChatEventStream)
        try:
            yield response
        except GeneratorExit:
            raise  # the caller closed the events: an early end, not a failure
        except BaseException as exc:
            call.fail(exc)  # a no-op when the events raised it: the proxy ended the call first
            raise
        finally:
            # Left before the events ran out: estimate what the provider did not report.
            call.abandon()


@contextlib.asynccontextmanager
async def _async_stream_manager(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> AsyncIterator[Any]:
    call = _begin(instance, kwargs, "chat", streamed=True)
    if call is None:
        async with wrapped(*args, **kwargs) as response:
            yield response
        return
    async with contextlib.AsyncExitStack() as stack:
        with call:
            response = await stack.enter_async_context(wrapped(*args, **kwargs))
        _read_events(call, response, AsyncChatEventStream)
        try:
            yield response
        except GeneratorExit:
            raise
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.abandon()


def wrap_chat_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _stream_manager(wrapped, instance, args, kwargs)


def wrap_async_chat_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _async_stream_manager(wrapped, instance, args, kwargs)


wrap_chat, wrap_async_chat = _response_wrappers("chat", record_chat_response)
wrap_embed, wrap_async_embed = _response_wrappers("embeddings", record_embed_usage)
