"""Budget overhead: admission + settlement per call (memory ledger) against the same call with no budget.

Run: ``uv run --frozen pytest bench/test_bench_budget.py --benchmark-enable``. Both sides drive the offline
model through the whole call lifecycle (start, price, scopes, finish) in the same run, so the difference is
what the budget adds: the token estimate, the worst-case price, the reservation and its settlement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from synapsekit import OfflineLLM
from synapsekit._budget import BudgetScope, budget

PROMPT = "Summarise the quarterly report in three bullet points for the board."


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def _call(loop: asyncio.AbstractEventLoop, llm: OfflineLLM) -> str:
    return loop.run_until_complete(llm.generate(PROMPT, max_tokens=16))


@pytest.mark.benchmark(group="budget-per-call")
def test_call_without_budget(benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop) -> None:
    llm = OfflineLLM()
    assert benchmark(_call, loop, llm)


@pytest.mark.benchmark(group="budget-per-call")
def test_call_with_budget_memory_ledger(benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop) -> None:
    llm = OfflineLLM()
    scope: BudgetScope = budget(max_cost_usd=1_000_000.0, window="day")
    with scope:
        assert benchmark(_call, loop, llm)
    assert scope.spent_usd > 0
    assert scope.reserved_usd == 0.0
    assert scope.rejections == 0


@pytest.mark.benchmark(group="budget-per-call")
def test_call_with_two_nested_budgets(benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop) -> None:
    llm = OfflineLLM()
    with budget(max_cost_usd=1_000_000.0), budget(max_cost_usd=1_000_000.0, max_tokens=10**12, window="hour"):
        assert benchmark(_call, loop, llm)


@pytest.mark.benchmark(group="budget-refusal")
def test_refusal_by_an_open_circuit(benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop) -> None:
    from synapsekit import BudgetExceeded

    llm = OfflineLLM()
    scope = budget(max_cost_usd=0.0)

    def refused() -> bool:
        try:
            _call(loop, llm)
        except BudgetExceeded:
            return True
        return False

    with scope:
        assert benchmark(refused)
