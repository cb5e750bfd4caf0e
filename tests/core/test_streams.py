"""Streams end exactly once on every exit path, in any task, and never leak a scope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import synapsekit
from synapsekit import OfflineLLM, Usage
from synapsekit._core.call import start_call
from synapsekit._core.context import active_scopes
from synapsekit.observability import TokenTracer
from synapsekit.plugin import AsyncStreamProxy, BudgetExceeded, StreamReader, SyncStreamProxy
from synapsekit.testing import collect_garbage

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
    collect_garbage()
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


class UsageAwareReader(StreamReader):
    """Items are text, except a final dict that carries usage and is hidden from the caller."""

    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        if isinstance(item, dict):
            self.call.record_usage(input_tokens=item["in"], output_tokens=item["out"])
            return False
        self.call.chunk(item)
        return True


def _proxy(items: list[Any], fail_at: int | None = None) -> Any:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    return SyncStreamProxy(FakeSDKStream(items, fail_at), call, UsageAwareReader(call))


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
        collect_garbage()
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


async def test_async_proxy_complete_and_closed_early(sink: RecordingSink) -> None:
    # The sync proxies' reader, unchanged: a reader does not care how its items arrive.
    call = start_call("openai", "chat", "m", streamed=True)
    stream = AsyncStreamProxy(FakeAsyncSDKStream(ITEMS), call, UsageAwareReader(call))
    assert isinstance(stream, FakeAsyncSDKStream)
    assert [item async for item in stream] == ["ab", "cd", "ef"]
    call2 = start_call("openai", "chat", "m", streamed=True)
    early = AsyncStreamProxy(FakeAsyncSDKStream(ITEMS), call2, UsageAwareReader(call2))
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


class BrokenReader(StreamReader):
    """An instrumentor bug: reading every item fails."""

    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        raise RuntimeError("reader bug")


def test_a_failing_item_reader_is_reported_and_the_caller_still_gets_every_item(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    from synapsekit._core.errors import set_strict

    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = SyncStreamProxy(FakeSDKStream(["ab", "cd"]), call, BrokenReader(call))
    set_strict(False)
    try:
        assert list(stream) == ["ab", "cd"]
    finally:
        set_strict(True)
    assert len(sink.ended) == 1
    assert "stream.on_item:BrokenReader" in caplog.text
    # In strict mode (the test suite's) the bug surfaces instead.
    strict_call = start_call("openai", "chat", "m", streamed=True)
    strict = SyncStreamProxy(FakeSDKStream(["ab"]), strict_call, BrokenReader(strict_call))
    with pytest.raises(RuntimeError, match="reader bug"):
        next(iter(strict))
    strict.close()  # ends its call here, not whenever it is collected
    assert len(sink.ended) == 2


class EvenOnlyReader(StreamReader):
    """Delivers even numbers only; keeps every item it read and how often the stream completed."""

    __slots__ = ("completions", "seen")

    def __init__(self, call: Any) -> None:
        super().__init__(call)
        self.seen: list[int] = []
        self.completions = 0

    def on_item(self, item: Any) -> bool:
        self.seen.append(item)
        self.call.chunk(str(item))
        return item % 2 == 0

    def on_complete(self) -> None:
        self.completions += 1
        super().on_complete()


def test_a_custom_reader_hides_items_and_completes_once(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    reader = EvenOnlyReader(call)
    stream = SyncStreamProxy(FakeSDKStream([1, 2, 3, 4, 5, 6]), call, reader)
    assert stream.synapsekit_call is call
    assert list(stream) == [2, 4, 6]
    assert reader.seen == [1, 2, 3, 4, 5, 6]
    assert reader.completions == 1
    # Six chunks of one character each: 6 characters → 2 estimated output tokens.
    assert [(c.chunks, c.output_tokens, c.usage_estimated, c.error_type) for c in sink.ended] == [
        (6, 2, True, None)
    ]


async def test_a_custom_reader_hides_items_and_completes_once_async(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    reader = EvenOnlyReader(call)
    stream = AsyncStreamProxy(FakeAsyncSDKStream([1, 2, 3, 4, 5, 6]), call, reader)
    assert [item async for item in stream] == [2, 4, 6]
    assert reader.seen == [1, 2, 3, 4, 5, 6]
    assert reader.completions == 1
    assert [(c.chunks, c.output_tokens, c.usage_estimated, c.error_type) for c in sink.ended] == [
        (6, 2, True, None)
    ]


def test_the_default_reader_counts_chunks(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = SyncStreamProxy(FakeSDKStream(["ab", "cd", "ef"]), call)
    assert list(stream) == ["ab", "cd", "ef"]
    # Chunks counted without their text (0 output tokens); the input estimated from the 9-character prompt.
    assert [(c.chunks, c.output_tokens, c.input_tokens, c.usage_estimated) for c in sink.ended] == [
        (3, 0, 3, True)
    ]


async def test_the_default_reader_counts_chunks_async(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = AsyncStreamProxy(FakeAsyncSDKStream(["ab", "cd", "ef", "gh"]), call)
    assert [item async for item in stream] == ["ab", "cd", "ef", "gh"]
    assert [(c.chunks, c.output_tokens, c.input_tokens, c.usage_estimated) for c in sink.ended] == [
        (4, 0, 3, True)
    ]


class OwnIteratorReader(StreamReader):
    """Draws items from an iterator of its own rather than from the wrapped stream."""

    __slots__ = ()

    def __init__(self, call: Any, iterator: Any) -> None:
        super().__init__(call)
        self.iterator = iterator


def test_a_reader_that_sets_its_own_iterator_is_read_from(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    reader = OwnIteratorReader(call, iter(["x", "y"]))
    stream = SyncStreamProxy(FakeSDKStream(["never", "seen", "here"]), call, reader)
    assert list(stream) == ["x", "y"]
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(2, None)]


async def test_a_reader_that_sets_its_own_iterator_is_read_from_async(sink: RecordingSink) -> None:
    async def own() -> AsyncIterator[str]:
        yield "x"
        yield "y"

    call = start_call("openai", "chat", "m", streamed=True)
    reader = OwnIteratorReader(call, own())
    stream = AsyncStreamProxy(FakeAsyncSDKStream(["never", "seen", "here"]), call, reader)
    assert [item async for item in stream] == ["x", "y"]
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(2, None)]


def test_a_reader_must_read_into_the_proxys_own_call(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    other = start_call("openai", "chat", "m", streamed=True)
    with pytest.raises(ValueError, match="own call"):
        SyncStreamProxy(FakeSDKStream(["ab"]), call, StreamReader(other))
    with pytest.raises(ValueError, match="own call"):
        AsyncStreamProxy(FakeAsyncSDKStream(["ab"]), call, StreamReader(other))
    call.finish()
    other.finish()
    assert len(sink.ended) == 2


class FailingCompletionReader(StreamReader):
    """An instrumentor bug: completing the stream fails."""

    __slots__ = ()

    def on_complete(self) -> None:
        raise RuntimeError("completion bug")


def test_a_failing_completion_is_reported_and_the_call_still_finishes(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    from synapsekit._core.errors import set_strict

    call = start_call("openai", "chat", "m", streamed=True)
    stream = SyncStreamProxy(FakeSDKStream(["ab", "cd"]), call, FailingCompletionReader(call))
    set_strict(False)
    try:
        assert list(stream) == ["ab", "cd"]
    finally:
        set_strict(True)
    assert "stream.on_complete:FailingCompletionReader" in caplog.text
    # Finished, not failed; nothing estimated, since the estimate was on_complete's job.
    assert [(c.chunks, c.error_type, c.output_tokens) for c in sink.ended] == [(2, None, None)]


class CuttingReader(StreamReader):
    """A budget cut on the second item, as ``call.chunk`` raises it."""

    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        if item == "cd":
            raise BudgetExceeded("over budget", spent=2.0, limit=1.0)
        self.call.chunk(item)
        return True


def test_a_budget_cut_from_a_reader_closes_the_stream_and_fails_the_call(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    fake = FakeSDKStream(["ab", "cd", "ef"])
    stream = SyncStreamProxy(fake, call, CuttingReader(call))
    assert next(stream) == "ab"
    with pytest.raises(BudgetExceeded):
        next(stream)
    assert fake.closed
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, "BudgetExceeded")]


async def test_a_budget_cut_from_a_reader_closes_the_stream_and_fails_the_call_async(
    sink: RecordingSink,
) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    fake = FakeAsyncSDKStream(["ab", "cd", "ef"])
    stream = AsyncStreamProxy(fake, call, CuttingReader(call))
    assert await stream.__anext__() == "ab"
    with pytest.raises(BudgetExceeded):
        await stream.__anext__()
    assert fake.closed
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, "BudgetExceeded")]


async def test_an_async_generator_is_closed_with_aclose(sink: RecordingSink) -> None:
    # SDK methods written as async generators (ollama, cohere) return objects with aclose() and no close().
    closed: list[bool] = []

    async def parts() -> AsyncIterator[str]:
        try:
            for item in ("ab", "cd", "ef"):
                yield item
        finally:
            closed.append(True)

    call = start_call("ollama", "chat", "m", streamed=True)
    stream = AsyncStreamProxy(parts(), call, CuttingReader(call))
    assert await stream.__anext__() == "ab"
    with pytest.raises(BudgetExceeded):
        await stream.__anext__()
    call2 = start_call("ollama", "chat", "m", streamed=True)
    early = AsyncStreamProxy(parts(), call2, StreamReader(call2))
    assert await early.__anext__() == "ab"
    await early.aclose()
    assert closed == [True, True]
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, "BudgetExceeded"), (1, None)]


def test_next_and_a_loop_can_be_mixed_each_item_read_once(sink: RecordingSink) -> None:
    """``iter(stream)`` is a generator over the proxy's own reader: items taken by ``next`` are not seen again."""
    call = start_call("openai", "chat", "m", streamed=True)
    stream = SyncStreamProxy(FakeSDKStream(["ab", "cd", "ef", "gh"]), call)
    assert next(stream) == "ab"
    iterator = iter(stream)
    assert iterator is not stream
    assert next(iterator) == "cd"
    assert next(stream) == "ef"
    assert list(stream) == ["gh"]
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(4, None)]


