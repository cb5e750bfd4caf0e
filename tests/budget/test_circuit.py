"""Windows roll over at UTC calendar boundaries; the circuit breaker opens, probes once, closes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import (
    BudgetLimit,
    BudgetScope,
    CircuitState,
    MemoryLedger,
    budget,
    scope as scope_module,
)
from synapsekit._budget.circuit import Admission, CircuitBreaker
from synapsekit._budget.ledger import Account, Limits, Reservation, ReserveOutcome, Totals
from synapsekit.observability import BudgetGuard
from synapsekit.plugin import start_call
from synapsekit.testing import LLMTestServer

from ._support import MODEL, ServerLLM, nano, prompt_of, usd

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
    # A cooldown longer than the window: only the rollover half-opens the circuit here.
    with budget(max_cost_usd=usd(CALL), window=window, clock=clock, circuit_cooldown_s=10**8) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        with pytest.raises(BudgetExceeded) as caught:
            await llm.generate(PROMPT, max_tokens=5)
        assert caught.value.window == window
        clock.now = after - timedelta(microseconds=1)
        assert state_of(scope) is CircuitState.OPEN
        clock.now = after
        await llm.generate(PROMPT, max_tokens=5)
        assert scope.spent_usd == usd(CALL)


async def test_a_session_window_never_rolls_over(server: LLMTestServer, llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(CALL), clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN
        clock.now += timedelta(days=400)
        # The cooldown is over, so one probe may ask the ledger; the session's spend is still there.
        assert state_of(scope) is CircuitState.HALF_OPEN
        with pytest.raises(BudgetExceeded, match="would be exceeded"):
            await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN
        with pytest.raises(BudgetExceeded, match="circuit open"):
            await llm.generate(PROMPT, max_tokens=5)
    assert (scope.spent_usd, server.request_count) == (usd(CALL), 1)


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


async def test_a_probe_refused_over_settled_spend_reopens(llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 30, tzinfo=timezone.utc))
    with budget(max_cost_usd=usd(CALL), window="hour", clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(hours=1)
        with pytest.raises(BudgetExceeded, match="would be exceeded"):
            await llm.generate(PROMPT, max_tokens=6)  # larger than the whole budget
        assert state_of(scope) is CircuitState.OPEN
        with pytest.raises(BudgetExceeded, match="circuit open"):
            await llm.generate(PROMPT, max_tokens=5)
        clock.now += timedelta(seconds=60)  # the cooldown
        await llm.generate(PROMPT, max_tokens=5)
        assert state_of(scope) is CircuitState.OPEN  # that probe used the window up


def test_late_reports_about_a_past_window_do_not_reopen() -> None:
    breaker = CircuitBreaker(60.0, lambda: 0.0)
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


class CountingLedger(MemoryLedger):
    """The memory ledger, counting every round trip a budget makes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def reserve(
        self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
    ) -> ReserveOutcome:
        self.calls.append("reserve")
        return super().reserve(account, reservation, limits, force=force)

    def settle(
        self,
        account: Account,
        reservation_id: str,
        *,
        nano: int,
        tokens: int,
        reserved_nano: int,
        reserved_tokens: int,
    ) -> Totals:
        self.calls.append("settle")
        return super().settle(
            account,
            reservation_id,
            nano=nano,
            tokens=tokens,
            reserved_nano=reserved_nano,
            reserved_tokens=reserved_tokens,
        )


async def test_a_refusal_over_settled_spend_opens_the_circuit(
    server: LLMTestServer, llm: ServerLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    estimates: list[int] = []
    monkeypatch.setattr(
        scope_module, "count_input_tokens", lambda text, model: estimates.append(1) or len(text.split())
    )
    ledger = CountingLedger()
    clock = Clock(datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc))
    guard = BudgetGuard(
        llm,
        BudgetLimit(max_cost_usd=0.00003, window="hour"),
        ledger=ledger,
        clock=clock,
        circuit_cooldown_s=30,
    )
    outcomes = []
    for _ in range(200):
        try:
            await guard.generate(PROMPT, max_tokens=5)
            outcomes.append("admitted")
        except BudgetExceeded as refused:
            outcomes.append("circuit open" if "circuit open" in str(refused) else "over limit")
    # $0.000013 a call: two fit in $0.00003; the third would take settled spend to $0.000039.
    assert outcomes == ["admitted", "admitted", "over limit"] + ["circuit open"] * 197
    assert guard.circuit_state is CircuitState.OPEN
    # Refused by the open circuit: no estimate, no ledger round trip, no request.
    assert (len(estimates), ledger.calls) == (3, ["reserve", "settle", "reserve", "settle", "reserve"])
    assert (server.request_count, guard.rejections, guard.spent_usd) == (2, 198, usd(2 * CALL))

    clock.now += timedelta(seconds=29)
    assert guard.circuit_state is CircuitState.OPEN
    clock.now += timedelta(seconds=1)  # the cooldown is over: one probe, still over the settled spend
    assert guard.circuit_state is CircuitState.HALF_OPEN
    with pytest.raises(BudgetExceeded, match="would be exceeded"):
        await guard.generate(PROMPT, max_tokens=5)
    assert guard.circuit_state is CircuitState.OPEN

    clock.now = datetime(2025, 6, 1, 11, 0, tzinfo=timezone.utc)  # the window rolls over
    assert guard.circuit_state is CircuitState.HALF_OPEN
    await guard.generate(PROMPT, max_tokens=5)  # the probe fits the new window: the circuit closes
    assert guard.circuit_state is CircuitState.CLOSED
    assert (server.request_count, len(estimates), len(ledger.calls)) == (3, 5, 8)


async def test_a_refusal_over_a_token_limit_opens_the_circuit(server: LLMTestServer, llm: ServerLLM) -> None:
    clock = Clock(datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc))
    with budget(max_tokens=20, clock=clock) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        await llm.generate(PROMPT, max_tokens=5)  # 16 of 20 tokens settled; 8 more cannot fit
        assert state_of(scope) is CircuitState.CLOSED
        with pytest.raises(BudgetExceeded, match="would be exceeded") as caught:
            await llm.generate(PROMPT, max_tokens=5)
        assert (caught.value.limit_kind, caught.value.spent, caught.value.limit) == ("tokens", 16.0, 20.0)
        assert state_of(scope) is CircuitState.OPEN
        with pytest.raises(BudgetExceeded, match="circuit open"):
            await llm.generate(PROMPT, max_tokens=1)  # would fit, but the circuit is open
        clock.now += timedelta(seconds=60)
        await llm.generate(PROMPT, max_tokens=1)  # the probe fits: 20 of 20
        assert state_of(scope) is CircuitState.OPEN  # ...and used the window up
    assert server.request_count == 3


def test_a_refusal_over_reservations_in_flight_leaves_the_circuit_closed() -> None:
    with budget(max_cost_usd=usd(CALL)) as scope:
        first = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        with pytest.raises(BudgetExceeded, match=r"reserved \$0.000013"):
            start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        assert state_of(scope) is CircuitState.CLOSED  # the first call may yet be released
        first.fail(ConnectionError("provider unreachable"))
        second = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        second.record_usage(input_tokens=3, output_tokens=5)
        second.finish()
    assert (scope.spent_usd, state_of(scope)) == (usd(CALL), CircuitState.OPEN)
