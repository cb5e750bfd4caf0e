"""The three ledgers behave alike: atomic reserve / settle, growth, expiry of orphaned reservations."""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import BudgetLedgerUnavailable, MemoryLedger, budget, ledger_from_url
from synapsekit._budget.ledger import (
    Account,
    Ledger,
    LedgerError,
    Limits,
    Reservation,
    ReserveOutcome,
    Totals,
    default_ledger,
)
from synapsekit._budget.redis_ledger import RedisLedger
from synapsekit._budget.sqlite_ledger import SQLiteLedger
from synapsekit.testing import LLMTestServer

from ._support import ServerLLM, nano, prompt_of, usd


class WallClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


LedgerFactory = Callable[[WallClock], Ledger]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerFactory]:
    opened: list[Ledger] = []

    def make(clock: WallClock) -> Ledger:
        ledger: Ledger
        if request.param == "memory":
            ledger = MemoryLedger(clock=clock)
        elif request.param == "sqlite":
            ledger = SQLiteLedger(tmp_path / "budget.db", clock=clock)
        else:
            url = request.getfixturevalue("redis_url")
            ledger = RedisLedger.from_url(url, clock=clock, prefix=f"test:{uuid.uuid4().hex}")
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


ACCOUNT = Account("team", "session")
TEAM_KEY = f"team-{uuid.uuid4().hex}"
LIMITS = Limits(nano=1000, tokens=100)


def _reservation(rid: str, amount: int, tokens: int = 10, ttl: float = 600.0) -> Reservation:
    return Reservation(rid, amount, tokens, time.time() + ttl)


