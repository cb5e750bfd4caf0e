"""Usage that cannot be right never reaches a tally as is, and never leaves a reservation behind."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import synapsekit
from synapsekit._budget import budget
from synapsekit._budget.ledger import Account, Ledger, LedgerError, Limits, MemoryLedger, Reservation, Totals
from synapsekit._budget.redis_ledger import RedisLedger
from synapsekit._budget.sqlite_ledger import SQLiteLedger
from synapsekit._core import call as call_module
from synapsekit._core.call import MAX_PLAUSIBLE_TOKENS, ImplausibleUsageWarning
from synapsekit._pricing import prices as prices_module
from synapsekit.plugin import start_call
from synapsekit.testing import CallRecorder, LLMTestServer

from ._support import MODEL, nano, prompt_of

PROMPT = prompt_of(3)  # estimated at 3 input tokens
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]
CALL = nano(3, 5)  # the worst case of a call with max_tokens=5, reserved and (for good usage) spent


class LedgerClock:
    """Epoch seconds that a test can move forward, past every reservation's expiry."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(autouse=True)
def _warn_again() -> Iterator[None]:
    call_module._usage_warned.clear()
    yield
    call_module._usage_warned.clear()


@pytest.fixture
def clock() -> LedgerClock:
    return LedgerClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: LedgerClock) -> Iterator[Ledger]:
    opened: Ledger
    if request.param == "memory":
        opened = MemoryLedger(clock=clock)
    elif request.param == "sqlite":
        opened = SQLiteLedger(tmp_path / "budget.db", clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        opened = RedisLedger.from_url(url, clock=clock, prefix=f"test:{uuid.uuid4().hex}")
    yield opened
    opened.close()


@pytest.fixture
def client(server: LLMTestServer) -> Iterator[openai.OpenAI]:
    synapsekit.instrument("openai")
    try:
        with openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as sdk:
            yield sdk
    finally:
        synapsekit.uninstrument("openai")


def test_absurd_usage_from_the_openai_sdk_is_estimated(
    client: openai.OpenAI, ledger: Ledger, clock: LedgerClock
) -> None:
    with (
        CallRecorder() as recorder,
        synapsekit.track() as tally,
        budget(max_cost_usd=1.0, ledger=ledger) as scope,
        pytest.warns(ImplausibleUsageWarning, match="reported input_tokens=1000000000000000000") as warned,
    ):
        reply = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=5, extra_headers={"x-test-input-tokens": str(10**18)}
        )
    assert reply.usage is not None and reply.usage.prompt_tokens == 10**18  # the caller's object untouched
    call = recorder.only
    assert (call.input_tokens, call.output_tokens, call.usage_estimated, call.usage_implausible) == (
        3,
        5,
        True,
        True,
    )
    assert (tally.tokens, tally.estimated_calls) == ({"input": 3, "output": 5, "total": 8}, 1)
    # Settled at the reservation's worst case, and nothing is left to be charged later.
    assert scope.totals() == Totals(spent_nano=CALL, reserved_nano=0, spent_tokens=8, reserved_tokens=0)
    clock.offset += 3600.0
    assert scope.totals() == Totals(spent_nano=CALL, reserved_nano=0, spent_tokens=8, reserved_tokens=0)
    # The warning names this file, where the request was made.
    assert [w.filename for w in warned if w.category is ImplausibleUsageWarning] == [__file__]


