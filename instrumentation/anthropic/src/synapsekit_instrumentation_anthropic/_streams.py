"""Streamed messages: the raw events, read as they pass — the SDK's parsed events, or their plain JSON.

``message_start`` gives the model, the id and the input side of the usage; every ``content_block_delta`` is
a chunk; ``message_delta`` gives the final cumulative usage and the stop reason. The caller sees every
event unchanged. A stream that fails after ``message_start`` was billed: its missing output count is
estimated from the text received before the call is failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapsekit.plugin import StreamReader
from synapsekit_instrumentation_anthropic._request import output_messages
from synapsekit_instrumentation_anthropic._usage import UsageCounts, field

if TYPE_CHECKING:
    from synapsekit.plugin import LLMCall


def _delta_text(delta: Any) -> str | None:
    # Text, thinking and tool-input deltas are all output tokens arriving.
    for name in ("text", "thinking", "partial_json"):
        value = field(delta, name)
        if isinstance(value, str):
            return value
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_event(event: Any, call: LLMCall, usage: UsageCounts) -> None:
    kind = field(event, "type")
    if kind == "content_block_delta":
        call.chunk(_delta_text(field(event, "delta")))
    elif kind == "message_start":
        message = field(event, "message")
        usage.update(field(message, "usage"), final=False)
        usage.record(call)
        call.record_response(model=_str(field(message, "model")), response_id=_str(field(message, "id")))
    elif kind == "message_delta":
        usage.update(field(event, "usage"), final=True)
        usage.record(call)
        stop_reason = field(field(event, "delta"), "stop_reason")
        if isinstance(stop_reason, str):
            call.record_response(finish_reasons=(stop_reason,))


def collect_text(event: Any, texts: list[str]) -> None:
    """Keep the streamed text (content capture only)."""
    if field(event, "type") == "content_block_delta":
        text = field(field(event, "delta"), "text")
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


class MessageEventReader(StreamReader):
    """Reads each raw event into the call; shared by the sync and async proxies and the raw-body reader.

    Given the SDK's stream, its iterator is set here rather than left to the proxy: items are drawn through
    :class:`_EstimateOnFailure` (``__next__`` for a sync stream, ``__anext__`` for an async one). Without one
    (events read from a raw body) the pipeline hands it the events and estimates on failure itself.
    """

    __slots__ = ("text", "usage")

    usage: UsageCounts
    text: list[str] | None  # the streamed text, kept only when content capture is on

    def __init__(self, call: LLMCall, stream: Any) -> None:
        super().__init__(call)
        usage = self.usage = UsageCounts()
        if stream is not None:
            self.iterator = _EstimateOnFailure(stream, call, usage)
        self.text = [] if call.capture_content else None

    def on_item(self, item: Any) -> bool:
        read_event(item, self.call, self.usage)
        texts = self.text
        if texts is not None:
            collect_text(item, texts)
        return True

    def on_complete(self) -> None:
        complete_content(self.call, self.text)
