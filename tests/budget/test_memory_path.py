"""Budgets on a ``MemoryLedger`` reserve and settle on the ledger's entry directly (``BudgetScope.admit`` /
``on_end`` for one budget, ``_admit_in_memory`` / ``_settle_in_memory`` for a nest): the same figures as the
ledger's own operations, which a subclass of ``MemoryLedger`` (``Plain`` here, no override) still gets.

Every test runs the same calls on both paths and compares: the totals, the refusals, the events.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from synapsekit import BudgetExceeded
from synapsekit._budget import MemoryLedger, budget, scope as scope_module
from synapsekit._budget.events import BudgetEvent, add_budget_listener, remove_budget_listener
from synapsekit._budget.ledger import Ledger, Totals
from synapsekit._budget.scope import BudgetScope, BudgetWarning
from synapsekit._core.call import ImplausibleUsageWarning, LLMCall, start_call
from synapsekit._pricing.prices import compute_cost, set_price
from synapsekit._pricing.tables import cost_to_nano
from synapsekit.testing import LLMTestServer

from ._support import MODEL, ServerLLM, nano, prompt_of

PROMPT = prompt_of(3)  # estimated at 3 input tokens
RESERVED = nano(3, 5)  # the worst case of a call with max_tokens=5
ACTUAL = nano(2, 4)  # what the calls below really cost


class Plain(MemoryLedger):
    """The memory ledger through its own operations: a subclass never takes the direct path."""


def _ledgers() -> list[Callable[[], Ledger]]:
    return [MemoryLedger, Plain]


PATHS = pytest.mark.parametrize("make_ledger", _ledgers(), ids=["direct", "general"])


def _start(max_tokens: int = 5) -> LLMCall:
    return start_call("openai", "chat", MODEL, max_output_tokens=max_tokens, prompt=PROMPT)


def _finish(call: LLMCall) -> None:
    call.record_usage(input_tokens=2, output_tokens=4)
    call.finish()


@pytest.fixture
def events() -> Iterator[list[BudgetEvent]]:
    heard: list[BudgetEvent] = []
    add_budget_listener(heard.append)
    yield heard
    remove_budget_listener(heard.append)


def test_a_lone_budget_on_the_memory_ledger_takes_the_direct_path() -> None:
    direct, general = (
        budget(max_cost_usd=1.0, ledger=MemoryLedger()),
        budget(max_cost_usd=1.0, ledger=Plain()),
    )
    with direct:
        call = _start()
        # Reserved on the entry directly and kept on the call (no _Hold in _holds).
        held = call._scope_hold
        assert held is not None and held[0] is direct and held[3] is not None
        assert not direct._holds
        _finish(call)
        assert call._scope_hold is None
    with general:
        call = _start()
        assert call._scope_hold is None
        assert general._holds[id(call)].entry is None
        _finish(call)


@PATHS
def test_a_lone_budget_reserves_the_worst_case_and_settles_to_the_cost(
    make_ledger: Callable[[], Ledger], events: list[BudgetEvent]
) -> None:
    scope = budget(max_cost_usd=1.0, max_tokens=100, ledger=make_ledger(), name="lone")
    with scope:
        first = _start()
        assert scope.totals() == Totals(0, RESERVED, 0, 8)
        second = _start()
        assert scope.totals() == Totals(0, 2 * RESERVED, 0, 16)
        _finish(first)
        assert scope.totals() == Totals(ACTUAL, RESERVED, 6, 8)
        second.fail(RuntimeError("provider down"))  # failed before any usage: released
    assert scope.totals() == Totals(ACTUAL, 0, 6, 0)
    assert [(event.kind, event.spent_usd, event.reserved_usd, event.amount_usd) for event in events] == [
        ("reserved", 0.0, RESERVED / 1e9, RESERVED / 1e9),
        ("reserved", 0.0, 2 * RESERVED / 1e9, RESERVED / 1e9),
        ("settled", ACTUAL / 1e9, RESERVED / 1e9, ACTUAL / 1e9),
        ("settled", ACTUAL / 1e9, 0.0, 0.0),
    ]


@PATHS
def test_nested_budgets_reserve_and_settle_exactly(
    make_ledger: Callable[[], Ledger], events: list[BudgetEvent]
) -> None:
    ledger = make_ledger()
    # Two of them share a key: one account, both reservations on it.
    scopes = [
        budget(max_cost_usd=1.0, ledger=ledger, name="a"),
        budget(max_cost_usd=1.0, ledger=ledger, key="shared", name="b"),
        budget(max_tokens=1000, ledger=ledger, name="c"),
        budget(max_cost_usd=1.0, ledger=ledger, key="shared", name="d"),
        budget(max_cost_usd=1.0, max_tokens=1000, ledger=ledger, name="e"),
    ]
    with scopes[0], scopes[1], scopes[2], scopes[3], scopes[4]:
        first = _start()
        assert [scope.totals() for scope in scopes] == [
            Totals(0, RESERVED, 0, 8),
            Totals(0, 2 * RESERVED, 0, 16),
            Totals(0, RESERVED, 0, 8),
            Totals(0, 2 * RESERVED, 0, 16),
            Totals(0, RESERVED, 0, 8),
        ]
        direct = type(ledger) is MemoryLedger
        assert all((scope._holds[id(first)].entry is not None) is direct for scope in scopes)
        second = _start()
        _finish(first)
        second.fail(RuntimeError("provider down"))
        _finish(_start())
    single, double = Totals(2 * ACTUAL, 0, 12, 0), Totals(4 * ACTUAL, 0, 24, 0)
    assert [scope.totals() for scope in scopes] == [single, double, single, double, single]
    kinds = [(event.kind, event.budget_name) for event in events]
    assert kinds[:5] == [("reserved", name) for name in "abcde"]
    assert kinds.count(("settled", "c")) == 3
    assert len(events) == 5 * 3 * 2


def test_both_paths_report_the_same_events_for_a_nest() -> None:
    heard: dict[str, list[tuple[object, ...]]] = {}
    for make_ledger in _ledgers():
        ledger = make_ledger()
        outer = budget(max_cost_usd=1.0, ledger=ledger, name="outer")
        inner = budget(max_cost_usd=1.0, max_tokens=100, ledger=ledger, name="inner")
        seen: list[BudgetEvent] = []
        add_budget_listener(seen.append)
        try:
            with outer, inner:
                _finish(_start())
                _start(max_tokens=7).fail(RuntimeError("down"))
        finally:
            remove_budget_listener(seen.append)
        heard[make_ledger.__name__] = list(seen)
    assert heard["MemoryLedger"] == heard["Plain"]
    assert len(heard["Plain"]) == 8


@PATHS
def test_a_refusing_inner_budget_leaves_nothing_reserved(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    outer = budget(max_cost_usd=1.0, ledger=ledger, name="outer")
    middle = budget(max_cost_usd=1.0, ledger=ledger, name="middle")
    inner = budget(max_cost_usd=(RESERVED - 1) / 1e9, ledger=ledger, name="inner")
    with outer, middle, inner, pytest.raises(BudgetExceeded) as caught:
        _start()
    assert caught.value.budget_name == "inner"
    assert str(caught.value) == (
        "budget 'inner' (session window) would be exceeded: spent $0 + reserved $0 + this call up to"
        " $0.000013 > limit $0.000012999; the request was not sent"
    )
    assert [scope.totals() for scope in (outer, middle, inner)] == [Totals()] * 3
    assert [scope.rejections for scope in (outer, middle, inner)] == [0, 0, 1]
    assert all(not scope._holds for scope in (outer, middle, inner))


@pytest.mark.parametrize("nested", [1, 3])
async def test_a_refused_call_is_never_sent(server: LLMTestServer, nested: int) -> None:
    llm = ServerLLM(server.openai_base_url)
    scopes = [budget(max_cost_usd=1.0) for _ in range(nested - 1)]  # the process's memory ledger
    scopes.append(budget(max_cost_usd=(RESERVED - 1) / 1e9, name="small"))
    try:
        with contextlib.ExitStack() as stack:
            for scope in scopes:
                stack.enter_context(scope)
            await llm.generate(PROMPT, max_tokens=3)  # fits: sent
            with pytest.raises(BudgetExceeded):
                await llm.generate(PROMPT, max_tokens=5)
    finally:
        await llm.aclose()
    assert server.request_count == 1
    assert [scope.totals() for scope in scopes] == [Totals(nano(3, 3), 0, 6, 0)] * nested


@PATHS
@pytest.mark.parametrize("nested", [1, 4])
def test_racing_ends_settle_once(make_ledger: Callable[[], Ledger], nested: int) -> None:
    ledger = make_ledger()
    scopes = [budget(max_cost_usd=1.0, ledger=ledger) for _ in range(nested)]
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        for _ in range(20):
            call = _start()
            call.record_usage(input_tokens=2, output_tokens=4)
            start = threading.Barrier(6)

            def end(call: LLMCall = call, start: threading.Barrier = start) -> None:
                start.wait()
                # What LLMCall._end does for the budgets, raced: exactly one of them may settle.
                BudgetScope.batch.end(scopes, call)  # type: ignore[union-attr]

            threads = [threading.Thread(target=end) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert [scope.totals() for scope in scopes] == [Totals(20 * ACTUAL, 0, 20 * 6, 0)] * nested


class _Clock:
    """The wall clock of the budgets (``utc_now`` and ``time.time`` in the scope module), moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def utc(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


@PATHS
def test_a_nest_moves_to_the_new_window_at_the_boundary(
    make_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock(datetime(2026, 3, 14, 9, 59, 59, tzinfo=timezone.utc))
    # Budgets on the default clock, which the nest's plan needs: here it is this one.
    monkeypatch.setattr(scope_module, "utc_now", clock.utc)
    monkeypatch.setattr(scope_module, "_time", clock.epoch)
    ledger = make_ledger()
    monkeypatch.setattr(ledger, "_clock", clock.epoch)
    hourly = budget(max_cost_usd=1.0, window="hour", ledger=ledger, name="hourly")
    daily = budget(max_cost_usd=1.0, window="day", ledger=ledger, name="daily")
    with hourly, daily:
        _finish(_start())
        late = _start()  # admitted in the 09 window, settled in the 10 one: charged to 09
        clock.now += timedelta(seconds=2)
        _finish(late)
        assert (hourly.totals(), daily.totals()) == (Totals(), Totals(2 * ACTUAL, 0, 12, 0))
        _finish(_start())
        assert (hourly.totals(), daily.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(3 * ACTUAL, 0, 18, 0))
    assert isinstance(ledger, MemoryLedger)
    assert ledger.totals(hourly._account(datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc))) == Totals(
        2 * ACTUAL, 0, 12, 0
    )


@PATHS
def test_a_lone_budget_moves_to_the_new_window_at_the_boundary(make_ledger: Callable[[], Ledger]) -> None:
    clock = _Clock(datetime(2026, 3, 14, 9, 59, 59, tzinfo=timezone.utc))
    scope = budget(max_cost_usd=1.0, window="hour", ledger=make_ledger(), clock=clock.utc)
    with scope:
        _finish(_start())
        clock.now += timedelta(seconds=2)
        assert scope.totals() == Totals()
        _finish(_start())
        assert scope.totals() == Totals(ACTUAL, 0, 6, 0)
        clock.now -= timedelta(seconds=2)
        assert scope.totals() == Totals(ACTUAL, 0, 6, 0)


@PATHS
@pytest.mark.parametrize("nested", [1, 3])
def test_an_entry_the_ledger_dropped_is_looked_up_again(
    make_ledger: Callable[[], Ledger], nested: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window pruned under a budget that keeps its entry (the ledger's clock ahead of the budget's: a
    finished window for the ledger) must not swallow later calls: they land in the ledger's new entry."""
    ledger = make_ledger()
    assert isinstance(ledger, MemoryLedger)
    ledger_now = [datetime(2026, 3, 20, tzinfo=timezone.utc).timestamp()]
    monkeypatch.setattr(ledger, "_clock", lambda: ledger_now[0])
    clock = _Clock(datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc))
    monkeypatch.setattr(scope_module, "utc_now", clock.utc)
    monkeypatch.setattr(scope_module, "_time", clock.epoch)
    scopes = [budget(max_cost_usd=1.0, window="hour", ledger=ledger) for _ in range(nested)]
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        _finish(_start())
        assert [scope.totals() for scope in scopes] == [Totals(ACTUAL, 0, 6, 0)] * nested
        first_entries = list(ledger._entries.values())
        ledger_now[0] += 61  # the next operation prunes: the finished window goes, its spend with it
        _finish(_start())
        assert not any(entry.live for entry in first_entries)
        # Neither kept (2 calls) nor lost in the dropped entry (nothing): the second call, in a new entry.
        assert [scope.totals() for scope in scopes] == [Totals(ACTUAL, 0, 6, 0)] * nested


@PATHS
def test_the_same_budget_twice_in_a_nest(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    outer, inner = budget(max_cost_usd=1.0, ledger=ledger), budget(max_cost_usd=1.0, ledger=ledger)
    with outer, inner, outer:
        call = _start()
        assert (outer.totals(), inner.totals()) == (Totals(0, 2 * RESERVED, 0, 16), Totals(0, RESERVED, 0, 8))
        _finish(call)
        assert (outer.totals(), inner.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(ACTUAL, 0, 6, 0))
        small = budget(max_cost_usd=(RESERVED - 1) / 1e9, ledger=ledger)
        with small, pytest.raises(BudgetExceeded):
            _start()
    assert (outer.totals(), inner.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(ACTUAL, 0, 6, 0))


@PATHS
def test_warn_budgets_in_a_nest_reserve_over_the_limit_and_warn_once(
    make_ledger: Callable[[], Ledger],
) -> None:
    ledger = make_ledger()
    outer = budget(max_cost_usd=1.0, ledger=ledger, name="outer")
    tight = budget(max_cost_usd=(RESERVED - 1) / 1e9, on_exceeded="warn", ledger=ledger, name="tight")
    with outer, tight, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call = _start()
        assert tight.totals() == Totals(0, RESERVED, 0, 8)
        _finish(call)
    assert [str(warning.message) for warning in caught if warning.category is BudgetWarning] == [
        "budget 'tight' (session window) exceeded: spent $0 + reserved $0 + this call up to $0.000013"
        " > limit $0.000012999; the request proceeds (on_exceeded='warn')"
    ]
    assert (outer.totals(), tight.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(ACTUAL, 0, 6, 0))
    assert tight.rejections == 1


@PATHS
def test_a_nest_whose_budget_is_used_up_opens_its_circuit(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    outer = budget(max_cost_usd=1.0, ledger=ledger, name="outer")
    inner = budget(max_cost_usd=RESERVED / 1e9, ledger=ledger, name="inner")
    with outer, inner:
        call = _start()
        call.record_usage(input_tokens=3, output_tokens=7)  # more than reserved: uses the budget up
        call.finish()
        assert inner.circuit_state.value == "open"
        with pytest.raises(BudgetExceeded) as caught:
            _start()
    assert "circuit open" in str(caught.value)
    over = Totals(nano(3, 7), 0, 10, 0)
    assert (outer.totals(), inner.totals()) == (over, over)


def _entries(ledger: Ledger) -> list[tuple[int, int]]:
    """(unlisted, listed) reservations of every entry of a memory ledger."""
    assert isinstance(ledger, MemoryLedger)
    return [(entry.unlisted, len(entry.reservations)) for entry in ledger._entries.values()]


@PATHS
@pytest.mark.parametrize("nested", [1, 3])
def test_a_stream_outrunning_its_reservation_grows_it_by_id(
    make_ledger: Callable[[], Ledger], nested: int
) -> None:
    """Growth is the ledger's own reserve(): a reservation made on the entry directly is listed first."""
    ledger = make_ledger()
    scopes = [budget(max_cost_usd=1.0, ledger=ledger) for _ in range(nested)]
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        call = start_call("openai", "chat", MODEL, streamed=True, max_output_tokens=5, prompt=PROMPT)
        for scope in scopes:
            scope._promote(call)  # a lone budget's reservation, kept on the call, becomes a _Hold to grow
            scope._grow(call, scope._holds[id(call)], 3, 100)
        assert [scope.totals() for scope in scopes] == [Totals(0, nano(3, 100), 0, 103)] * nested
        assert _entries(ledger) == [(0, 1)] * nested
        call.record_usage(input_tokens=3, output_tokens=90)
        call.finish()
    assert [scope.totals() for scope in scopes] == [Totals(nano(3, 90), 0, 93, 0)] * nested
    assert _entries(ledger) == [(0, 0)] * nested


def test_a_lone_budgets_stream_keeps_its_reservation_on_the_call_while_its_text_fits() -> None:
    """A stream under one memory-ledger budget is admitted on the direct path too. Chunks within what was
    reserved leave the reservation on the call; the first chunk past it makes it a _Hold, grown by id."""
    scope = budget(max_cost_usd=1.0, ledger=MemoryLedger(), default_max_output_tokens=10)
    with scope:
        call = start_call("openai", "chat", MODEL, streamed=True, prompt=PROMPT)
        held = call._scope_hold
        assert held is not None and held[0] is scope and (held[6], held[7]) == (3, 10)
        assert not scope._holds
        assert call._chunk_allowance == 40  # the stream is watched past the 40 characters of 10 tokens
        for _ in range(10):
            call.chunk("abcd")  # 40 characters: 10 tokens, all of them reserved
        assert call._scope_hold is held and not scope._holds
        assert scope.totals() == Totals(0, nano(3, 10), 0, 13)
        call.chunk("e")  # 41 characters: 11 tokens, one past the reservation
        assert call._scope_hold is None
        assert scope.totals() == Totals(0, nano(3, 74), 0, 77)  # grown by 64 output tokens, by id
        assert _entries(scope.ledger) == [(0, 1)]
        call.record_usage(input_tokens=3, output_tokens=11)
        call.finish()
    assert scope.totals() == Totals(nano(3, 11), 0, 14, 0)
    assert _entries(scope.ledger) == [(0, 0)]


@pytest.mark.parametrize("limit_tokens", [None, 30], ids=["grown", "cut"])
def test_a_lone_budgets_stream_ends_the_same_on_both_paths(limit_tokens: int | None) -> None:
    """Kept on the call or in a _Hold from the start, a stream that outgrows its reservation (or is cut where
    the ledger refuses to grow it) settles to the same totals with the same events."""
    outcomes: dict[str, tuple[object, ...]] = {}
    for make_ledger in _ledgers():
        scope = budget(
            max_cost_usd=1.0, max_tokens=limit_tokens, ledger=make_ledger(), default_max_output_tokens=10
        )
        seen: list[BudgetEvent] = []
        add_budget_listener(seen.append)
        streamed = 0
        try:
            with scope:
                call = start_call("openai", "chat", MODEL, streamed=True, prompt=PROMPT)
                try:
                    for _ in range(30):
                        call.chunk("abcd")
                        streamed += 1
                except BudgetExceeded as exc:
                    cut = True
                    call.fail(exc)  # as the stream proxy ends a stream its budget cut
                else:
                    cut = False
                    call.estimate_missing_usage()  # as the proxy ends a stream read to the end, no usage sent
                    call.finish()
        finally:
            remove_budget_listener(seen.append)
        events = [(event.kind, event.reason, event.amount_usd, event.spent_tokens) for event in seen]
        outcomes[make_ledger.__name__] = (streamed, cut, scope.totals(), events)
    assert outcomes["MemoryLedger"] == outcomes["Plain"]
    streamed, cut, totals, events = outcomes["Plain"]
    if limit_tokens is None:
        assert (streamed, cut, totals) == (30, False, Totals(nano(3, 30), 0, 33, 0))
        assert [event[:2] for event in events] == [("reserved", None), ("settled", None)]
    else:
        # 3 + 10 reserved, grown chunk by chunk up to the limit's 3 + 27: the 28th chunk is refused and cut,
        # and what the stream produced is charged.
        assert (streamed, cut, totals) == (27, True, Totals(nano(3, 28), 0, 31, 0))
        assert [event[:2] for event in events] == [
            ("reserved", None),
            ("exceeded", "stream_cut"),
            ("settled", None),
        ]


@PATHS
def test_a_released_call_leaves_nothing_reserved(make_ledger: Callable[[], Ledger]) -> None:
    ledger = make_ledger()
    scope = budget(max_cost_usd=1.0, ledger=ledger)
    with scope:
        call = _start()
        assert _entries(ledger) == ([(1, 0)] if type(ledger) is MemoryLedger else [(0, 1)])
        scope.release(call)  # a layer nearer the wire took the call over
        assert scope.totals() == Totals()
        assert _entries(ledger) == [(0, 0)]
        call.finish()  # reports nothing more here
    assert scope.totals() == Totals()


@PATHS
@pytest.mark.parametrize("nested", [1, 3])
def test_implausible_usage_settles_at_the_reservation(make_ledger: Callable[[], Ledger], nested: int) -> None:
    """Each budget then decides from what it holds (the general settlement, by id)."""
    ledger = make_ledger()
    scopes = [budget(max_cost_usd=1.0, ledger=ledger) for _ in range(nested)]
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        call = _start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImplausibleUsageWarning)  # reported once per process
            call.record_usage(input_tokens=-3, output_tokens=4)
        call.finish()
    assert call.usage_implausible
    assert [scope.totals() for scope in scopes] == [Totals(RESERVED, 0, 8, 0)] * nested
    assert _entries(ledger) == [(0, 0)] * nested


@PATHS
@pytest.mark.parametrize("nested", [1, 3])
def test_a_finished_window_with_calls_in_flight_is_not_pruned(
    make_ledger: Callable[[], Ledger], nested: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    assert isinstance(ledger, MemoryLedger)
    ledger_now = [datetime(2026, 3, 20, tzinfo=timezone.utc).timestamp()]
    monkeypatch.setattr(ledger, "_clock", lambda: ledger_now[0])
    clock = _Clock(datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc))
    monkeypatch.setattr(scope_module, "utc_now", clock.utc)
    monkeypatch.setattr(scope_module, "_time", clock.epoch)
    scopes = [budget(max_cost_usd=1.0, window="hour", ledger=ledger) for _ in range(nested)]
    other = budget(max_cost_usd=1.0, ledger=ledger)
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        in_flight = _start()
    ledger_now[0] += 61
    with other:
        _finish(_start())  # an operation on the ledger: the prune runs, the entries in flight stay
    _finish(in_flight)
    assert [scope.totals() for scope in scopes] == [Totals(ACTUAL, 0, 6, 0)] * nested


@PATHS
def test_a_nest_with_another_scope_in_it(make_ledger: Callable[[], Ledger]) -> None:
    import synapsekit

    ledger = make_ledger()
    outer, inner = budget(max_cost_usd=1.0, ledger=ledger), budget(max_cost_usd=1.0, ledger=ledger)
    with outer, synapsekit.track() as tally, inner:
        _finish(_start())
    assert (outer.totals(), inner.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(ACTUAL, 0, 6, 0))
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 2, 4)


@PATHS
def test_cached_and_reasoning_tokens_settle_at_the_priced_cost(make_ledger: Callable[[], Ledger]) -> None:
    """The lone budget's settlement in integers, with every term of the price (cache reads, cache writes,
    reasoning) and without them: exactly the Decimal cost, on both paths."""
    set_price(
        MODEL, input_per_mtok="1", output_per_mtok="2", cached_input_per_mtok="0.5", cache_write_per_mtok="3"
    )
    scope = budget(max_cost_usd=1.0, ledger=make_ledger())
    usages = [
        {"input_tokens": 2, "output_tokens": 4},
        {"input_tokens": 7, "output_tokens": 5, "cached_input_tokens": 3},
        {"input_tokens": 9, "output_tokens": 5, "cached_input_tokens": 2, "cache_creation_input_tokens": 4},
        {"input_tokens": 3, "output_tokens": 5, "reasoning_tokens": 2},
    ]
    spent = tokens = 0
    with scope:
        for usage in usages:
            call = _start()
            call.record_usage(**usage)
            call.finish()
            cost = compute_cost(
                "openai",
                MODEL,
                input_tokens=usage["input_tokens"],
                output_tokens=usage["output_tokens"],
                cached_input_tokens=usage.get("cached_input_tokens", 0),
                cache_creation_input_tokens=usage.get("cache_creation_input_tokens", 0),
            )
            assert cost is not None
            spent += cost_to_nano(cost.total)
            tokens += usage["input_tokens"] + usage["output_tokens"]
            assert scope.totals() == Totals(spent, 0, tokens, 0)
    # Cache reads at $0.5 (500 nano-dollars a token), cache writes at $3, reasoning as output.
    assert spent == ACTUAL + (4_000 + 1_500 + 10_000) + (3_000 + 1_000 + 12_000 + 10_000) + nano(3, 5)


@PATHS
def test_a_release_racing_the_end_of_a_lone_call_settles_it_once(make_ledger: Callable[[], Ledger]) -> None:
    """A layer nearer the wire taking the call over (release) while it ends in another thread: exactly one
    of them resolves the reservation, which is never both released and charged, nor left behind."""
    scope = budget(max_cost_usd=1.0, ledger=make_ledger())
    charged = 0
    with scope:
        for _ in range(20):
            call = _start()
            call.record_usage(input_tokens=2, output_tokens=4)
            start = threading.Barrier(2)

            def release(call: LLMCall = call, start: threading.Barrier = start) -> None:
                start.wait()
                scope.release(call)

            def end(call: LLMCall = call, start: threading.Barrier = start) -> None:
                start.wait()
                scope.on_end(call)

            threads = [threading.Thread(target=release), threading.Thread(target=end)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            totals = scope.totals()
            assert totals.reserved_nano == totals.reserved_tokens == 0
            assert totals.spent_nano in (charged, charged + ACTUAL)
            charged = totals.spent_nano
            call.finish()  # the call's own end: nothing more to settle
            assert scope.totals() == totals
    assert _entries(scope.ledger) == [(0, 0)]


@PATHS
def test_a_chunk_of_a_call_not_streamed_grows_its_reservation(make_ledger: Callable[[], Ledger]) -> None:
    """Usage reported past the reservation before the end, then a chunk: the reservation grows (by id, the
    ledger's own operation) on both paths, and settles to the cost."""
    ledger = make_ledger()
    scope = budget(max_cost_usd=1.0, ledger=ledger)
    with scope:
        call = _start()
        call.record_usage(input_tokens=3, output_tokens=50)
        call.chunk("text")
        # Grown by at least 64 output tokens at a time (5 + 64 = 69 > 50).
        assert scope.totals() == Totals(0, nano(3, 69), 0, 72)
        assert _entries(ledger) == [(0, 1)]
        call.finish()
    assert scope.totals() == Totals(nano(3, 50), 0, 53, 0)
    assert _entries(ledger) == [(0, 0)]


@PATHS
def test_a_call_admitted_by_two_budgets_one_at_a_time_settles_in_both(
    make_ledger: Callable[[], Ledger],
) -> None:
    """Only one reservation is kept on the call: a second budget admitting the same call alone keeps its
    own in a hold, and each budget settles its own."""
    ledger = make_ledger()
    first, second = budget(max_cost_usd=1.0, ledger=ledger), budget(max_cost_usd=1.0, ledger=ledger)
    with first:
        call = _start()
    second.admit(call)
    assert (first.totals(), second.totals()) == (Totals(0, RESERVED, 0, 8), Totals(0, RESERVED, 0, 8))
    call.record_usage(input_tokens=2, output_tokens=4)
    second.on_end(call)
    call.finish()  # first's on_end, through the call's scopes
    assert (first.totals(), second.totals()) == (Totals(ACTUAL, 0, 6, 0), Totals(ACTUAL, 0, 6, 0))


class _FailingPrices(dict[object, object]):
    """The resolved price schedules, failing to answer (a pricing bug at settlement)."""

    def get(self, key: object, default: object = None) -> object:
        raise RuntimeError("pricing failed")


@PATHS
def test_a_price_that_fails_at_settlement_settles_at_the_reservation(
    make_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapsekit._core import errors

    scope = budget(max_cost_usd=1.0, ledger=make_ledger())
    with scope:
        call = _start()
        call.record_usage(input_tokens=2, output_tokens=4)
        monkeypatch.setattr(scope_module, "_resolved_prices", _FailingPrices())
        monkeypatch.setattr(errors, "_strict", False)  # logged, as in production: the call ends as usual
        call.finish()
    assert scope.totals() == Totals(RESERVED, 0, 8, 0)
    assert _entries(scope.ledger) == [(0, 0)]


@PATHS
def test_a_budget_with_its_own_clock_never_reads_its_window_from_the_wall_time(
    make_ledger: Callable[[], Ledger],
) -> None:
    clock = _Clock(datetime(2026, 3, 14, 9, 59, 59, tzinfo=timezone.utc))
    scope = budget(max_cost_usd=1.0, window="hour", ledger=make_ledger(), clock=clock.utc)
    with scope:
        _finish(_start())
        assert scope._wall_window[1:] == (math.inf, -math.inf)
    default = budget(max_cost_usd=1.0, window="hour", ledger=make_ledger())
    with default:
        _finish(_start())
        assert default._wall_window is default._current_account
