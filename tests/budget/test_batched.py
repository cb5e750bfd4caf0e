"""Nested budgets are admitted and settled in one ledger operation: ``reserve_many`` / ``settle_many``.

The contract every ledger keeps (memory, SQLite, Redis): a batch is all-or-nothing, items on the same
account see the ones before them, and settlement is the single-item settlement applied to each item. Then
the budgets' side: however many budgets are in scope, one ledger operation per call to admit and one to
settle; a refusing budget leaves no reservation anywhere; two processes sharing two nested budgets stay
exact.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import MemoryLedger, budget
from synapsekit._budget.ledger import (
    Account,
    Ledger,
    Limits,
    Reservation,
    ReserveItem,
    ReserveOutcome,
    SettleItem,
    Totals,
)
from synapsekit._budget.redis_ledger import RedisLedger
from synapsekit._budget.sqlite_ledger import SQLiteLedger
from synapsekit._core.call import start_call
from synapsekit.testing import LLMTestServer

from ._support import MODEL, nano
from .test_processes import _ledger_url, _open, _worker

LedgerFactory = Callable[[], Ledger]
OUTER = Account("outer", "session")
INNER = Account("inner", "session")
LIMITS = Limits(nano=1000, tokens=100)
CALL = nano(3, 5)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerFactory]:
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger: Ledger
        if request.param == "memory":
            ledger = MemoryLedger()
        elif request.param == "sqlite":
            ledger = SQLiteLedger(tmp_path / "budget.db")
        else:
            url = request.getfixturevalue("redis_url")
            ledger = RedisLedger.from_url(url, prefix=f"test:{uuid.uuid4().hex}")
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def _item(account: Account, rid: str, amount: int, tokens: int = 10, *, force: bool = False) -> ReserveItem:
    return ReserveItem(account, Reservation(rid, amount, tokens, time.time() + 600), LIMITS, force)


def test_a_batch_that_fits_reserves_every_item(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger()
    outcomes = ledger.reserve_many([_item(OUTER, "o1", 600), _item(INNER, "i1", 400)])
    assert outcomes == [
        ReserveOutcome(True, Totals(0, 600, 0, 10)),
        ReserveOutcome(True, Totals(0, 400, 0, 10)),
    ]
    settled = ledger.settle_many(
        [SettleItem(OUTER, "o1", 250, 7, 600, 10), SettleItem(INNER, "i1", 250, 7, 400, 10)]
    )
    assert settled == [Totals(250, 0, 7, 0), Totals(250, 0, 7, 0)]
    assert (ledger.totals(OUTER), ledger.totals(INNER)) == (Totals(250, 0, 7, 0), Totals(250, 0, 7, 0))


def test_one_refused_item_reserves_nothing(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger()
    ledger.reserve(INNER, Reservation("held", 500, 10, time.time() + 600), LIMITS, force=False)
    outcomes = ledger.reserve_many([_item(OUTER, "o1", 600), _item(INNER, "i1", 501)])
    # The outer item fits and the inner one does not: neither is reserved.
    assert outcomes == [
        ReserveOutcome(True, Totals(0, 0, 0, 0)),
        ReserveOutcome(False, Totals(0, 500, 0, 10)),
    ]
    assert (ledger.totals(OUTER), ledger.totals(INNER)) == (Totals(), Totals(0, 500, 0, 10))
    # Nothing of the refused batch lingers: the same ids can be reserved afresh.
    again = ledger.reserve_many([_item(OUTER, "o1", 600), _item(INNER, "i1", 500)])
    assert [outcome.admitted for outcome in again] == [True, True]
    assert ledger.totals(OUTER) == Totals(0, 600, 0, 10)


def test_items_on_one_account_count_the_ones_before_them(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger()
    outcomes = ledger.reserve_many([_item(OUTER, "a", 600), _item(OUTER, "b", 401)])
    assert [outcome.admitted for outcome in outcomes] == [True, False]
    assert ledger.totals(OUTER) == Totals()
    fits = ledger.reserve_many([_item(OUTER, "a", 600), _item(OUTER, "b", 400)])
    assert fits[1] == ReserveOutcome(True, Totals(0, 1000, 0, 20))


def test_a_forced_item_is_reserved_over_its_limit(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger()
    outcomes = ledger.reserve_many([_item(OUTER, "o1", 5000, force=True), _item(INNER, "i1", 10)])
    assert outcomes == [
        ReserveOutcome(True, Totals(0, 5000, 0, 10)),
        ReserveOutcome(True, Totals(0, 10, 0, 10)),
    ]


class CountingLedger(MemoryLedger):
    """The memory ledger, recording every operation a budget makes on it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def reserve_many(self, items: Sequence[ReserveItem]) -> list[ReserveOutcome]:
        self.calls.append(("reserve_many", len(items)))
        return super().reserve_many(items)

    def settle_many(self, items: Sequence[SettleItem]) -> list[Totals]:
        self.calls.append(("settle_many", len(items)))
        return super().settle_many(items)


