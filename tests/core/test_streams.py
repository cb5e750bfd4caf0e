"""Streams end exactly once on every exit path, in any task, and never leak a scope."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import synapsekit
from synapsekit import OfflineLLM, Usage
from synapsekit._call import start_call
from synapsekit._context import active_scopes
from synapsekit.observability import TokenTracer
from synapsekit.plugin import AsyncStreamProxy, SyncStreamProxy

from .conftest import RecordingSink


async def test_token_tracer_counts_a_completed_stream() -> None:
    tracer = TokenTracer(OfflineLLM())
    chunks = [chunk async for chunk in tracer.stream("Explain RAG in one sentence.")]
    assert len(chunks) == 12
    assert tracer.tokens_used == {"input": 5, "output": 12, "total": 17}
    assert tracer.tally.estimated_calls == 0


async def test_stream_abandoned_and_closed_from_another_task(sink: RecordingSink) -> None:
    tracer = TokenTracer(OfflineLLM())
    stream = tracer.stream("one two three four five six seven eight")
    first = await stream.__anext__()
    second = await stream.__anext__()

    async def close_elsewhere() -> None:
        await stream.aclose()  # type: ignore[attr-defined]

    await asyncio.create_task(close_elsewhere())
    assert active_scopes() == ()
    assert len(sink.ended) == 1
    call = sink.ended[0]
    # Closed before OfflineLLM reported usage: output estimated from the 2 chunks' text, input from the prompt.
    assert call.usage_estimated
    assert call.error_type is None
    assert call.output_tokens == -(-len(first + second) // 4)
    assert call.input_tokens == -(-len("one two three four five six seven eight") // 4)
    assert tracer.tokens_used["input"] == 10
    assert tracer.tally.estimated_calls == 1


async def test_stream_garbage_collected_mid_way_raises_nothing_and_ends_once(sink: RecordingSink) -> None:
    with synapsekit.track() as tally:
        stream = OfflineLLM().stream("a b c")
        await stream.__anext__()
    del stream
    gc.collect()
    await asyncio.sleep(0)  # the event loop's async-generator finaliser runs aclose()
    await asyncio.sleep(0)
    assert len(sink.ended) == 1
    assert tally.calls == 1
    assert tally.estimated_calls == 1


class FakeSDKStream:
    """Stands in for an SDK stream type: iteration, close(), context manager, an extra helper."""

    def __init__(self, items: list[Any], fail_at: int | None = None) -> None:
        self.items = items
        self.fail_at = fail_at
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(self.items):
            if index == self.fail_at:
                raise ConnectionError("dropped")
            yield item

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeSDKStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def helper(self) -> str:
        return "still here"


class UsageAwareProxy(SyncStreamProxy):
    """Items are text, except a final dict that carries usage and is hidden from the caller."""

    def _on_item(self, item: Any) -> bool:
        if isinstance(item, dict):
            self._self_call.record_usage(input_tokens=item["in"], output_tokens=item["out"])
            return False
        self._self_call.chunk(item)
        return True


def _proxy(items: list[Any], fail_at: int | None = None) -> UsageAwareProxy:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    return UsageAwareProxy(FakeSDKStream(items, fail_at), call)


ITEMS = ["ab", "cd", "ef", {"in": 9, "out": 3}]


def test_sync_proxy_keeps_type_and_hides_the_usage_item(sink: RecordingSink) -> None:
    stream = _proxy(ITEMS)
    assert isinstance(stream, FakeSDKStream)
    assert stream.helper() == "still here"
    assert list(stream) == ["ab", "cd", "ef"]
    assert [(c.input_tokens, c.output_tokens, c.usage_estimated) for c in sink.ended] == [(9, 3, False)]


@pytest.mark.parametrize("how", ["break_close", "context_manager", "gc", "exception"])
def test_sync_proxy_finalises_once_on_every_exit(how: str, sink: RecordingSink) -> None:
    stream = _proxy(ITEMS, fail_at=2 if how == "exception" else None)
    if how == "break_close":
        for _ in stream:
            break
        stream.close()
        assert stream.closed
    elif how == "context_manager":
        with stream as entered:
            next(iter(entered))
    elif how == "gc":
        next(stream)
        del stream
        gc.collect()
    else:
        with pytest.raises(ConnectionError):
            list(stream)
    assert len(sink.ended) == 1
    call = sink.ended[0]
    if how == "exception":
        assert call.error_type == "ConnectionError"
    else:
        assert call.usage_estimated
        assert call.output_tokens == 1  # "ab" → 1 token


class FakeAsyncSDKStream:
    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.closed = False

    async def _iterate(self) -> AsyncIterator[Any]:
        for item in self.items:
            yield item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeAsyncSDKStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncUsageAwareProxy(AsyncStreamProxy):
    def _on_item(self, item: Any) -> bool:
        return UsageAwareProxy._on_item(self, item)  # type: ignore[arg-type]


async def test_async_proxy_complete_and_closed_early(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    stream = AsyncUsageAwareProxy(FakeAsyncSDKStream(ITEMS), call)
    assert isinstance(stream, FakeAsyncSDKStream)
    assert [item async for item in stream] == ["ab", "cd", "ef"]
    call2 = start_call("openai", "chat", "m", streamed=True)
    early = AsyncUsageAwareProxy(FakeAsyncSDKStream(ITEMS), call2)
    async with early:
        await early.__anext__()
    assert [(c.output_tokens, c.usage_estimated) for c in sink.ended] == [(3, False), (1, True)]


async def test_base_llm_stream_reports_usage_from_subclass() -> None:
    class Custom(OfflineLLM):
        async def _stream(self, prompt: str, **kwargs: Any) -> AsyncIterator[str | Usage]:
            yield "hello"
            yield Usage(input_tokens=40, output_tokens=2, cached_input_tokens=10, reasoning_tokens=1)

    with synapsekit.track() as tally:
        assert [c async for c in Custom().stream("x")] == ["hello"]
    assert (tally.input_tokens, tally.output_tokens, tally.cached_input_tokens, tally.reasoning_tokens) == (
        40,
        2,
        10,
        1,
    )


class BrokenReaderProxy(SyncStreamProxy):
    """An instrumentor bug: reading every item fails."""

    def _on_item(self, item: Any) -> bool:
        raise RuntimeError("reader bug")


def test_a_failing_item_reader_is_reported_and_the_caller_still_gets_every_item(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    from synapsekit._errors import set_strict

    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = BrokenReaderProxy(FakeSDKStream(["ab", "cd"]), call)
    set_strict(False)
    try:
        assert list(stream) == ["ab", "cd"]
    finally:
        set_strict(True)
    assert len(sink.ended) == 1
    assert "stream.on_item:BrokenReaderProxy" in caplog.text
    # In strict mode (the test suite's) the bug surfaces instead.
    strict = BrokenReaderProxy(FakeSDKStream(["ab"]), start_call("openai", "chat", "m", streamed=True))
    with pytest.raises(RuntimeError, match="reader bug"):
        next(iter(strict))
    strict.close()  # ends its call here, not whenever it is collected
    assert len(sink.ended) == 2
