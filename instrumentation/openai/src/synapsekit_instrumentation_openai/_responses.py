"""The Responses API: what a request asks for, what a response and its stream events report.

``responses.stream()`` sends ``POST /responses`` with ``stream=True`` and is counted there, once; resuming a
stored response (``responses.stream(response_id=...)``, a ``GET``) is not a new call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from synapsekit import semconv
from synapsekit.plugin import StreamReader

from ._fields import chat_messages, content_text, field, int_field, int_param, str_param
from .stainless import Operation, RequestInfo
from .stainless.params import ParamReader, number, request_attributes, string

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall

# The Responses request parameters the GenAI conventions name, read only when the call's span records.
RESPONSES_REQUEST_PARAMS: tuple[tuple[str, str, ParamReader], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, number),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, number),
    ("service_tier", semconv.OPENAI_REQUEST_SERVICE_TIER, string),
)

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
    span_attributes = call.span_attributes
    if span_attributes is not None:
        service_tier = field(response, "service_tier")
        if type(service_tier) is str and service_tier:
            span_attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] = service_tier


class ResponseEventReader(StreamReader):
    """Reads each Responses event into the call: an SDK event model, or its plain JSON from a raw body."""

    __slots__ = ()

    def on_item(self, event: Any) -> bool:
        # Plain JSON from a raw body fails the first attribute read; a ``try`` costs nothing on the SDK path.
        try:
            event_type = event.type
        except AttributeError:
            if type(event) is not dict:
                raise
            return self._on_json(event)
        if event_type.endswith(".delta"):
            delta = getattr(event, "delta", None)
            self.call.chunk(delta if isinstance(delta, str) else None)
        elif event_type in _FINAL_EVENTS:
            record_response(self.call, event.response)
        elif event_type == "response.created":
            response = event.response
            self.call.record_response(model=response.model, response_id=response.id)
        return True

    def _on_json(self, event: dict[str, Any]) -> bool:
        event_type = event.get("type")
        if not isinstance(event_type, str):
            return True
        if event_type.endswith(".delta"):
            delta = event.get("delta")
            self.call.chunk(delta if isinstance(delta, str) else None)
        elif event_type in _FINAL_EVENTS:
            record_response(self.call, event.get("response"))
        elif event_type == "response.created":
            response = event.get("response")
            model, response_id = field(response, "model"), field(response, "id")
            self.call.record_response(
                model=model if isinstance(model, str) else None,
                response_id=response_id if isinstance(response_id, str) else None,
            )
        return True


class ResponsesOperation(Operation):
    name = "chat"

    def describe(self, body: Mapping[str, Any]) -> RequestInfo:
        instructions, items = body.get("instructions"), body.get("input")
        return (
            str_param(body, "model"),
            int_param(body, "max_output_tokens"),
            lambda: input_text(instructions, items),
        )

    def request_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return request_attributes(body, RESPONSES_REQUEST_PARAMS)

    def input_messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        instructions, items = body.get("instructions"), body.get("input")
        messages = [] if not isinstance(instructions, str) else [_text_message("system", instructions)]
        if isinstance(items, str):
            messages.append(_text_message("user", items))
        else:
            messages.extend(chat_messages(items))
        return messages

    def record(self, call: LLMCall, result: Any) -> None:
        record_response(call, result)

    def stream_reader(self, call: LLMCall, stream: Any, *, hide_usage: bool, is_async: bool) -> StreamReader:
        return ResponseEventReader(call)


RESPONSES = ResponsesOperation()


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}