def test_nested_budgets_take_one_ledger_operation_to_admit_and_one_to_settle() -> None:
    ledger = CountingLedger()
    scopes = [budget(max_cost_usd=1.0, ledger=ledger, name=f"b{index}") for index in range(5)]
    with scopes[0], scopes[1], scopes[2], scopes[3], scopes[4]:
        call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt="one two three")
        call.record_usage(input_tokens=3, output_tokens=5)
        call.finish()
    assert ledger.calls == [("reserve_many", 5), ("settle_many", 5)]
    assert [scope.spent_usd for scope in scopes] == [CALL / 1e9] * 5


def test_a_refusing_inner_budget_releases_the_others_in_the_same_operation() -> None:
    ledger = CountingLedger()
    outer = budget(max_cost_usd=1.0, ledger=ledger, name="outer")
    middle = budget(max_cost_usd=1.0, ledger=ledger, name="middle")
    inner = budget(max_cost_usd=(CALL - 1) / 1e9, ledger=ledger, name="inner")
    with outer, middle, inner, pytest.raises(BudgetExceeded) as caught:
        start_call("openai", "chat", MODEL, max_output_tokens=5, prompt="one two three")
    assert caught.value.budget_name == "inner"
    # One operation: the refusal left nothing to release afterwards.
    assert ledger.calls == [("reserve_many", 3)]
    assert [scope.totals() for scope in (outer, middle, inner)] == [Totals()] * 3
    assert [scope.rejections for scope in (outer, middle, inner)] == [0, 0, 1]


def test_budgets_on_two_ledgers_release_the_first_when_the_second_refuses() -> None:
    first, second = CountingLedger(), CountingLedger()
    outer = budget(max_cost_usd=1.0, ledger=first, name="outer")
    inner = budget(max_cost_usd=(CALL - 1) / 1e9, ledger=second, name="inner")
    with outer, inner, pytest.raises(BudgetExceeded):
        start_call("openai", "chat", MODEL, max_output_tokens=5, prompt="one two three")
    assert first.calls == [("reserve_many", 1), ("settle_many", 1)]
    assert second.calls == [("reserve_many", 1)]
    assert (outer.totals(), inner.totals()) == (Totals(), Totals())


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_two_processes_share_two_nested_budgets_exactly(
    kind: str, tmp_path: Path, server: LLMTestServer, request: pytest.FixtureRequest
) -> None:
    url = _ledger_url(kind, tmp_path, request)
    outer_key, inner_key = f"outer-{uuid.uuid4().hex}", f"inner-{uuid.uuid4().hex}"
    fitting = 12
    options = {
        "ledger": url,
        "key": inner_key,
        "limit_nano": 10**12,
        "outer_key": outer_key,
        "outer_limit_nano": fitting * CALL,
        "base_url": server.openai_base_url,
        "calls": 20,
    }
    workers = [_worker(options) for _ in range(2)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(report["answered"] for report in reports) == fitting
    assert server.request_count == fitting
    ledger = _open(url)
    # Every call the outer budget refused left nothing in the inner one, reserved or spent.
    expected = Totals(fitting * CALL, 0, fitting * 8, 0)
    assert ledger.totals(Account(outer_key, "session")) == expected
    assert ledger.totals(Account(inner_key, "session")) == expected
    ledger.close()


def test_private_budgets_share_the_memory_ledger_and_leave_nothing_behind() -> None:
    import gc

    from synapsekit._budget.scope import _shared_memory_ledger

    first, second = budget(max_cost_usd=1.0), budget(max_cost_usd=1.0)
    assert first.ledger is second.ledger is _shared_memory_ledger
    with first, second:
        call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt="one two three")
        call.record_usage(input_tokens=3, output_tokens=5)
        call.finish()
    assert (first.spent_usd, second.spent_usd) == (CALL / 1e9, CALL / 1e9)
    keys = {first.key, second.key}
    assert {slot[0] for slot in _shared_memory_ledger._entries} >= keys
    del first, second, call
    gc.collect()
    assert not {slot[0] for slot in _shared_memory_ledger._entries} & keys


def test_a_private_budget_collected_inside_a_ledger_operation_does_not_deadlock() -> None:
    """The garbage collector may run a private budget's finalizer inside a reserve() or settle() of the shared
    memory ledger on the same thread, while that operation holds the ledger's lock. The finalizer's forget()
    must not wait for the lock (it waited forever: the suite hung in a litellm stream test). Simulated here
    exactly: forget() called by a thread that holds the lock."""
    import threading

    ledger = MemoryLedger()
    gone, kept = Account("private:gone", "session"), Account("kept", "session")
    for account in (gone, kept):
        ledger.reserve(account, Reservation(f"r-{account.key}", 10, 1, 0.0), Limits(None, None), force=False)
    finished = threading.Event()

    def finalizer_inside_an_operation() -> None:
        with ledger._lock:
            ledger.forget("private:gone")
        finished.set()

    worker = threading.Thread(target=finalizer_inside_an_operation, daemon=True)
    worker.start()
    assert finished.wait(10), "forget() waited for the lock its own thread holds"
    # Queued while the lock was busy: the accounts stay until the ledger's next prune drops them.
    assert ledger.totals(gone) == Totals(0, 10, 0, 1)
    ledger._prune(0.0)
    assert ledger.totals(gone) == Totals()
    assert ledger.totals(kept) == Totals(0, 10, 0, 1)
    # With the lock free, forget() drops the accounts at once.
    ledger.forget("kept")
    assert ledger.totals(kept) == Totals()