@pytest.mark.parametrize(
    ("usage", "tallied"),
    [
        ({"input_tokens": -7, "output_tokens": 5}, {"input": 3, "output": 5, "total": 8}),
        ({"input_tokens": 2.5, "output_tokens": 5}, {"input": 3, "output": 5, "total": 8}),
        ({"input_tokens": True, "output_tokens": 5}, {"input": 3, "output": 5, "total": 8}),
        ({"input_tokens": "3", "output_tokens": 5}, {"input": 3, "output": 5, "total": 8}),
        (
            {"input_tokens": MAX_PLAUSIBLE_TOKENS + 1, "output_tokens": 5},
            {"input": 3, "output": 5, "total": 8},
        ),
        ({"input_tokens": 10**18, "output_tokens": 10**18}, {"input": 3, "output": 0, "total": 3}),
        ({"input_tokens": 3, "output_tokens": -1}, {"input": 3, "output": 0, "total": 3}),
        (
            {"input_tokens": 3, "output_tokens": 5, "cached_input_tokens": -2},
            {"input": 3, "output": 5, "total": 8},
        ),
        (
            {"input_tokens": 3, "output_tokens": 5, "cached_input_tokens": 10},
            {"input": 3, "output": 5, "total": 8},
        ),
        (
            {"input_tokens": 3, "output_tokens": 5, "reasoning_tokens": 9},
            {"input": 3, "output": 5, "total": 8},
        ),
    ],
)
def test_usage_that_cannot_be_right_never_reaches_a_tally(
    ledger: Ledger, clock: LedgerClock, usage: dict[str, Any], tallied: dict[str, int]
) -> None:
    with synapsekit.track() as tally, budget(max_cost_usd=1.0, ledger=ledger) as scope:
        call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call.record_usage(**usage)
            call.finish()
    assert {(w.category, "which cannot be right" in str(w.message)) for w in caught} == {
        (ImplausibleUsageWarning, True)
    }
    assert (tally.tokens, tally.cached_input_tokens, tally.reasoning_tokens) == (tallied, 0, 0)
    assert (call.usage_estimated, call.usage_implausible, call.cost is not None) == (True, True, True)
    assert scope.totals() == Totals(spent_nano=CALL, reserved_nano=0, spent_tokens=8, reserved_tokens=0)
    clock.offset += 3600.0
    assert scope.totals().reserved_nano == 0 and scope.totals().spent_nano == CALL


def test_plausible_usage_is_recorded_as_reported() -> None:
    with synapsekit.track() as tally:
        call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        call.record_usage(input_tokens=MAX_PLAUSIBLE_TOKENS, output_tokens=0, cached_input_tokens=7)
        call.finish()
    assert (tally.input_tokens, tally.output_tokens, tally.cached_input_tokens) == (
        MAX_PLAUSIBLE_TOKENS,
        0,
        7,
    )
    assert (call.usage_estimated, call.usage_implausible) == (False, False)


def test_one_warning_per_provider_and_field() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            call = start_call("openai", "chat", MODEL, prompt=PROMPT)
            call.record_usage(input_tokens=-1, output_tokens=-1)
            call.finish()
    assert [str(w.message).split(" for model")[0] for w in caught] == [
        "openai reported input_tokens=-1",
        "openai reported output_tokens=-1",
    ]


def test_settlement_resolves_the_reservation_whatever_fails(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, clock: LedgerClock
) -> None:
    # The model's resolved prices, except that pricing what a call really cost fails, in integers or in
    # Decimal (a pricing bug); its worst case, reserved at admission, still prices.
    schedule = prices_module._schedule("openai", MODEL)
    assert schedule is not None

    class BrokenPricing:
        worst_case_nano_rates = schedule.worst_case_nano_rates

        @property
        def cost_nano_rates(self) -> object:
            raise RuntimeError("pricing bug")

        @property
        def fixed(self) -> object:
            raise RuntimeError("pricing bug")

    monkeypatch.setitem(prices_module._resolved, ("openai", MODEL), BrokenPricing())
    with budget(max_cost_usd=1.0, ledger=ledger) as scope:
        call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
        call.record_usage(input_tokens=3, output_tokens=2)
        # The test suite raises internal errors (SYNAPSEKIT_STRICT); users' processes log them.
        with pytest.raises(RuntimeError, match="pricing bug"):
            call.finish()
    # Charged at its worst case rather than left in the ledger to be charged after its TTL.
    assert scope.totals() == Totals(spent_nano=CALL, reserved_nano=0, spent_tokens=8, reserved_tokens=0)
    clock.offset += 3600.0
    assert scope.totals().spent_nano == CALL


def test_sqlite_turns_an_overflow_into_a_ledger_error(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "budget.db")
    account = Account("k", "session")
    ledger.reserve(account, Reservation("r", 100, 10, time.time() + 600), Limits(None, None), force=False)
    with pytest.raises(LedgerError, match="failed: Python int too large"):
        ledger.settle(account, "r", nano=10**19, tokens=1, reserved_nano=100, reserved_tokens=10)
    assert ledger.totals(account) == Totals(
        spent_nano=0, reserved_nano=100, spent_tokens=0, reserved_tokens=10
    )
    ledger.close()