def test_a_loop_abandoned_half_way_is_finalised_once_when_collected(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = SyncStreamProxy(FakeSDKStream(["abcd", "efgh", "ijkl"]), call)
    for item in stream:
        if item == "efgh":
            break
    assert sink.ended == []  # the caller still holds the stream
    del stream, item
    collect_garbage()
    # The default reader counts chunks without their text: 0 output tokens, estimated.
    assert [(c.chunks, c.output_tokens, c.error_type, c.usage_estimated) for c in sink.ended] == [
        (2, 0, None, True)
    ]


class SelfIteratingStream:
    """An SDK stream that is its own iterator (a generator, an ``EventStream``): ``iter()`` gives it back."""

    def __init__(self, items: list[Any]) -> None:
        self._items = iter(items)
        self.closed = False

    def __iter__(self) -> SelfIteratingStream:
        return self

    def __next__(self) -> Any:
        return next(self._items)

    def close(self) -> None:
        self.closed = True


def test_a_self_iterating_stream_keeps_the_proxy_as_its_iterator(sink: RecordingSink) -> None:
    """Closing what ``iter()`` gave closes the stream, as it would uninstrumented."""
    call = start_call("openai", "chat", "m", streamed=True)
    wrapped = SelfIteratingStream(["ab", "cd"])
    stream = SyncStreamProxy(wrapped, call)
    iterator = iter(stream)
    assert iterator is stream
    assert next(iterator) == "ab"
    iterator.close()
    assert wrapped.closed
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, None)]


