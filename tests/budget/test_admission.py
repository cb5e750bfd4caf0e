"""Admission by reservation, settlement and release, against the local test server over HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from synapsekit import BudgetExceeded, OfflineLLM, with_current_context
from synapsekit._budget import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    BudgetEvent,
    BudgetLimit,
    BudgetWarning,
    CircuitState,
    add_budget_listener,
    budget,
    remove_budget_listener,
)
from synapsekit._pricing.prices import UnknownModelPriceWarning
from synapsekit.observability import BudgetGuard
from synapsekit.testing import LLMTestServer

from ._support import ServerLLM, nano, prompt_of, until_requests, usd

PROMPT = prompt_of(3)  # 3 input tokens, estimated and counted alike
CALL = nano(3, 5)  # with max_tokens=5: $0.000013, reserved and spent exactly


@pytest.fixture
def events() -> Iterator[list[BudgetEvent]]:
    seen: list[BudgetEvent] = []
    add_budget_listener(seen.append)
    yield seen
    remove_budget_listener(seen.append)


async def test_a_call_that_does_not_fit_never_reaches_the_server(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    with budget(max_cost_usd=usd(CALL - 1), name="tight") as scope, pytest.raises(BudgetExceeded) as caught:
        await llm.generate(PROMPT, max_tokens=5)
    assert server.request_count == 0
    error = caught.value
    assert (error.spent, error.limit, error.limit_kind, error.unit, error.window, error.budget_name) == (
        0.0,
        usd(CALL - 1),
        "cost",
        "USD",
        "session",
        "tight",
    )
    assert str(error) == (
        "budget 'tight' (session window) would be exceeded: spent $0 + reserved $0 + this call up to"
        " $0.000013 > limit $0.000012999; the request was not sent"
    )
    assert f"{error.spent:.4f} / {error.limit:.4f}" == "0.0000 / 0.0000"
    assert (scope.rejections, scope.spent_usd, scope.reserved_usd) == (1, 0.0, 0.0)


async def test_a_budget_that_fits_exactly_one_call(server: LLMTestServer, llm: ServerLLM) -> None:
    scope = budget(max_cost_usd=usd(CALL))
    async with scope:
        assert await llm.generate(PROMPT, max_tokens=5) == "Hello from the synapsekit test"
        assert (scope.spent_usd, scope.remaining_usd, scope.circuit_state) == (
            usd(CALL),
            0.0,
            CircuitState.OPEN,
        )
        with pytest.raises(BudgetExceeded, match=r"is exhausted \(circuit open\)") as caught:
            await llm.generate(PROMPT, max_tokens=5)
    assert (caught.value.spent, caught.value.limit) == (usd(CALL), usd(CALL))
    assert server.request_count == 1
    assert scope.rejections == 1


async def test_reservation_is_the_worst_case_and_settles_to_the_real_cost(
    server: LLMTestServer, llm: ServerLLM, events: list[BudgetEvent]
) -> None:
    with budget(max_cost_usd=1.0, name="b") as scope:
        await llm.generate(PROMPT, max_tokens=50, headers={"x-test-output-tokens": "5"})
    assert [(e.kind, e.amount_usd, e.spent_usd, e.reserved_usd) for e in events] == [
        ("reserved", usd(nano(3, 50)), 0.0, usd(nano(3, 50))),
        ("settled", usd(CALL), usd(CALL), 0.0),
    ]
    settled = events[-1]
    assert (settled.budget_name, settled.window, settled.bucket, settled.limit_usd) == (
        "b",
        "session",
        "session",
        1.0,
    )
    assert (settled.remaining_usd, settled.spent_tokens, settled.limit_tokens) == (1.0 - usd(CALL), 8, None)
    assert (settled.provider, settled.model, settled.reason) == ("openai", "budget-test-model", None)
    assert scope.spent_usd == usd(CALL)


async def test_a_request_without_max_tokens_reserves_the_default_cap(
    llm: ServerLLM, events: list[BudgetEvent]
) -> None:
    assert DEFAULT_MAX_OUTPUT_TOKENS == 4096
    with budget(max_cost_usd=1.0):
        await llm.generate(PROMPT)
    with budget(max_cost_usd=1.0, default_max_output_tokens=100):
        await llm.generate(PROMPT)
    reserved = [e.amount_usd for e in events if e.kind == "reserved"]
    assert reserved == [usd(nano(3, 4096)), usd(nano(3, 100))]
    # The server answered 12 tokens both times, and that is what was spent.
    assert [e.amount_usd for e in events if e.kind == "settled"] == [usd(nano(3, 12))] * 2


async def test_500_concurrent_calls_exactly_the_ones_that_fit_reach_the_server(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    fitting = 37
    scope = budget(max_cost_usd=usd(fitting * CALL))

    async def one() -> str:
        async with scope:
            return await llm.generate(PROMPT, max_tokens=5, headers={"x-test-latency-ms": "20"})

    results = await asyncio.gather(*(one() for _ in range(500)), return_exceptions=True)
    answered = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert (len(answered), len(refused)) == (fitting, 500 - fitting)
    assert server.request_count == fitting
    totals = scope.totals()
    assert (totals.spent_nano, totals.reserved_nano) == (fitting * CALL, 0)
    assert scope.rejections == 500 - fitting


async def test_a_provider_error_releases_the_reservation(server: LLMTestServer, llm: ServerLLM) -> None:
    with budget(max_cost_usd=usd(CALL)) as scope:
        server.fail_next(500)
        with pytest.raises(httpx2.HTTPStatusError):
            await llm.generate(PROMPT, max_tokens=5)
        assert (scope.spent_usd, scope.reserved_usd, scope.circuit_state) == (0.0, 0.0, CircuitState.CLOSED)
        await llm.generate(PROMPT, max_tokens=5)
    assert server.request_count == 2
    assert scope.spent_usd == usd(CALL)


async def test_cancellation_releases_the_reservation(server: LLMTestServer, llm: ServerLLM) -> None:
    with budget(max_cost_usd=usd(CALL)) as scope:
        task = asyncio.create_task(llm.generate(PROMPT, max_tokens=5, headers={"x-test-latency-ms": "3000"}))
        await until_requests(server, 1)
        assert scope.reserved_usd == usd(CALL)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (scope.spent_usd, scope.reserved_usd) == (0.0, 0.0)
        # The freed reservation is available again.
        await llm.generate(PROMPT, max_tokens=5)
    assert scope.spent_usd == usd(CALL)


async def test_nested_budgets_all_apply(server: LLMTestServer, llm: ServerLLM) -> None:
    outer = budget(max_cost_usd=usd(10 * CALL), name="outer")
    inner = budget(max_cost_usd=usd(CALL), name="inner")
    with outer:
        with inner:
            await llm.generate(PROMPT, max_tokens=5)
            with pytest.raises(BudgetExceeded) as caught:
                await llm.generate(PROMPT, max_tokens=5)
            assert caught.value.budget_name == "inner"
        await llm.generate(PROMPT, max_tokens=5)
    # The outer budget admitted the refused call first, then released it.
    assert (outer.spent_usd, outer.reserved_usd, outer.rejections) == (usd(2 * CALL), 0.0, 0)
    assert (inner.spent_usd, inner.reserved_usd, inner.rejections) == (usd(CALL), 0.0, 1)
    with (
        budget(max_cost_usd=usd(CALL - 1), name="small-outer") as small,
        inner,
        pytest.raises(BudgetExceeded) as caught,
    ):
        await llm.generate(PROMPT, max_tokens=5)
    assert caught.value.budget_name == "small-outer"
    assert (small.rejections, inner.rejections) == (1, 1)  # the outer budget refused first
    assert server.request_count == 2


async def test_tasks_and_threads_inherit_the_budget(server: LLMTestServer, llm: ServerLLM) -> None:
    def in_a_thread() -> str:
        async def call() -> str:
            own = ServerLLM(server.openai_base_url)
            try:
                return await own.generate(PROMPT, max_tokens=5)
            finally:
                await own.aclose()

        return asyncio.run(call())

    with budget(max_cost_usd=1.0) as scope:
        await asyncio.create_task(llm.generate(PROMPT, max_tokens=5))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(with_current_context(in_a_thread)).result()
    assert scope.spent_usd == usd(2 * CALL)


async def test_max_tokens_is_a_hard_token_cap(server: LLMTestServer, llm: ServerLLM) -> None:
    with budget(max_cost_usd=1.0, max_tokens=16) as scope:
        await llm.generate(PROMPT, max_tokens=5)
        await llm.generate(PROMPT, max_tokens=5)
        with pytest.raises(BudgetExceeded) as caught:
            await llm.generate(PROMPT, max_tokens=1)
    error = caught.value
    assert (error.limit_kind, error.unit, error.spent, error.limit) == ("tokens", "tokens", 16.0, 16.0)
    assert "circuit open" in str(error)
    assert (scope.spent_tokens, server.request_count) == (16, 2)
    with budget(max_tokens=10) as tokens_only, pytest.raises(BudgetExceeded) as caught:
        await llm.generate(PROMPT, max_tokens=8)
    assert str(caught.value) == (
        f"budget {tokens_only.name!r} (session window) would be exceeded: spent 0 tokens + reserved 0 tokens"
        " + this call up to 11 tokens > limit 10 tokens; the request was not sent"
    )


async def test_unknown_price_is_admitted_on_the_token_limit_alone(server: LLMTestServer) -> None:
    mystery = ServerLLM(server.openai_base_url, model="mystery-model-x1")
    try:
        with budget(max_cost_usd=1.0, max_tokens=9) as scope:
            with pytest.warns(UnknownModelPriceWarning):
                await mystery.generate(PROMPT, max_tokens=5)
            with pytest.raises(BudgetExceeded) as caught:
                await mystery.generate(PROMPT, max_tokens=5)
    finally:
        await mystery.aclose()
    assert caught.value.limit_kind == "tokens"
    assert (scope.spent_usd, scope.spent_tokens, scope.unknown_cost_calls) == (0.0, 8, 1)
    assert server.request_count == 1


async def test_unknown_price_can_be_refused_under_a_cost_limit(server: LLMTestServer) -> None:
    mystery = ServerLLM(server.openai_base_url, model="mystery-model-x2")
    try:
        with (
            budget(max_cost_usd=1.0, on_unknown_price="refuse", name="strict") as scope,
            pytest.warns(UnknownModelPriceWarning),
            pytest.raises(BudgetExceeded) as caught,
        ):
            await mystery.generate(PROMPT, max_tokens=5)
        assert str(caught.value) == (
            "budget 'strict' (session window) cannot bound the cost of a call to model 'mystery-model-x2':"
            " its price is unknown (on_unknown_price='refuse'); the request was not sent"
        )
        assert (caught.value.limit_kind, caught.value.spent, caught.value.limit) == ("cost", 0.0, 1.0)
        assert (server.request_count, scope.rejections, scope.reserved_usd, scope.circuit_state) == (
            0,
            1,
            0.0,
            CircuitState.CLOSED,
        )
        guard = BudgetGuard(mystery, BudgetLimit(max_cost_usd=1.0), on_unknown_price="refuse")
        with pytest.raises(BudgetExceeded, match="its price is unknown"):
            await guard.generate(PROMPT, max_tokens=5)
        # Without a cost limit there is no money to protect: the token limit admits it.
        with budget(max_tokens=100, on_unknown_price="refuse") as tokens_only:
            await mystery.generate(PROMPT, max_tokens=5)
        assert (tokens_only.spent_tokens, server.request_count) == (8, 1)
        # "admit", the default, lets it through on the token limit alone (the pricing module warned once).
        with budget(max_cost_usd=1.0) as admitting:
            await mystery.generate(PROMPT, max_tokens=5)
        assert (admitting.spent_usd, admitting.unknown_cost_calls, server.request_count) == (0.0, 1, 2)
    finally:
        await mystery.aclose()


async def test_warn_mode_proceeds_and_warns_once_per_event(
    server: LLMTestServer, llm: ServerLLM, events: list[BudgetEvent]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with budget(max_cost_usd=usd(CALL), on_exceeded="warn", name="w") as scope:
            for _ in range(3):
                await llm.generate(PROMPT, max_tokens=5)
    budget_warnings = [w for w in caught if issubclass(w.category, BudgetWarning)]
    assert len(budget_warnings) == 2
    assert [str(w.message) for w in budget_warnings] == [
        "budget 'w' (session window) is exhausted (circuit open): spent $0.000013 + reserved $0 + this call"
        " up to $0 > limit $0.000013; the request proceeds (on_exceeded='warn')",
        "budget 'w' (session window) is exhausted (circuit open): spent $0.000026 + reserved $0 + this call"
        " up to $0 > limit $0.000013; the request proceeds (on_exceeded='warn')",
    ]
    assert server.request_count == 3
    assert scope.spent_usd == usd(3 * CALL)
    assert [e.kind for e in events] == ["reserved", "settled"] + ["exceeded", "reserved", "settled"] * 2
    assert scope.rejections == 2


async def test_warn_mode_over_the_limit_without_an_open_circuit(
    server: LLMTestServer, llm: ServerLLM
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with budget(max_cost_usd=usd(CALL - 1), on_exceeded="warn", name="w2"):
            line = sys._getframe().f_lineno + 1
            await llm.generate(PROMPT, max_tokens=5)
    assert [str(w.message) for w in caught if w.category is BudgetWarning] == [
        "budget 'w2' (session window) exceeded: spent $0 + reserved $0 + this call up to $0.000013"
        " > limit $0.000012999; the request proceeds (on_exceeded='warn')"
    ]
    # The warning names the line that made the call, not synapsekit's own code.
    assert [(w.filename, w.lineno) for w in caught if w.category is BudgetWarning] == [(__file__, line)]
    assert server.request_count == 1


async def test_budget_guard_is_the_spec_facade(server: LLMTestServer, llm: ServerLLM) -> None:
    guard = BudgetGuard(llm=llm, limit=BudgetLimit(max_cost_usd=usd(2 * CALL), window="day"))
    assert guard.circuit_state.value == "closed"
    assert await guard.generate(PROMPT, max_tokens=5) == "Hello from the synapsekit test"
    assert (guard.spent_usd, guard.remaining_usd) == (usd(CALL), usd(CALL))
    chunks = [chunk async for chunk in guard.stream(PROMPT, max_tokens=5)]
    assert "".join(chunks) == "Hello from the synapsekit test"
    assert guard.circuit_state is CircuitState.OPEN
    with pytest.raises(BudgetExceeded) as caught:
        await guard.generate("My prompt")
    e = caught.value
    assert f"Budget exceeded: {e.spent:.4f} / {e.limit:.4f}" == "Budget exceeded: 0.0000 / 0.0000"
    assert (e.spent, e.limit, e.window) == (usd(2 * CALL), usd(2 * CALL), "day")
    assert (server.request_count, guard.rejections, guard.on_exceeded) == (2, 1, "raise")
    assert guard.limit == BudgetLimit(max_cost_usd=usd(2 * CALL), window="day")
    assert guard.budget.window == "day"
    assert guard.model == "budget-test-model"


async def test_guard_composes_with_offline_llm() -> None:
    guard = BudgetGuard(OfflineLLM(), BudgetLimit(max_cost_usd=1.0, max_tokens=20))
    await guard.generate("one two", max_tokens=5)
    assert guard.budget.spent_tokens == 7
    with pytest.raises(BudgetExceeded):
        await guard.generate("one two", max_tokens=20)


def test_listener_failures_surface_in_strict_mode() -> None:
    def broken(event: BudgetEvent) -> None:
        raise RuntimeError("listener bug")

    add_budget_listener(broken)
    add_budget_listener(broken)  # idempotent
    try:
        with budget(max_cost_usd=1.0), pytest.raises(RuntimeError, match="listener bug"):
            asyncio.run(OfflineLLM().generate("hi", max_tokens=1))
    finally:
        remove_budget_listener(broken)


async def test_a_listener_can_ask_for_some_kinds_only(llm: ServerLLM) -> None:
    settlements: list[BudgetEvent] = []
    add_budget_listener(settlements.append, kinds=["settled", "rejected"])
    try:
        with budget(max_cost_usd=usd(CALL), name="kinds"):
            await llm.generate(PROMPT, max_tokens=5)
            with pytest.raises(BudgetExceeded):
                await llm.generate(PROMPT, max_tokens=5)
        # Adding it again replaces its kinds.
        add_budget_listener(settlements.append, kinds=["reserved"])
        with budget(max_cost_usd=1.0, name="again"):
            await llm.generate(PROMPT, max_tokens=5)
    finally:
        remove_budget_listener(settlements.append)
    assert [(e.kind, e.budget_name) for e in settlements] == [
        ("settled", "kinds"),
        ("rejected", "kinds"),
        ("reserved", "again"),
    ]


def test_listening_to_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"unknown budget event kinds \['reservd'\]"):
        add_budget_listener(print, kinds=["reservd", "settled"])


def _span_recorder() -> tuple[Any, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


class _SpanGivingSink:
    # Stands in for the SDK instrumentation, which starts the call's span before admission.
    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def on_call_start(self, call: Any) -> None:
        call.span = self.tracer.start_span("chat budget-test-model")

    def on_call_end(self, call: Any) -> None:
        """Nothing to do."""


def _budget_attributes(span: Any) -> dict[str, Any]:
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith("synapsekit.budget.")}


async def test_budget_outcomes_are_recorded_on_the_call_span(llm: ServerLLM) -> None:
    from synapsekit import add_sink, remove_sink

    tracer, exporter = _span_recorder()
    sink = _SpanGivingSink(tracer)
    add_sink(sink)
    try:
        with budget(max_cost_usd=usd(CALL), name="spans"):
            await llm.generate(PROMPT, max_tokens=5)
            with pytest.raises(BudgetExceeded):
                await llm.generate(PROMPT, max_tokens=5)
    finally:
        remove_sink(sink)
    spans = exporter.get_finished_spans()
    # Routine outcomes (every admitted call is reserved and settled) are span attributes, not events;
    # a refusal is an event carrying the whole picture.
    assert [[event.name for event in span.events] for span in spans] == [
        [],
        ["synapsekit.budget.rejected", "exception"],
    ]
    assert _budget_attributes(spans[0]) == {
        "synapsekit.budget.name": "spans",
        "synapsekit.budget.reserved_usd": usd(CALL),
        "synapsekit.budget.remaining_usd": 0.0,
    }
    assert _budget_attributes(spans[1]) == {}
    rejected = dict(spans[1].events[0].attributes or {})
    assert {key: rejected[key] for key in ("synapsekit.budget.window", "synapsekit.budget.spent_usd")} == {
        "synapsekit.budget.window": "session",
        "synapsekit.budget.spent_usd": usd(CALL),
    }
    assert rejected["synapsekit.budget.limit_usd"] == usd(CALL)
    assert dict(spans[1].events[0].attributes or {})["synapsekit.budget.reason"] == "circuit_open"


async def test_with_nested_budgets_the_span_names_the_tightest(llm: ServerLLM) -> None:
    from synapsekit import add_sink, remove_sink

    tracer, exporter = _span_recorder()
    sink = _SpanGivingSink(tracer)
    add_sink(sink)
    try:
        with budget(max_cost_usd=1.0, name="outer"), budget(max_cost_usd=0.5, name="inner"):
            await llm.generate(PROMPT, max_tokens=50, headers={"x-test-output-tokens": "5"})
        with budget(max_tokens=100, name="tokens-only"):
            await llm.generate(PROMPT, max_tokens=5)
    finally:
        remove_sink(sink)
    first, second = exporter.get_finished_spans()
    assert _budget_attributes(first) == {
        "synapsekit.budget.name": "inner",
        "synapsekit.budget.reserved_usd": usd(nano(3, 50)),
        "synapsekit.budget.remaining_usd": 0.5 - usd(CALL),
    }
    # A token-only budget has no USD left to report: the span still names it (the call is priced all the same).
    assert _budget_attributes(second) == {
        "synapsekit.budget.name": "tokens-only",
        "synapsekit.budget.reserved_usd": usd(CALL),
    }
