"""Readers that return each chunk's text (``StreamReader.chunk_text``): the proxy counts the chunks itself, with
exactly the counts, hidden items, errors and endings of a reader that calls ``call.chunk`` in ``on_item``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from synapsekit._core.call import start_call
from synapsekit._core.errors import set_strict
from synapsekit.plugin import AsyncStreamProxy, BudgetExceeded, StreamReader, SyncStreamProxy

from .conftest import RecordingSink


class FakeStream:
    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        yield from self.items

    async def _aiterate(self) -> AsyncIterator[Any]:
        for item in self.items:
            yield item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiterate()

    def close(self) -> None:
        self.closed = True


class FakeAsyncStream(FakeStream):
    async def close(self) -> None:  # type: ignore[override]
        self.closed = True


class ItemReader(StreamReader):
    """Text items are chunks; a dict reports usage and is hidden; an int is delivered, not counted."""

    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        if type(item) is dict:
            self.call.record_usage(input_tokens=item["in"], output_tokens=item["out"])
            return False
        if type(item) is int:
            return True
        if item == "boom":
            raise RuntimeError("reader bug")
        self.call.chunk(item)
        return True


class TextReader(StreamReader):
    """:class:`ItemReader` through ``chunk_text``."""

    __slots__ = ()

    def chunk_text(self, item: Any) -> str | bool:
        if type(item) is dict:
            self.call.record_usage(input_tokens=item["in"], output_tokens=item["out"])
            return False
        if type(item) is int:
            return True
        if item == "boom":
            raise RuntimeError("reader bug")
        return str(item)


ITEMS: list[Any] = ["ab", "", 7, "cde", "f", {"in": 9, "out": 3}]
WITHOUT_USAGE: list[Any] = ["ab", "", 7, "cde", "f"]


def _read(reader_class: type[StreamReader], items: list[Any], how: str) -> tuple[list[Any], Any]:
    call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
    stream = SyncStreamProxy(FakeStream(items), call, reader_class(call))
    if how == "loop":
        seen = list(stream)
    elif how == "next":
        seen = []
        while True:
            try:
                seen.append(next(stream))
            except StopIteration:
                break
    else:  # mixed
        seen = [next(stream), next(iter(stream)), next(stream), *stream]
    return seen, call


def _counts(call: Any) -> tuple[Any, ...]:
    return (
        call.chunks,
        call._streamed_chars,
        call.time_to_first_chunk_s is not None,
        call.input_tokens,
        call.output_tokens,
        call.usage_estimated,
        call.error_type,
        call.ended,
    )


@pytest.mark.parametrize("how", ["loop", "next", "mixed"])
@pytest.mark.parametrize("items", [ITEMS, WITHOUT_USAGE], ids=["usage", "no-usage"])
def test_chunks_are_counted_as_call_chunk_counts_them(
    how: str, items: list[Any], sink: RecordingSink
) -> None:
    seen, call = _read(TextReader, items, how)
    expected_seen, expected = _read(ItemReader, items, how)
    assert seen == expected_seen == ["ab", "", 7, "cde", "f"]
    assert _counts(call) == _counts(expected)
    usage = (9, 3, False) if len(items) == 6 else (3, 2, True)  # else 6 characters → 2 tokens, estimated
    assert _counts(call) == (4, 6, True, *usage, None, True)


async def test_chunks_are_counted_as_call_chunk_counts_them_async(sink: RecordingSink) -> None:
    results = []
    for reader_class in (TextReader, ItemReader):
        call = start_call("openai", "chat", "m", streamed=True, prompt="p p p p p")
        stream = AsyncStreamProxy(FakeAsyncStream(ITEMS), call, reader_class(call))
        results.append(([item async for item in stream], _counts(call)))
    assert results[0] == results[1] == (["ab", "", 7, "cde", "f"], (4, 6, True, 9, 3, False, None, True))


def test_with_chunk_times_kept_every_chunk_is_timed(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    call.chunk_times_ns = []  # what the first chunk decides when the GenAI metrics are recorded
    stream = SyncStreamProxy(FakeStream(["ab", "cd", "ef"]), call, TextReader(call))
    assert list(stream) == ["ab", "cd", "ef"]
    assert (call.chunks, len(call.chunk_times_ns)) == (3, 3)


def test_a_failing_chunk_text_is_reported_and_the_item_delivered_uncounted(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    set_strict(False)
    try:
        for how in ("loop", "next"):
            seen, call = _read(TextReader, ["ab", "boom", "cd"], how)
            assert seen == ["ab", "boom", "cd"]
            assert (call.chunks, call._streamed_chars, call.ended) == (2, 4, True)
    finally:
        set_strict(True)
    assert "stream.on_item:TextReader" in caplog.text
    call = start_call("openai", "chat", "m", streamed=True)
    strict = SyncStreamProxy(FakeStream(["boom"]), call, TextReader(call))
    with pytest.raises(RuntimeError, match="reader bug"):
        next(iter(strict))
    strict.close()


class CuttingTextReader(TextReader):
    """A budget cut on the second item, as ``call.chunk`` raises it from inside a reader."""

    __slots__ = ()

    def chunk_text(self, item: Any) -> str | bool:
        if item == "cd":
            raise BudgetExceeded("over budget", spent=2.0, limit=1.0)
        return super().chunk_text(item)


@pytest.mark.parametrize("how", ["loop", "next"])
def test_a_budget_cut_from_chunk_text_closes_the_stream_and_fails_the_call(
    how: str, sink: RecordingSink
) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    fake = FakeStream(["ab", "cd", "ef"])
    stream = SyncStreamProxy(fake, call, CuttingTextReader(call))
    iterator = iter(stream) if how == "loop" else stream
    assert next(iterator) == "ab"
    with pytest.raises(BudgetExceeded):
        next(iterator)
    assert fake.closed
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, "BudgetExceeded")]


async def test_a_budget_cut_from_chunk_text_closes_the_stream_and_fails_the_call_async(
    sink: RecordingSink,
) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    fake = FakeAsyncStream(["ab", "cd", "ef"])
    stream = AsyncStreamProxy(fake, call, CuttingTextReader(call))
    assert await stream.__anext__() == "ab"
    with pytest.raises(BudgetExceeded):
        await stream.__anext__()
    assert fake.closed
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, "BudgetExceeded")]


class DroppingStream(FakeStream):
    def __iter__(self) -> Iterator[Any]:
        yield from self.items
        raise ConnectionError("dropped")


def test_a_stream_failing_mid_way_fails_the_call_once(sink: RecordingSink) -> None:
    call = start_call("openai", "chat", "m", streamed=True)
    stream = SyncStreamProxy(DroppingStream(["ab", {"in": 1, "out": 1}, "cd"]), call, TextReader(call))
    seen: list[Any] = []
    with pytest.raises(ConnectionError, match="dropped"):
        seen.extend(stream)
    assert seen == ["ab", "cd"]
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(2, "ConnectionError")]


def test_an_error_thrown_into_the_loop_is_not_the_streams(sink: RecordingSink) -> None:
    """Only a failure of the stream itself fails the call; one thrown in at the loop's yield passes through."""
    call = start_call("openai", "chat", "m", streamed=True)
    stream = SyncStreamProxy(FakeStream(["ab", "cd"]), call, TextReader(call))
    loop = iter(stream)
    assert next(loop) == "ab"
    with pytest.raises(ValueError, match="caller's"):
        loop.throw(ValueError("caller's"))
    assert not call.ended
    stream.close()
    assert [(c.chunks, c.error_type) for c in sink.ended] == [(1, None)]
