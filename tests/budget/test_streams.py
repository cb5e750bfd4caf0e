"""Streams: cut when the running output outruns the budget, charged for what they streamed."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncGenerator, Iterator
from typing import cast

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import (
    BudgetEvent,
    BudgetWarning,
    CircuitState,
    add_budget_listener,
    budget,
    remove_budget_listener,
)
from synapsekit._budget.scope import BudgetScope
from synapsekit._core.call import LLMCall, start_call
from synapsekit._core.scope import Scope
from synapsekit.testing import LLMTestServer

from ._support import MODEL, ServerLLM, drain, nano, prompt_of, usd

PROMPT = prompt_of(3)


@pytest.fixture
def events() -> Iterator[list[BudgetEvent]]:
    seen: list[BudgetEvent] = []
    add_budget_listener(seen.append)
    yield seen
    remove_budget_listener(seen.append)


async def test_a_stream_is_cut_when_the_budget_runs_out(
    server: LLMTestServer, llm: ServerLLM, events: list[BudgetEvent]
) -> None:
    # No max_tokens: 2 output tokens reserved by default here, the server streams 12 words. Output is
    # counted from the text (4 chars a token): "Hello" 2, " from" 3, " the" 4, " synapsekit" 7 tokens —
    # the budget allows 6, so the fourth chunk is never delivered.
    received: list[str] = []
    with budget(max_cost_usd=usd(nano(3, 6)), default_max_output_tokens=2, name="s") as scope:
        with pytest.raises(BudgetExceeded) as caught:
            await drain(llm.stream(PROMPT), received)
        assert received == ["Hello", " from", " the"]
        # What was streamed was billed, so it is charged: 3 input + 7 output tokens.
        assert (scope.spent_usd, scope.reserved_usd) == (usd(nano(3, 7)), 0.0)
        assert scope.circuit_state is CircuitState.OPEN
    assert str(caught.value) == (
        "budget 's' (session window) ran out while streaming: the stream was cut (spent $0 + reserved"
        " $0.000011 + this call up to $0 > limit $0.000015)"
    )
    assert (caught.value.limit_kind, scope.rejections, server.request_count) == ("cost", 1, 1)
    assert [(e.kind, e.reason) for e in events] == [
        ("reserved", None),
        ("exceeded", "stream_cut"),
        ("settled", None),
    ]


async def test_a_stream_within_its_max_tokens_is_never_cut(server: LLMTestServer, llm: ServerLLM) -> None:
    # The text-based estimate of 5 words is 8 tokens, but the provider stops at max_tokens=5.
    with budget(max_cost_usd=usd(nano(3, 5))) as scope:
        chunks = [chunk async for chunk in llm.stream(PROMPT, max_tokens=5)]
    assert "".join(chunks) == "Hello from the synapsekit test"
    assert scope.spent_usd == usd(nano(3, 5))


async def test_a_long_stream_grows_its_reservation_in_steps(
    llm: ServerLLM, events: list[BudgetEvent]
) -> None:
    with budget(max_cost_usd=1.0, default_max_output_tokens=2) as scope:
        chunks = [chunk async for chunk in llm.stream(PROMPT)]
    assert len(chunks) == 12
    # One growth of 64 tokens covered the rest of the stream; the call then settled to its usage.
    assert [e.kind for e in events] == ["reserved", "settled"]
    assert scope.spent_usd == usd(nano(3, 12))


async def test_warn_mode_lets_the_stream_finish_and_warns_once(server: LLMTestServer, llm: ServerLLM) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with budget(max_cost_usd=usd(nano(3, 6)), default_max_output_tokens=2, on_exceeded="warn") as scope:
            chunks = [chunk async for chunk in llm.stream(PROMPT)]
    assert len(chunks) == 12
    assert len([w for w in caught if w.category is BudgetWarning]) == 1
    assert scope.spent_usd == usd(nano(3, 12))


async def test_an_abandoned_stream_settles_to_its_estimate(server: LLMTestServer, llm: ServerLLM) -> None:
    with budget(max_cost_usd=1.0) as scope:
        stream = cast("AsyncGenerator[str, None]", llm.stream(PROMPT, max_tokens=5))
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                if chunk == " from":
                    break
        # "Hello from" is 10 characters: 3 estimated output tokens; the prompt 11 characters: 3.
        assert (scope.spent_usd, scope.reserved_usd) == (usd(nano(3, 3)), 0.0)


async def test_a_stream_dropped_by_the_server_is_charged_for_what_arrived(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    with budget(max_cost_usd=1.0) as scope:
        with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the HTTP client raises for a cut body
            await drain(llm.stream(PROMPT, max_tokens=5, headers={"x-test-drop-after": "2"}), [])
        assert (scope.spent_usd, scope.reserved_usd) == (usd(nano(3, 3)), 0.0)


@pytest.fixture
def on_chunk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The streamed characters each time a budget's ``on_chunk`` runs."""
    seen: list[int] = []
    original = BudgetScope.on_chunk

    def counting(self: BudgetScope, call: LLMCall) -> None:
        seen.append(call._streamed_chars)
        original(self, call)

    monkeypatch.setattr(BudgetScope, "on_chunk", counting)
    return seen


