"""A reader that returns each chunk's text (``StreamReader.chunk_text``) is cut by a budget at the same chunk,
and its budgets hear about the same chunks, as one that calls ``call.chunk`` in ``on_item``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import budget
from synapsekit._budget.scope import BudgetScope
from synapsekit._core.call import LLMCall, start_call
from synapsekit.plugin import StreamReader, SyncStreamProxy

from ._support import MODEL, prompt_of

WORDS = [f" w{index:02d}" for index in range(40)]  # 4 characters each


class WordStream:
    """An SDK stream whose ``__iter__`` is a generator (the proxy's loop is then a generator of its own)."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        yield from WORDS

    def close(self) -> None:
        self.closed = True


class OnItemReader(StreamReader):
    __slots__ = ()

    def on_item(self, item: Any) -> bool:
        self.call.chunk(item)
        return True


class TextReader(StreamReader):
    __slots__ = ()

    def chunk_text(self, item: Any) -> str | bool:
        return str(item)


@pytest.fixture
def on_chunk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    original = BudgetScope.on_chunk

    def counting(self: BudgetScope, call: LLMCall) -> None:
        seen.append(call._streamed_chars)
        original(self, call)

    monkeypatch.setattr(BudgetScope, "on_chunk", counting)
    return seen


def _stream(reader_class: type[StreamReader], max_cost_usd: float) -> Iterator[tuple[Any, ...]]:
    with budget(max_cost_usd=max_cost_usd, default_max_output_tokens=2) as scope:
        call = start_call("openai", "chat", MODEL, streamed=True, prompt=prompt_of(3))
        wrapped = WordStream()
        stream = SyncStreamProxy(wrapped, call, reader_class(call))
        seen = []
        try:
            for word in stream:
                seen.append(word)
                if len(seen) == 20:
                    call.record_usage(input_tokens=30)  # usage mid-stream: checked at the next chunk
        except BudgetExceeded:
            pass
    yield len(seen), call.chunks, call._streamed_chars, call.error_type, wrapped.closed, scope.spent_usd


EVERY_CHUNK_FROM_12 = list(range(12, 160, 4))


@pytest.mark.parametrize(
    ("max_cost_usd", "expected", "checks"),
    [
        # 2 output tokens reserved cover 8 characters; the third chunk (12) grows the reservation by 64 tokens,
        # which only the usage reported after the 20th chunk overruns (checked at the next chunk: 84).
        (1.0, (40, 40, 160, None, False, 0.00011), [12, 84]),
        # Too little left to grow: every chunk is checked from the third on, and the stream cut at the 14th.
        (0.00003, (13, 14, 56, "BudgetExceeded", True, 0.000031), EVERY_CHUNK_FROM_12[:12]),
        # Cut at the chunk after the usage reported mid-stream.
        (0.00006, (20, 21, 84, "BudgetExceeded", True, 0.000072), EVERY_CHUNK_FROM_12[:19]),
        (0.0001, (35, 36, 144, "BudgetExceeded", True, 0.000102), EVERY_CHUNK_FROM_12[:34]),
    ],
    ids=["never-cut", "cut-at-14", "cut-after-usage", "cut-at-36"],
)
def test_chunk_text_is_cut_and_checked_at_the_same_chunks(
    max_cost_usd: float, expected: tuple[Any, ...], checks: list[int], on_chunk_calls: list[int]
) -> None:
    by_chunk_text = next(_stream(TextReader, max_cost_usd))
    assert (by_chunk_text, on_chunk_calls) == (pytest.approx(expected), checks)
    on_chunk_calls.clear()
    by_on_item = next(_stream(OnItemReader, max_cost_usd))
    assert (by_on_item, on_chunk_calls) == (pytest.approx(expected), checks)
