"""Windows roll over at UTC calendar boundaries; the circuit breaker opens, probes once, closes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import BudgetScope, CircuitState, budget
from synapsekit._budget.circuit import Admission, CircuitBreaker
from synapsekit.testing import LLMTestServer

from ._support import ServerLLM, nano, prompt_of, usd

PROMPT = prompt_of(3)
CALL = nano(3, 5)


def state_of(scope: BudgetScope) -> CircuitState:
    # A call, not the property, so that type checkers do not narrow it between two assertions.
    return scope.circuit_state


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_an_hour_window_resets_at_the_boundary(server: LLMTestServer, llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 59, 59, tzinfo=timezone.utc))
    scope = budget(max_cost_usd=usd(2 * CALL), window="hour", clock=clock)
    with scope:
        await llm.generate(PROMPT, max_tokens=5)
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN
        with pytest.raises(BudgetExceeded, match="circuit open"):
            await llm.generate(PROMPT, max_tokens=5)
        clock.now = datetime(2025, 6, 1, 11, 0, 0, tzinfo=timezone.utc)
        assert state_of(scope) is CircuitState.HALF_OPEN
        assert (scope.spent_usd, scope.remaining_usd) == (0.0, usd(2 * CALL))
        await llm.generate(PROMPT, max_tokens=5)  # the probe: within budget, so the circuit closes
        assert state_of(scope) is CircuitState.CLOSED
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN
    assert server.request_count == 4


@pytest.mark.parametrize(
    ("window", "before", "after"),
    [
        (
            "day",
            datetime(2025, 6, 1, 23, 59, tzinfo=timezone.utc),
            datetime(2025, 6, 2, 0, 0, tzinfo=timezone.utc),
        ),
        (
            "month",
            datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc),
            datetime(2026, 1, 1, tzinfo=timezone.utc),
        ),
    ],
)
async def test_day_and_month_windows(llm: ServerLLM, window: str, before: datetime, after: datetime) -> None:
    clock = Clock(before)
    with budget(max_cost_usd=usd(CALL), window=window, clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        with pytest.raises(BudgetExceeded) as caught:
            await llm.generate(PROMPT, max_tokens=5)
        assert caught.value.window == window
        clock.now = after - timedelta(microseconds=1)
        assert state_of(scope) is CircuitState.OPEN
        clock.now = after
        await llm.generate(PROMPT, max_tokens=5)
        assert scope.spent_usd == usd(CALL)


async def test_a_session_window_never_rolls_over(llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(CALL), clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(days=400)
        assert state_of(scope) is CircuitState.OPEN
        with pytest.raises(BudgetExceeded):
            await llm.generate(PROMPT, max_tokens=5)


async def test_half_open_admits_exactly_one_probe_among_50_concurrent_callers(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc))
    scope = budget(max_cost_usd=usd(2 * CALL), window="hour", clock=clock)
    async with scope:
        await llm.generate(PROMPT, max_tokens=5)
        await llm.generate(PROMPT, max_tokens=5)
    assert state_of(scope) is CircuitState.OPEN
    clock.now = datetime(2025, 6, 1, 11, 0, tzinfo=timezone.utc)

    async def caller() -> str:
        async with scope:
            return await llm.generate(PROMPT, max_tokens=5, headers={"x-test-latency-ms": "100"})

    results = await asyncio.gather(*(caller() for _ in range(50)), return_exceptions=True)
    probes = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert (len(probes), len(refused)) == (1, 49)
    assert all("circuit open" in str(error) for error in refused)
    assert server.request_count == 3
    assert state_of(scope) is CircuitState.CLOSED


async def test_a_probe_that_exhausts_the_new_window_reopens(llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(CALL), window="hour", clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(hours=1)
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN


async def test_a_failed_probe_frees_the_slot_for_the_next_caller(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(2 * CALL), window="hour", clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(hours=1)
        server.fail_next(503)
        with pytest.raises(Exception):  # noqa: B017,PT011 - the HTTP client's error for the 503
            await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.HALF_OPEN
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.CLOSED


async def test_a_probe_refused_by_the_ledger_frees_the_slot(llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(CALL), window="hour", clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(hours=1)
        with pytest.raises(BudgetExceeded, match="would be exceeded"):
            await llm.generate(PROMPT, max_tokens=6)  # larger than the whole budget
        assert state_of(scope) is CircuitState.HALF_OPEN
        await llm.generate(PROMPT, max_tokens=5)


def test_late_reports_about_a_past_window_do_not_reopen() -> None:
    breaker = CircuitBreaker()
    old, new = "2025-06-01T10", "2025-06-01T11"
    breaker.report(object(), old, exhausted=True, good=True)
    assert breaker.state(old) is CircuitState.OPEN
    probe = object()
    assert breaker.enter(new, probe) is Admission.PROBE
    assert breaker.enter(new, object()) is Admission.REFUSE
    breaker.report(object(), old, exhausted=True, good=True)  # a call of the old window settling late
    assert breaker.state(new) is CircuitState.HALF_OPEN
    assert breaker.enter(new, object()) is Admission.REFUSE  # the probe is still out
    breaker.report(probe, new, exhausted=False, good=True)
    assert breaker.state(new) is CircuitState.CLOSED
    assert breaker.enter(new, object()) is Admission.NORMAL