async def test_chunks_inside_the_reservation_never_reach_the_budget(
    llm: ServerLLM, on_chunk_calls: list[int]
) -> None:
    # 4,096 output tokens reserved by default: 12 words of text cannot outrun that.
    with budget(max_cost_usd=1.0) as scope:
        chunks = [chunk async for chunk in llm.stream(PROMPT)]
    assert (len(chunks), on_chunk_calls) == (12, [])
    assert scope.spent_usd == usd(nano(3, 12))


async def test_a_budget_hears_of_a_stream_once_its_text_passes_the_reservation(
    llm: ServerLLM, on_chunk_calls: list[int], events: list[BudgetEvent]
) -> None:
    # 2 output tokens reserved cover 8 characters: "Hello" (5) does not reach the budget, "Hello from" (10)
    # does; it grows the reservation by 64 tokens (256 characters more), which the rest never passes.
    with budget(max_cost_usd=1.0, default_max_output_tokens=2) as scope:
        chunks = [chunk async for chunk in llm.stream(PROMPT)]
    assert (len(chunks), on_chunk_calls) == (12, [10])
    assert [e.kind for e in events] == ["reserved", "settled"]
    assert scope.spent_usd == usd(nano(3, 12))


def test_usage_reported_mid_stream_is_checked_at_the_next_chunk(on_chunk_calls: list[int]) -> None:
    with budget(max_cost_usd=1.0) as scope:
        call = start_call("openai", "chat", MODEL, streamed=True, max_output_tokens=5, prompt=PROMPT)
        call.chunk("Hello")
        assert (on_chunk_calls, scope.reserved_usd) == ([], usd(nano(3, 5)))
        # The provider says the prompt was 1,000 tokens, far past the 3 counted: the reservation grows
        # (by at least 64 output tokens) at the next chunk, and later chunks cost nothing again.
        call.record_usage(input_tokens=1_000)
        call.chunk(" from")
        call.chunk(" the")
        assert (on_chunk_calls, scope.reserved_usd) == ([10], usd(nano(1_000, 69)))
        call.record_usage(output_tokens=3)
        call.finish()
        assert (scope.spent_usd, scope.reserved_usd) == (usd(nano(1_000, 3)), 0.0)


def test_a_stream_over_its_budget_with_reported_input_is_cut() -> None:
    with budget(max_cost_usd=usd(nano(10, 5))) as scope:
        call = start_call("openai", "chat", MODEL, streamed=True, max_output_tokens=5, prompt=PROMPT)
        call.chunk("Hello")
        call.record_usage(input_tokens=1_000)
        with pytest.raises(BudgetExceeded, match="ran out while streaming"):
            call.chunk(" from")
        call.fail(BudgetExceeded("cut", spent=0.0, limit=0.0, limit_kind="cost", window="session"))
        # Billed for the reported prompt and the 10 characters streamed (3 tokens).
        assert (scope.spent_usd, scope.reserved_usd, scope.rejections) == (usd(nano(1_000, 3)), 0.0, 1)


class _EveryChunk(Scope):
    """A gating scope that does not set a chunk allowance: it must hear about every chunk."""

    gates_calls = True

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_chunk(self, call: LLMCall) -> None:
        self.seen.append(call.chunks)


def test_a_scope_without_an_allowance_hears_every_chunk_beside_a_budget(on_chunk_calls: list[int]) -> None:
    with budget(max_cost_usd=1.0), _EveryChunk() as every:
        call = start_call("openai", "chat", MODEL, streamed=True, max_output_tokens=5, prompt=PROMPT)
        for text in ("Hello", " from", " the"):
            call.chunk(text)
        call.finish()
    # The budget is asked along with it (its reservation covers the text, so nothing changes there).
    assert (every.seen, on_chunk_calls) == ([1, 2, 3], [5, 10, 14])
