"""Chat responses and the typed events of a chat stream.

A stream sends ``message-start`` (the id), ``content-delta`` events (text or thinking), ``tool-plan-delta``
and ``tool-call-delta`` events (output too), and ``message-end`` with the finish reason and the usage.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy

from ._request import field, output_message, str_value
from ._usage import record_chat_usage


def _reason(value: Any) -> str | None:
    return str_value(value)


def _output_texts(message: Any) -> str:
    texts = []
    for part in field(message, "content") or ():
        for name in ("text", "thinking"):
            text = field(part, name)
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)


def record_chat_response(call: LLMCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        record_chat_usage(call, usage)
    reason = _reason(field(response, "finish_reason"))
    call.record_response(
        response_id=str_value(field(response, "id")), finish_reasons=(reason,) if reason else None
    )
    if call.capture_content:
        call.output_messages = [output_message(_output_texts(field(response, "message")), reason)]


def _event_output(event: Any) -> str | None:
    """The output an event carries: content text or thinking, a tool plan, tool-call arguments."""
    message = field(field(event, "delta"), "message")
    kind = event.type
    if kind == "content-delta":
        content = field(message, "content")
        text, thinking = field(content, "text"), field(content, "thinking")
        return (text if isinstance(text, str) else "") + (thinking if isinstance(thinking, str) else "")
    if kind == "tool-plan-delta":
        plan = field(message, "tool_plan")
        return plan if isinstance(plan, str) else None
    if kind == "tool-call-delta":
        arguments = field(field(field(message, "tool_calls"), "function"), "arguments")
        return arguments if isinstance(arguments, str) else None
    return None


class _ChatEventReader(StreamReader):
    """Reads each stream event into the call; shared by the sync and async proxies."""

    __slots__ = ("text",)

    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, call: LLMCall) -> None:
        super().__init__(call)
        self.text = [] if call.capture_content else None

    def on_item(self, item: Any) -> bool:
        call = self.call
        kind = getattr(item, "type", None)
        if kind == "message-start":
            call.record_response(response_id=str_value(getattr(item, "id", None)))
        elif kind == "message-end":
            delta = getattr(item, "delta", None)
            usage = field(delta, "usage")
            if usage is not None:
                record_chat_usage(call, usage)
            reason = _reason(field(delta, "finish_reason"))
            if reason:
                call.record_response(finish_reasons=(reason,))
        else:
            text = _event_output(item)
            if text:
                call.chunk(text)
                if self.text is not None and kind == "content-delta":
                    self.text.append(text)
        return True

    def on_complete(self) -> None:
        call = self.call
        if self.text is not None:
            reason = call.finish_reasons[0] if call.finish_reasons else None
            call.output_messages = [output_message("".join(self.text), reason)]
        call.estimate_missing_usage()


class ChatEventStream(SyncStreamProxy):
    """The generator of ``V2ChatStreamResponse`` events a raw chat stream holds, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _ChatEventReader(call))


class AsyncChatEventStream(AsyncStreamProxy):
    """The async generator of ``V2ChatStreamResponse`` events, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _ChatEventReader(call))
