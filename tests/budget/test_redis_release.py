"""No phantom Redis reservations: a reserve that timed out on the client never counts, though it ran later."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from synapsekit._budget import BudgetLedgerUnavailable, budget
from synapsekit._budget.ledger import Account, Limits, Reservation, Totals
from synapsekit._budget.redis_ledger import RedisLedger
from synapsekit.plugin import start_call

from ._support import MODEL, nano, prompt_of
from .conftest import RedisServer

PROMPT = prompt_of(3)
CALL = nano(3, 5)


class LedgerClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@contextmanager
def stopped(server: RedisServer) -> Iterator[None]:
    """The server frozen: it accepts bytes into its socket buffers but runs nothing until resumed."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def wait_for_reserved(client: redis.Redis, totals_key: str, amount: int) -> None:
    """Wait (at most 10 s) until the reserve the stopped server received has run."""
    deadline = time.monotonic() + 10.0
    while int(client.hget(totals_key, "reserved_nano") or 0) != amount:
        if time.monotonic() > deadline:
            raise AssertionError(f"the late reserve never ran: {client.hgetall(totals_key)}")
        time.sleep(0.01)


@pytest.mark.parametrize("on_ledger_error", ["fail_closed", "fail_open"])
def test_a_reserve_that_timed_out_is_released_when_redis_answers_again(
    private_redis: RedisServer, on_ledger_error: str
) -> None:
    clock = LedgerClock()
    ledger = RedisLedger.from_url(private_redis.url, socket_timeout_s=0.2, clock=clock)
    observer = redis.Redis.from_url(private_redis.url)
    scope = budget(max_cost_usd=1.0, ledger=ledger, on_ledger_error=on_ledger_error)
    totals_key = ledger.keys_for(Account(scope.key, "session"))[0]
    try:
        with scope:
            # One call first: the connection is open and the scripts are loaded, as in a running process,
            # so the reserve sent to the stopped server is complete and will run.
            warm_up = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
            warm_up.record_usage(input_tokens=3, output_tokens=5)
            warm_up.finish()
            with stopped(private_redis):
                if on_ledger_error == "fail_closed":
                    with pytest.raises(BudgetLedgerUnavailable):
                        start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
                else:
                    call = start_call("openai", "chat", MODEL, max_output_tokens=5, prompt=PROMPT)
            # Resumed, the server runs the reserve it received while stopped: a phantom reservation.
            wait_for_reserved(observer, totals_key, CALL)
            if on_ledger_error == "fail_open":
                call.record_usage(input_tokens=3, output_tokens=2)
                call.finish()
        spent = CALL + (0 if on_ledger_error == "fail_closed" else nano(3, 2))
        tokens = 8 + (0 if on_ledger_error == "fail_closed" else 5)
        assert scope.totals() == Totals(
            spent_nano=spent, reserved_nano=0, spent_tokens=tokens, reserved_tokens=0
        )
        clock.offset += 3600.0  # past the reservation's TTL: nothing left to charge
        assert scope.totals() == Totals(
            spent_nano=spent, reserved_nano=0, spent_tokens=tokens, reserved_tokens=0
        )
    finally:
        observer.close()
        ledger.close()


def test_a_reserve_arriving_after_its_release_does_nothing(redis_url: str) -> None:
    ledger = RedisLedger.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}")
    account = Account("team", "session")
    try:
        assert ledger.release(account, ["late"], time.time() + 600) == Totals()
        late = Reservation("late", 100, 10, time.time() + 600)
        outcome = ledger.reserve(account, late, Limits(nano=1000, tokens=100), force=True)
        assert (outcome.admitted, ledger.totals(account)) == (False, Totals())
        # The call went on unreserved (fail_open): its settlement charges it in full, once.
        settled = ledger.settle(account, "late", nano=70, tokens=7, reserved_nano=0, reserved_tokens=0)
        assert settled == Totals(spent_nano=70, reserved_nano=0, spent_tokens=7, reserved_tokens=0)
        # A reservation that did land is removed by its release.
        ledger.reserve(
            account, Reservation("landed", 40, 4, time.time() + 600), Limits(None, None), force=False
        )
        assert ledger.release(account, ["landed"], time.time() + 600) == Totals(70, 0, 7, 0)
    finally:
        ledger.close()