class CountingProxy(SyncStreamProxy):
    """A subclass that overrides ``__next__``: loops go through it."""

    def __next__(self) -> Any:
        self._self_nexts = getattr(self, "_self_nexts", 0) + 1
        return super().__next__()


def test_a_subclass_overriding_next_is_iterated_through_it(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    stream = CountingProxy(FakeSDKStream(["ab", "cd"]), call)
    assert list(stream) == ["ab", "cd"]
    assert stream._self_nexts == 3  # two items and the end
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(2, None)]


def test_a_stream_collected_inside_a_ledger_operation_does_not_deadlock(sink: RecordingSink) -> None:
    """The collector may run an abandoned stream's finalizer on a thread that is inside a ledger operation (its
    lock held). Ending the call there settles its budget through that same lock: the thread hung for good. The
    finalizer now hands the call to the reaper thread, which ends it once the operation is over. Simulated
    exactly: the collection runs while this thread holds the budget's ledger lock."""
    import gc
    import threading

    from synapsekit._budget import MemoryLedger

    ledger = MemoryLedger()
    guard = synapsekit.budget(max_cost_usd=1.0, ledger=ledger)
    with guard:
        call = start_call(
            "openai", "chat", "gpt-4o-mini", streamed=True, max_output_tokens=10, prompt="a b c d"
        )
    proxy = SyncStreamProxy(iter(["one", "two", "three"]), call)
    next(proxy)
    cycle: list[Any] = [proxy]
    cycle.append(cycle)  # only the collector frees it, at a moment of its choosing
    del proxy, cycle
    collected = threading.Event()

    def collect_inside_an_operation() -> None:
        with ledger._lock:
            gc.collect()
        collected.set()

    worker = threading.Thread(target=collect_inside_an_operation, daemon=True)
    worker.start()
    assert collected.wait(10), "the stream's finalizer deadlocked on the ledger's lock"
    collect_garbage()
    assert sink.ended == [call]
    # Abandoned after one chunk with no text: estimated from the prompt, 7 characters = 2 tokens.
    assert (call.usage_estimated, call.input_tokens, call.output_tokens) == (True, 2, 0)
    assert guard.reserved_usd == 0.0  # the reservation settled: 2 input tokens of gpt-4o-mini at $0.15 / M
    assert guard.spent_usd == 300 / 1e9
