"""Chat completions: the usage, model and finish reasons of a response and of a stream's chunks.

Mistral's usage is OpenAI-shaped: ``prompt_tokens`` already includes the cache hits, reported beside it as
``prompt_tokens_details.cached_tokens`` (an extra field the SDK's ``UsageInfo`` keeps in ``model_extra``);
``completion_tokens`` is the whole output. A stream always carries ``usage`` on its last chunk -- Mistral
needs no ``stream_options`` -- so nothing is added to the request and nothing is hidden from the caller.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy

from ._request import content_texts, field, int_value, output_message, str_value


def _cached_tokens(usage: Any) -> int | None:
    details = field(usage, "prompt_tokens_details")
    if details is None:
        extra = getattr(usage, "model_extra", None)
        details = extra.get("prompt_tokens_details") if isinstance(extra, dict) else None
    return int_value(field(details, "cached_tokens"))


def record_usage(call: LLMCall, usage: Any) -> None:
    call.record_usage(
        input_tokens=int_value(field(usage, "prompt_tokens")),
        output_tokens=int_value(field(usage, "completion_tokens")),
        cached_input_tokens=_cached_tokens(usage),
    )


def _finish_reason(choice: Any) -> str | None:
    # The SDK's finish reasons are open enums: str subclasses, or plain strings for values it does not know.
    reason = field(choice, "finish_reason")
    return str(reason.value if hasattr(reason, "value") else reason) if isinstance(reason, str) else None


def record_completion(call: LLMCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        record_usage(call, usage)
    choices = field(response, "choices") or ()
    reasons = tuple(reason for reason in map(_finish_reason, choices) if reason)
    call.record_response(
        model=str_value(field(response, "model")),
        response_id=str_value(field(response, "id")),
        finish_reasons=reasons or None,
    )
    if call.capture_content:
        call.output_messages = [
            output_message("".join(content_texts(field(field(choice, "message"), "content"))), reason)
            for choice, reason in zip(choices, map(_finish_reason, choices), strict=True)
        ]


def _delta_text(delta: Any) -> str:
    """Output arriving in a delta: its content (text or chunks) and tool-call argument fragments."""
    text = "".join(content_texts(field(delta, "content")))
    for tool_call in field(delta, "tool_calls") or ():
        arguments = field(field(tool_call, "function"), "arguments")
        if isinstance(arguments, str):
            text += arguments
    return text


class _ChatEventReader(StreamReader):
    """Reads each ``CompletionEvent`` into the call; shared by the sync and async proxies."""

    __slots__ = ("finish_reasons", "text")

    finish_reasons: tuple[str, ...]
    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, call: LLMCall) -> None:
        super().__init__(call)
        self.finish_reasons = ()
        self.text = [] if call.capture_content else None

    def on_item(self, item: Any) -> bool:
        call = self.call
        chunk = item.data
        if call.response_id is None:
            call.record_response(model=str_value(chunk.model), response_id=str_value(chunk.id))
        usage = chunk.usage
        if usage is not None:
            record_usage(call, usage)
        text = ""
        for choice in chunk.choices or ():
            text += _delta_text(choice.delta)
            reason = _finish_reason(choice)
            if reason:
                self.finish_reasons = (*self.finish_reasons, reason)
                call.record_response(finish_reasons=self.finish_reasons)
        if text:
            # Only events that carry output are chunks: the role event and the closing usage event are not.
            call.chunk(text)
            if self.text is not None:
                self.text.append(text)
        return True

    def on_complete(self) -> None:
        if self.text is not None:
            reason = self.finish_reasons[0] if self.finish_reasons else None
            self.call.output_messages = [output_message("".join(self.text), reason)]
        self.call.estimate_missing_usage()


class ChatEventStream(SyncStreamProxy):
    """``mistralai`` ``EventStream[CompletionEvent]``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _ChatEventReader(call))


class AsyncChatEventStream(AsyncStreamProxy):
    """``mistralai`` ``EventStreamAsync[CompletionEvent]``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _ChatEventReader(call))
