"""Bedrock's event streams, read as the caller iterates them.

``converse_stream`` answers ``{"stream": EventStream}`` of typed events (``messageStart``,
``contentBlockDelta``..., ``messageStop``, ``metadata`` with the usage); ``invoke_model_with_response_stream``
answers ``{"body": EventStream}`` of ``{"chunk": {"bytes": ...}}`` events, each the model family's own JSON,
the last one also carrying ``amazon-bedrock-invocationMetrics`` (Bedrock's final count). The caller keeps
the same ``EventStream`` (a proxy: ``isinstance``, ``close()`` and the rest pass through) and sees every
event unchanged; the call ends exactly once, however the iteration ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from synapsekit.plugin import BudgetExceeded, LLMCall, StreamReader, SyncStreamProxy
from synapsekit_instrumentation_botocore._families import Family, StreamState, text_message
from synapsekit_instrumentation_botocore._usage import UsageCounts, update_converse, update_invocation_metrics

_INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"


class _EstimateOnFailure:
    """Iterates the SDK stream; a failure after the input count arrived estimates the missing output first.

    Without it a stream that broke after its first usage report would end with an exact input count, no
    output count and so no cost, although the provider bills the text it sent.
    """

    __slots__ = ("_call", "_counts", "_iterator", "_stream")

    def __init__(self, stream: Any, call: LLMCall, counts: UsageCounts) -> None:
        self._stream = stream
        self._iterator: Any = None
        self._call = call
        self._counts = counts

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except BaseException:
            if self._counts.has_input:
                self._call.estimate_missing_usage()
            raise


class _EventReader(StreamReader):
    """What both Bedrock streams share: usage counts, the streamed text (content capture) and chunks."""

    __slots__ = ("counts", "state", "texts")

    counts: UsageCounts
    state: StreamState
    texts: list[str] | None  # kept only when content capture is on

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(call)
        counts = self.counts = UsageCounts()
        self.state = StreamState()
        self.iterator = _EstimateOnFailure(wrapped, call, counts)
        self.texts = [] if call.capture_content else None

    def _chunk(self, text: str | None) -> None:
        texts = self.texts
        if texts is not None and text:
            texts.append(text)
        try:
            self.call.chunk(text)
        except BudgetExceeded:
            # Cut by a budget: what was streamed so far is billed.
            if self.counts.has_input:
                self.call.estimate_missing_usage()
            raise

    def _record(self) -> None:
        call = self.call
        self.counts.record(call)
        state = self.state
        call.record_response(
            response_id=state.response_id,
            finish_reasons=(state.stop_reason,) if state.stop_reason is not None else None,
        )

    def on_complete(self) -> None:
        call = self.call
        if self.texts is not None:
            call.output_messages = [text_message("assistant", ["".join(self.texts)], self.state.stop_reason)]
        call.estimate_missing_usage()


class _ConverseReader(_EventReader):
    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        delta_event = item.get("contentBlockDelta")
        if delta_event is not None:
            self._chunk(_converse_delta_text(delta_event))
            return True
        metadata = item.get("metadata")
        if metadata is not None:
            update_converse(self.counts, metadata.get("usage"))
            self._record()
            return True
        stop = item.get("messageStop")
        if stop is not None:
            stop_reason = stop.get("stopReason")
            if isinstance(stop_reason, str):
                self.state.stop_reason = stop_reason
                self._record()
        return True


def _converse_delta_text(delta_event: Any) -> str | None:
    delta = delta_event.get("delta") if isinstance(delta_event, Mapping) else None
    if not isinstance(delta, Mapping):
        return None
    text = delta.get("text")
    if isinstance(text, str):
        return text
    # Reasoning and tool-input deltas are output tokens arriving too.
    for field in ("reasoningContent", "toolUse"):
        part = delta.get(field)
        if isinstance(part, Mapping):
            value = part.get("text" if field == "reasoningContent" else "input")
            if isinstance(value, str):
                return value
    return None


class _InvokeReader(_EventReader):
    __slots__ = ("family", "input_recorded")

    family: Family
    input_recorded: bool

    def __init__(self, wrapped: Any, call: LLMCall, family: Family) -> None:
        super().__init__(wrapped, call)
        self.family = family
        self.input_recorded = False

    def on_item(self, item: Any) -> bool:
        chunk = item.get("chunk")
        if chunk is None:
            return True
        document = json.loads(chunk["bytes"])
        if not isinstance(document, dict):
            return True
        counts = self.counts
        text = self.family.read_chunk(document, counts, self.state)
        metrics = document.get(_INVOCATION_METRICS)
        if metrics is not None:
            update_invocation_metrics(counts, metrics)
        if text is not None:
            if counts.input is not None and not self.input_recorded:
                # Llama's first chunk holds text and the prompt count.
                self.input_recorded = True
                self._record()
            self._chunk(text)
        else:
            self.input_recorded = counts.input is not None
            self._record()
        return True


class ConverseEventStream(SyncStreamProxy):
    """``converse_stream``'s ``EventStream``, instrumented."""

    def __init__(self, wrapped: Any, call: LLMCall) -> None:
        super().__init__(wrapped, call, _ConverseReader(wrapped, call))


class InvokeEventStream(SyncStreamProxy):
    """``invoke_model_with_response_stream``'s ``EventStream``, instrumented for one model family."""

    def __init__(self, wrapped: Any, call: LLMCall, family: Family) -> None:
        super().__init__(wrapped, call, _InvokeReader(wrapped, call, family))