def test_reserve_settle_and_release(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(WallClock())
    assert ledger.totals(ACCOUNT) == Totals()
    first = ledger.reserve(ACCOUNT, _reservation("a", 600), LIMITS, force=False)
    assert (first.admitted, first.totals) == (True, Totals(0, 600, 0, 10))
    refused = ledger.reserve(ACCOUNT, _reservation("b", 401), LIMITS, force=False)
    assert (refused.admitted, refused.totals) == (False, Totals(0, 600, 0, 10))
    assert ledger.reserve(ACCOUNT, _reservation("b", 400), LIMITS, force=False).admitted
    assert ledger.settle(ACCOUNT, "a", nano=250, tokens=7, reserved_nano=600, reserved_tokens=10) == Totals(
        250, 400, 7, 10
    )
    assert ledger.settle(ACCOUNT, "b", nano=0, tokens=0, reserved_nano=400, reserved_tokens=10) == Totals(
        250, 0, 7, 0
    )
    assert ledger.totals(ACCOUNT) == Totals(250, 0, 7, 0)
    assert ledger.totals(Account("team", "2025-01-01")) == Totals()


def test_token_limit_and_force(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(WallClock())
    assert not ledger.reserve(ACCOUNT, _reservation("a", 1, tokens=101), LIMITS, force=False).admitted
    forced = ledger.reserve(ACCOUNT, _reservation("a", 5000, tokens=101), LIMITS, force=True)
    assert (forced.admitted, forced.totals) == (True, Totals(0, 5000, 0, 101))
    unlimited = Limits(nano=None, tokens=None)
    assert ledger.reserve(ACCOUNT, _reservation("b", 10**15, tokens=10**9), unlimited, force=False).admitted


def test_reserving_again_under_an_id_grows_the_reservation(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(WallClock())
    ledger.reserve(ACCOUNT, _reservation("s", 300), LIMITS, force=False)
    grown = ledger.reserve(ACCOUNT, _reservation("s", 200, tokens=5), LIMITS, force=False)
    assert grown.totals == Totals(0, 500, 0, 15)
    assert ledger.settle(ACCOUNT, "s", nano=480, tokens=15, reserved_nano=500, reserved_tokens=15) == Totals(
        480, 0, 15, 0
    )


def test_settling_a_missing_reservation_applies_the_difference(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(WallClock())
    # Fail-open admissions were never reserved: the whole cost is charged.
    assert ledger.settle(ACCOUNT, "never", nano=70, tokens=3, reserved_nano=0, reserved_tokens=0) == Totals(
        70, 0, 3, 0
    )
    # Spend never goes below zero.
    assert ledger.settle(ACCOUNT, "gone", nano=0, tokens=0, reserved_nano=500, reserved_tokens=9) == Totals()


def test_an_orphaned_reservation_is_charged_when_it_expires(
    make_ledger: LedgerFactory, tmp_path: Path
) -> None:
    clock = WallClock()
    ledger = make_ledger(clock)
    ledger.reserve(ACCOUNT, _reservation("crashed", 400, ttl=60), LIMITS, force=False)
    ledger.reserve(ACCOUNT, _reservation("alive", 100, ttl=3600), LIMITS, force=False)
    clock.offset = 120
    if isinstance(ledger, MemoryLedger):
        # In one process nothing can be orphaned by a crash: reservations stay until settled.
        assert ledger.totals(ACCOUNT) == Totals(0, 500, 0, 20)
        return
    assert ledger.totals(ACCOUNT) == Totals(400, 100, 10, 10)
    # The crashed process's call, had it finished, would only correct the worst case it was charged.
    assert ledger.settle(
        ACCOUNT, "crashed", nano=150, tokens=4, reserved_nano=400, reserved_tokens=10
    ) == Totals(150, 100, 4, 10)


def test_sqlite_spend_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    first = SQLiteLedger(path)
    first.reserve(ACCOUNT, _reservation("x", 300), LIMITS, force=False)
    first.settle(ACCOUNT, "x", nano=123, tokens=9, reserved_nano=300, reserved_tokens=10)
    first.close()
    assert SQLiteLedger(path).totals(ACCOUNT) == Totals(123, 0, 9, 0)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_lock_contention_fails_fast_instead_of_hanging(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    ledger = SQLiteLedger(path, busy_timeout_s=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LedgerError, match="unavailable: database is locked"):
            ledger.reserve(ACCOUNT, _reservation("x", 1), LIMITS, force=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ledger.reserve(ACCOUNT, _reservation("x", 1), LIMITS, force=False).admitted


def test_redis_windowed_accounts_expire_and_sessions_persist(redis_url: str) -> None:
    ledger = RedisLedger.from_url(redis_url, prefix="ttl-test")
    now = time.time()
    hourly = Account("team", "2025-06-01T10", retain_until=now + 7200)
    ledger.reserve(hourly, _reservation("h", 1), LIMITS, force=False)
    ledger.reserve(ACCOUNT, _reservation("s", 1), LIMITS, force=False)
    client = ledger.client
    totals_key, reservations_key, expiry_key, _released_key = ledger.keys_for(hourly)
    assert totals_key == "ttl-test:{team|2025-06-01T10}:totals"
    assert all(7000 < client.ttl(key) <= 7200 for key in (totals_key, reservations_key, expiry_key))
    assert client.ttl(ledger.keys_for(ACCOUNT)[0]) == -1
    ledger.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_ledger_fail_closed_sends_nothing(server: LLMTestServer, llm: ServerLLM) -> None:
    ledger = RedisLedger.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout_s=0.2)
    with pytest.raises(LedgerError, match="Redis budget ledger unavailable: ConnectionError"):
        ledger.totals(ACCOUNT)
    with (
        budget(max_cost_usd=1.0, ledger=ledger, name="r") as scope,
        pytest.raises(BudgetLedgerUnavailable) as caught,
    ):
        await llm.generate(prompt_of(3), max_tokens=5)
    assert isinstance(caught.value, BudgetExceeded)
    assert str(caught.value).startswith(
        "budget 'r' (session window): the budget ledger is unavailable (Redis"
    )
    assert (server.request_count, scope.rejections) == (0, 1)


async def test_unreachable_ledger_fail_open_lets_calls_through(
    server: LLMTestServer, llm: ServerLLM, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = RedisLedger.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout_s=0.2)
    with (
        caplog.at_level(logging.WARNING, logger="synapsekit.budget"),
        budget(max_cost_usd=1.0, ledger=ledger, on_ledger_error="fail_open", name="o"),
    ):
        await llm.generate(prompt_of(3), max_tokens=5)
        await llm.generate(prompt_of(3), max_tokens=5)
    assert server.request_count == 2
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("budget 'o': Redis budget ledger unavailable")
    assert messages[0].endswith("on_ledger_error=fail_open")


async def test_fail_open_settles_to_the_ledger_when_it_is_back(llm: ServerLLM) -> None:
    class Flaky(MemoryLedger):
        down = True

        def reserve(
            self, account: Account, reservation: Reservation, limits: Limits, *, force: bool
        ) -> ReserveOutcome:
            if self.down:
                raise LedgerError("down")
            return super().reserve(account, reservation, limits, force=force)

    ledger = Flaky()
    with budget(max_cost_usd=1.0, ledger=ledger, on_ledger_error="fail_open") as scope:
        await llm.generate(prompt_of(3), max_tokens=5)
    assert scope.spent_usd == usd(nano(3, 5))


def test_ledger_urls_and_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = ledger_from_url("memory")
    assert isinstance(memory, MemoryLedger)
    assert ledger_from_url(" memory ") is memory
    path = tmp_path / "env.db"
    sqlite_ledger = ledger_from_url(f"sqlite:///{path}")
    assert isinstance(sqlite_ledger, SQLiteLedger)
    assert sqlite_ledger.path == str(path)
    assert default_ledger() is None
    monkeypatch.setenv("SYNAPSEKIT_BUDGET_LEDGER", f"sqlite:///{path}")
    scope = budget(max_cost_usd=1.0, key="shared")
    assert scope.ledger is sqlite_ledger
    assert (scope.key, scope.name) == ("shared", "shared")
    # Two scopes with one key share their spend; one without a key is private.
    assert budget(max_cost_usd=1.0, key="shared").ledger is sqlite_ledger


async def test_scopes_with_the_same_key_share_one_budget_in_memory(llm: ServerLLM) -> None:
    first = budget(max_cost_usd=usd(nano(3, 5)), key=TEAM_KEY)
    second = budget(max_cost_usd=usd(nano(3, 5)), key=TEAM_KEY)
    with first:
        await llm.generate(prompt_of(3), max_tokens=5)
    with second, pytest.raises(BudgetExceeded):
        await llm.generate(prompt_of(3), max_tokens=5)
    assert budget(max_cost_usd=1.0).spent_usd == 0.0
