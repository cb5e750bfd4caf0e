"""Streamed messages: the SDK's ``Stream`` / ``AsyncStream`` of raw events, read as they pass.

``message_start`` gives the model, the id and the input side of the usage; every ``content_block_delta`` is
a chunk; ``message_delta`` gives the final cumulative usage and the stop reason. The caller sees every
event unchanged. A stream that fails after ``message_start`` was billed: its missing output count is
estimated from the text received before the call is failed.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, LLMCall, StreamReader, SyncStreamProxy
from synapsekit_instrumentation_anthropic._request import output_messages
from synapsekit_instrumentation_anthropic._usage import UsageCounts


def _delta_text(delta: Any) -> str | None:
    # Text, thinking and tool-input deltas are all output tokens arriving.
    for field in ("text", "thinking", "partial_json"):
        value = getattr(delta, field, None)
        if isinstance(value, str):
            return value
    return None


def read_event(event: Any, call: LLMCall, usage: UsageCounts) -> None:
    kind = getattr(event, "type", None)
    if kind == "content_block_delta":
        call.chunk(_delta_text(getattr(event, "delta", None)))
    elif kind == "message_start":
        message = getattr(event, "message", None)
        usage.update(getattr(message, "usage", None), final=False)
        usage.record(call)
        call.record_response(model=getattr(message, "model", None), response_id=getattr(message, "id", None))
    elif kind == "message_delta":
        usage.update(getattr(event, "usage", None), final=True)
        usage.record(call)
        stop_reason = getattr(getattr(event, "delta", None), "stop_reason", None)
        if isinstance(stop_reason, str):
            call.record_response(finish_reasons=(stop_reason,))


def collect_text(event: Any, texts: list[str]) -> None:
    """Keep the streamed text (content capture only)."""
    if getattr(event, "type", None) == "content_block_delta":
        text = getattr(getattr(event, "delta", None), "text", None)
        if isinstance(text, str):
            texts.append(text)


def complete_content(call: LLMCall, texts: list[str] | None) -> None:
    if texts is not None:
        call.output_messages = output_messages(texts, call.finish_reasons[0] if call.finish_reasons else None)
    call.estimate_missing_usage()


class _EstimateOnFailure:
    """Iterates the SDK stream; a failure after usage began to arrive estimates what is missing first."""

    __slots__ = ("_call", "_iterator", "_stream", "_usage")

    def __init__(self, stream: Any, call: LLMCall, usage: UsageCounts) -> None:
        self._stream = stream
        self._iterator: Any = None
        self._call = call
        self._usage = usage

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except BaseException:
            if self._usage.has_input:
                self._call.estimate_missing_usage()
            raise

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            raise
        except BaseException:
            if self._usage.has_input:
                self._call.estimate_missing_usage()
            raise


class _MessageEventReader(StreamReader):
    """Reads each raw event into the call; shared by the sync and async proxies.

    Its iterator is set here rather than left to the proxy: items are drawn through
    :class:`_EstimateOnFailure` (``__next__`` for a sync stream, ``__anext__`` for an async one).
    """

    __slots__ = ("text", "usage")

    usage: UsageCounts
    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(call)
        usage = self.usage = UsageCounts()
        self.iterator = _EstimateOnFailure(wrapped, call, usage)
        self.text = [] if call.capture_content else None

    def on_item(self, item: Any) -> bool:
        read_event(item, self.call, self.usage)
        texts = self.text
        if texts is not None:
            collect_text(item, texts)
        return True

    def on_complete(self) -> None:
        complete_content(self.call, self.text)


class MessageEventStream(SyncStreamProxy):
    """``anthropic.Stream[RawMessageStreamEvent]``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _MessageEventReader(wrapped, call))


class AsyncMessageEventStream(AsyncStreamProxy):
    """``anthropic.AsyncStream[RawMessageStreamEvent]``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _MessageEventReader(wrapped, call))
