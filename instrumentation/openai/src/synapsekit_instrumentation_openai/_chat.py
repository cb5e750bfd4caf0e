"""Chat completions: what a request asks for, what a response and its stream chunks report."""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy

from ._chat_usage import read_usage_chunk_as_text, record_chat_usage
from ._fields import chat_messages, field, fields, messages_text, output_message
from ._operation import Operation, RequestInfo

_COMPLETION_FIELDS = ("usage", "choices", "model", "id")
# An SDK model's fields read in C, all at once; fields() is the fallback for the plain dict of a raw body.
_read_completion = attrgetter(*_COMPLETION_FIELDS)


def record_chat_completion(call: LLMCall, completion: Any) -> None:
    try:
        usage, choices, model, response_id = _read_completion(completion)
    except AttributeError:
        usage, choices, model, response_id = fields(completion, *_COMPLETION_FIELDS)
    if usage is not None:
        record_chat_usage(call, usage)
    reasons = []
    for choice in choices or ():
        # field() inlined: one call per choice on every response.
        reason = (
            choice.get("finish_reason") if type(choice) is dict else getattr(choice, "finish_reason", None)
        )
        if reason:
            reasons.append(reason)
    # call.record_response(...) in place: a call fewer on every response.
    if model:
        call.response_model = model
    if response_id:
        call.response_id = response_id
    if reasons:
        call.finish_reasons = tuple(reasons)
    if call.capture_content:
        call.output_messages = [
            output_message("".join(content_of(field(choice, "message"))), field(choice, "finish_reason"))
            for choice in field(completion, "choices") or ()
        ]


def content_of(message: Any) -> list[str]:
    content = field(message, "content")
    return [content] if isinstance(content, str) else []


def _delta_text(delta: Any) -> str:
    """The text a chunk's delta carries: content, refusal and tool-call argument fragments."""
    content = delta.content
    text = content if isinstance(content, str) else ""
    refusal = getattr(delta, "refusal", None)
    if refusal:
        text += refusal
    tool_calls = delta.tool_calls
    if tool_calls:
        for tool_call in tool_calls:
            function = tool_call.function
            if function is not None and function.arguments:
                text += function.arguments
    return text


class _ChatChunkReader(StreamReader):
    """Reads one chat chunk into the call; shared by the sync and async stream proxies."""

    __slots__ = ("finish_reasons", "hide_usage", "text")

    hide_usage: bool
    finish_reasons: tuple[str, ...]
    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, call: LLMCall, hide_usage: bool) -> None:
        super().__init__(call)
        self.hide_usage = hide_usage
        self.finish_reasons = ()
        self.text = [] if call.capture_content else None

    def on_item(self, chunk: Any) -> bool:
        call = self.call
        if call.response_id is None:
            call.record_response(model=chunk.model, response_id=chunk.id)
        usage = chunk.usage
        if usage is not None:
            record_chat_usage(call, usage)
        choices = chunk.choices
        if not choices:
            # The usage-only chunk we asked for on the caller's behalf: they would never have seen it.
            return not (usage is not None and self.hide_usage)
        text = ""
        for choice in choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if type(content) is str and not delta.tool_calls and not getattr(delta, "refusal", None):
                    text += content  # the common chunk: plain content, no helper call
                else:
                    text += _delta_text(delta)
            reason = choice.finish_reason
            if reason:
                finish_reasons = self.finish_reasons = (*self.finish_reasons, reason)
                call.record_response(finish_reasons=finish_reasons)
        call.chunk(text)
        texts = self.text
        if texts is not None:
            texts.append(text)
        return True

    def on_complete(self) -> None:
        call = self.call
        texts = self.text
        if texts is not None:
            finish_reasons = self.finish_reasons
            reason = finish_reasons[0] if finish_reasons else None
            call.output_messages = [output_message("".join(texts), reason)]
        call.estimate_missing_usage()


class ChatStream(SyncStreamProxy):
    def __init__(self, wrapped: Any, call: LLMCall, hide_usage: bool) -> None:
        super().__init__(wrapped, call, _ChatChunkReader(call, hide_usage))
        if hide_usage:
            read_usage_chunk_as_text(wrapped, call, is_async=False)


class AsyncChatStream(AsyncStreamProxy):
    def __init__(self, wrapped: Any, call: LLMCall, hide_usage: bool) -> None:
        super().__init__(wrapped, call, _ChatChunkReader(call, hide_usage))
        if hide_usage:
            read_usage_chunk_as_text(wrapped, call, is_async=True)


class ChatOperation(Operation):
    name = "chat"
    sync_stream = ChatStream
    async_stream = AsyncChatStream
    injects_stream_usage = True

    def describe(self, kwargs: Mapping[str, Any]) -> RequestInfo:
        # str_param / int_param inlined: this runs on every request, and each helper call adds up.
        get = kwargs.get
        model = get("model")
        max_tokens = get("max_completion_tokens")
        if type(max_tokens) is not int:
            max_tokens = get("max_tokens")
        messages = get("messages")
        return (
            model if type(model) is str else None,
            max_tokens if type(max_tokens) is int else None,
            lambda: messages_text(messages),
            get("stream") is True,
        )

    def input_messages(self, kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        return chat_messages(kwargs.get("messages"))

    # The function itself rather than a method calling it: a call fewer on every response.
    record = staticmethod(record_chat_completion)  # type: ignore[assignment]


CHAT = ChatOperation()
