"""The Responses API: what a request asks for, what a response and its stream events report.

``responses.stream()`` sends its request through ``Responses.create(stream=True)``, so it is seen (and
counted) there, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy

from ._fields import chat_messages, content_text, field, int_field, int_param, str_param
from ._operation import Operation, RequestInfo

# Events that carry the final response object, usage included.
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def input_text(instructions: Any, items: Any) -> str:
    """All the text of a Responses request: its instructions and its input (a string or a list of items)."""
    parts: list[str] = []
    if isinstance(instructions, str):
        parts.append(instructions)
    if isinstance(items, str):
        parts.append(items)
    elif isinstance(items, Iterable) and not isinstance(items, (bytes, Mapping)):
        for item in items:
            parts.extend(content_text(field(item, "content")))
    return "\n".join(parts)


def record_response_usage(call: LLMCall, usage: Any) -> None:
    input_details = field(usage, "input_tokens_details")
    output_details = field(usage, "output_tokens_details")
    call.record_usage(
        input_tokens=int_field(usage, "input_tokens"),
        output_tokens=int_field(usage, "output_tokens"),
        cached_input_tokens=int_field(input_details, "cached_tokens"),
        cache_creation_input_tokens=int_field(input_details, "cache_write_tokens"),
        reasoning_tokens=int_field(output_details, "reasoning_tokens"),
    )


def record_response(call: LLMCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        record_response_usage(call, usage)
    # An incomplete response says why (max_output_tokens, content_filter); otherwise its status is the reason.
    reason = field(field(response, "incomplete_details"), "reason") or field(response, "status")
    call.record_response(
        model=field(response, "model"),
        response_id=field(response, "id"),
        finish_reasons=(reason,) if isinstance(reason, str) else None,
    )


class _ResponseEventReader(StreamReader):
    """Reads each Responses event into the call; shared by the sync and async stream proxies."""

    __slots__ = ()

    def on_item(self, event: Any) -> bool:
        event_type = event.type
        if event_type.endswith(".delta"):
            delta = getattr(event, "delta", None)
            self.call.chunk(delta if isinstance(delta, str) else None)
        elif event_type in _FINAL_EVENTS:
            record_response(self.call, event.response)
        elif event_type == "response.created":
            response = event.response
            self.call.record_response(model=response.model, response_id=response.id)
        return True


class ResponseStream(SyncStreamProxy):
    def __init__(self, wrapped: Any, call: LLMCall, hide_usage: bool = False) -> None:
        super().__init__(wrapped, call, _ResponseEventReader(call))


class AsyncResponseStream(AsyncStreamProxy):
    def __init__(self, wrapped: Any, call: LLMCall, hide_usage: bool = False) -> None:
        super().__init__(wrapped, call, _ResponseEventReader(call))


class ResponsesOperation(Operation):
    name = "chat"
    sync_stream = ResponseStream
    async_stream = AsyncResponseStream

    def describe(self, kwargs: Mapping[str, Any]) -> RequestInfo:
        instructions, items = kwargs.get("instructions"), kwargs.get("input")
        return (
            str_param(kwargs, "model"),
            int_param(kwargs, "max_output_tokens"),
            lambda: input_text(instructions, items),
            kwargs.get("stream") is True,
        )

    def input_messages(self, kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        instructions, items = kwargs.get("instructions"), kwargs.get("input")
        messages = [] if not isinstance(instructions, str) else [_text_message("system", instructions)]
        if isinstance(items, str):
            messages.append(_text_message("user", items))
        else:
            messages.extend(chat_messages(items))
        return messages

    def record(self, call: LLMCall, result: Any) -> None:
        record_response(call, result)


RESPONSES = ResponsesOperation()


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}
