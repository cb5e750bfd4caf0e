"""The wrappers of the per-request methods of ``Models`` / ``AsyncModels``.

``_generate_content``, ``_generate_content_stream`` and ``_embed_content`` (``embed_content`` before the SDK
split it) each send exactly one HTTP request: the public methods call them once per request they make
(automatic function calling and automatic continuation make several), and chats go through the public
methods. So each request is one call, counted once.

Wrappers never break the user's call: a failure inside synapsekit is reported and the request proceeds
uninstrumented; provider errors pass through unchanged; ``BudgetExceeded`` is raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synapsekit.plugin import BudgetExceeded, LLMCall, report_internal_error

from ._content import input_messages
from ._request import EMBEDDINGS, GENERATE_CONTENT, start_models_call
from ._responses import finish_generate
from ._streams import AsyncGenerateContentStream, GenerateContentStream
from ._usage import record_embedding_usage

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def _start(instance: Any, kwargs: dict[str, Any], operation: str, *, streamed: bool) -> LLMCall | None:
    """The call for this request, or None when synapsekit failed (the request then goes uninstrumented)."""
    try:
        call = start_models_call(instance, kwargs, operation, streamed=streamed)
        if call.capture_content and operation == GENERATE_CONTENT:
            call.input_messages = input_messages(kwargs)
        return call
    except BudgetExceeded:
        raise
    except Exception as exc:
        report_internal_error("google_genai.start_call", exc)
        return None


def _finish_embedding(call: LLMCall, response: Any) -> None:
    if record_embedding_usage(call, response):
        call.finish()
    else:
        call.abandon()  # no usage reported: estimated from the text embedded


def _deliver(site: str, call: LLMCall, response: Any, finish: Callable[[LLMCall, Any], None]) -> None:
    try:
        finish(call, response)
    except Exception as exc:
        report_internal_error(site, exc)
        call.abandon()


# -- generateContent / embedContent ------------------------------------------------------------------------
def _unary(operation: str, finish: Callable[[LLMCall, Any], None]) -> tuple[Wrapper, Wrapper]:
    site = f"google_genai.{operation}"

    def sync_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _start(instance, kwargs, operation, streamed=False)
        if call is None:
            return wrapped(*args, **kwargs)
        with call:
            response = wrapped(*args, **kwargs)
        _deliver(site, call, response, finish)
        return response

    async def _async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _start(instance, kwargs, operation, streamed=False)
        if call is None:
            return await wrapped(*args, **kwargs)
        with call:
            response = await wrapped(*args, **kwargs)
        _deliver(site, call, response, finish)
        return response

    def async_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _async(wrapped, instance, args, kwargs)

    return sync_wrapper, async_wrapper


generate, async_generate = _unary(GENERATE_CONTENT, finish_generate)
embed, async_embed = _unary(EMBEDDINGS, _finish_embedding)


# -- streamGenerateContent ---------------------------------------------------------------------------------
def stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _start(instance, kwargs, GENERATE_CONTENT, streamed=True)
    if call is None:
        return wrapped(*args, **kwargs)
    # A generator function: this builds the generator, the request leaves on its first item.
    with call:
        generator = wrapped(*args, **kwargs)
    try:
        return GenerateContentStream(generator, call)
    except Exception as exc:
        report_internal_error("google_genai.stream", exc)
        call.abandon()
        return generator


def async_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _async_stream(wrapped, instance, args, kwargs)


async def _async_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = _start(instance, kwargs, GENERATE_CONTENT, streamed=True)
    if call is None:
        return await wrapped(*args, **kwargs)
    with call:
        generator = await wrapped(*args, **kwargs)
    try:
        return AsyncGenerateContentStream(generator, call)
    except Exception as exc:
        report_internal_error("google_genai.stream", exc)
        call.abandon()
        return generator
