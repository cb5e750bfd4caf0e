"""Streamed ``generateContent``: the SDK's generator of ``GenerateContentResponse`` chunks, read as they pass.

Every chunk carries ``usage_metadata``; before the last one it holds the prompt side only (the running
totals of the request), and the chunk with a finish reason holds the final counts. The input side is
recorded when it first appears (and again only if it changes), so a stream cut short keeps its exact input
count; the output side is taken from the final chunk only — counts are replaced, never added up. Each chunk
is one ``call.chunk(text)``, where budgets can cut the stream. A stream that ends early after its input
count arrived (cut, dropped, closed) keeps that exact count and gets an estimated output count.

The sync ``Models._generate_content_stream`` is a generator function: nothing is sent until the first item
is drawn, so the call is made current (in flight) around that first ``next()``. The async one sends the
request when awaited and returns an async generator.
"""

from __future__ import annotations

from typing import Any

from synapsekit.plugin import AsyncStreamProxy, BudgetExceeded, LLMCall, StreamReader, SyncStreamProxy

from ._content import output_messages
from ._responses import record_metadata
from ._usage import count, input_counts, record_usage


class _ChunkReader(StreamReader):
    """Reads each chunk into the call; shared by the sync and async proxies."""

    __slots__ = ("final", "input_seen", "latest_usage", "prompt_seen", "text")

    def __init__(self, call: LLMCall) -> None:
        super().__init__(call)
        self.input_seen: tuple[int | None, int] = (None, 0)
        self.prompt_seen: Any = None  # the last prompt count read: the input side is re-read only on a change
        self.latest_usage: Any = None
        self.final = False
        self.text: list[str] | None = [] if call.capture_content else None  # kept for content capture only

    def on_item(self, item: Any) -> bool:
        # Per chunk: plain attribute reads of the SDK's typed chunk, no helper calls on the common path.
        call = self.call
        usage = getattr(item, "usage_metadata", None)
        pieces: list[str] = []
        reasons: list[str] = []
        for candidate in getattr(item, "candidates", None) or ():
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                if isinstance(part.text, str):
                    pieces.append(part.text)
            if candidate.finish_reason:
                reasons.append(
                    str(getattr(candidate.finish_reason, "value", candidate.finish_reason)).lower()
                )
        if reasons:
            record_metadata(call, item)
        if usage is not None and (reasons or self.final):
            # The final counts; usage arriving after the finish reason replaces them.
            self.final = record_usage(call, usage) or self.final
        elif usage is not None:
            self.latest_usage = usage
            prompt = usage.prompt_token_count
            if prompt != self.prompt_seen:
                self.prompt_seen = prompt
                counts = input_counts(usage)
                if counts[0] is not None and counts != self.input_seen:
                    if self.input_seen[0] is None:
                        record_metadata(call, item)
                    self.input_seen = counts
                    call.record_usage(input_tokens=counts[0], cached_input_tokens=counts[1])
        text = "".join(pieces)
        if self.text is not None:
            self.text.append(text)
        try:
            call.chunk(text)
        except BudgetExceeded:
            self.estimate_output_if_billed()  # cut by a budget: what was streamed is billed
            raise
        return True

    def estimate_output_if_billed(self) -> None:
        """The stream ends early: once the input was reported the output is billed, estimated from the text."""
        if self.input_seen[0] is not None or self.final:
            self.call.estimate_missing_usage()

    def on_complete(self) -> None:
        latest = self.latest_usage
        # A stream that ended without a finish reason: its last running total, if it had an output count.
        if not self.final and latest is not None and count(latest, "candidates_token_count") is not None:
            self.final = record_usage(self.call, latest)
        if self.text is not None:
            self.call.output_messages = output_messages("".join(self.text), self.call.finish_reasons)
        self.call.estimate_missing_usage()


class _Chunks:
    """The iterator a stream proxy draws chunks from: the SDK's, plus what a failure leaves to estimate.

    A stream that fails after its input count arrived (a dropped connection) was billed for what it
    streamed: the missing output is estimated from the text received before the proxy fails the call (the
    core estimates only calls that reported nothing). For a sync stream the first ``next()`` sends the
    request, so the call is made current (in flight) around it.
    """

    __slots__ = ("_iterator", "_reader", "_source")

    def __init__(self, source: Any, reader: _ChunkReader) -> None:
        self._source = source
        self._reader = reader
        self._iterator: Any = None

    def __next__(self) -> Any:
        iterator = self._iterator
        try:
            if iterator is not None:
                return next(iterator)
            iterator = self._iterator = iter(self._source)
            call = self._reader.call
            call.__enter__()
            try:
                return next(iterator)
            finally:
                call.__exit__(None, None, None)  # an error ends the call in the proxy, which sees it next
        except StopIteration:
            raise
        except BaseException:
            self._reader.estimate_output_if_billed()
            raise

    async def __anext__(self) -> Any:
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = self._source.__aiter__()
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            raise
        except BaseException:
            self._reader.estimate_output_if_billed()
            raise


class GenerateContentStream(SyncStreamProxy):
    """The generator ``Models._generate_content_stream`` returns, instrumented."""

    def __init__(self, generator: Any, call: LLMCall) -> None:
        reader = _ChunkReader(call)
        reader.iterator = _Chunks(generator, reader)
        super().__init__(generator, call, reader)


class _ClosableAsyncGenerator:
    """The SDK's async generator, closable the way a stream proxy closes a stream (``await close()``)."""

    __slots__ = ("generator",)

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def __aiter__(self) -> Any:
        return self.generator

    async def close(self) -> None:
        await self.generator.aclose()

    async def aclose(self) -> None:
        await self.generator.aclose()


class AsyncGenerateContentStream(AsyncStreamProxy):
    """The async generator ``AsyncModels._generate_content_stream`` resolves to, instrumented."""

    def __init__(self, generator: Any, call: LLMCall) -> None:
        closable = (
            generator if callable(getattr(generator, "close", None)) else _ClosableAsyncGenerator(generator)
        )
        reader = _ChunkReader(call)
        reader.iterator = _Chunks(generator, reader)
        super().__init__(closable, call, reader)
