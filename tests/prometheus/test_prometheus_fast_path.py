"""PrometheusMetrics' direct writes into prometheus-client's value objects, against its public methods.

The same known calls are recorded twice: once through the direct writers (per-process values written under
the instance's one lock, one acquisition per call), once with every labelled child hidden behind a proxy that
has only the public ``inc``/``observe``/``set`` (as a prometheus-client with a different internal layout
would look), which makes every writer fall back to them. The two expositions must be identical, ``_created``
timestamps aside; bucket counts, the one lock, thread safety (with scrapes running) and multiprocess mode
are checked exactly.

Run as a script (``python test_prometheus_fast_path.py fast|public|mmap-writes``) with
``PROMETHEUS_MULTIPROC_DIR`` set, it records the known calls in that mode and prints the multiprocess
exposition (``mmap-writes``: counts the writes into the mmap values of a few calls and prints them as JSON).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from synapsekit._budget.events import BudgetEvent
from synapsekit._core.call import LLMCall, start_call
from synapsekit._pricing.prices import UnknownModelPriceWarning, clear_price_overrides, set_price
from synapsekit._prometheus import metrics as _prometheus, series as _prometheus_series
from synapsekit._prometheus.instruments import (
    LATENCY_BUCKETS,
    LockedInc,
    LockedObserve,
    counter_mutex_value,
    counter_writer,
    gauge_writer,
    histogram_mutex_values,
    histogram_writer,
)
from synapsekit._prometheus.metrics import PrometheusMetrics

PROVIDER = "acme"
MODEL = "fast-model"  # $0.50 per input token, $0.25 per output token: sums are exact in binary
LABELS = {"model": MODEL, "provider": PROVIDER}
# On a bound (0.005, 10.0), just above one, above the last bound, +Inf, zero, negative and NaN (which
# prometheus-client adds to the sum but counts in no bucket).
EDGE_LATENCIES = (0.0, 0.005, 0.0050000001, 0.3, 10.0, 10.5, math.inf, -1.0, math.nan)


def set_prices() -> None:
    set_price(MODEL, provider=PROVIDER, input_per_mtok=500_000, output_per_mtok=250_000)


@pytest.fixture(autouse=True)
def _prices() -> Iterator[None]:
    set_prices()
    yield
    clear_price_overrides()


class PublicOnly:
    """A labelled child as a prometheus-client with another internal layout would show it: public methods."""

    def __init__(self, child: Any) -> None:
        self.wrapped = child

    def inc(self, amount: float = 1) -> None:
        self.wrapped.inc(amount)

    def observe(self, amount: float) -> None:
        self.wrapped.observe(amount)

    def set(self, value: float) -> None:
        self.wrapped.set(value)


def hide_private_attributes(monkeypatch: pytest.MonkeyPatch, metric: str | None = None) -> None:
    """Every child PrometheusMetrics resolves from now on is a :class:`PublicOnly` proxy.

    With ``metric`` (a metric's name without namespace and suffix, such as "latency_seconds"), only the children
    of that metric are.
    """
    resolve = _prometheus_series.Children.get

    def public_only(self: Any, *values: str) -> Any:
        child = resolve(self, *values)
        if metric is not None and self._metric._name != f"synapsekit_{metric}":
            return child
        return PublicOnly(child)

    monkeypatch.setattr(_prometheus_series.Children, "get", public_only)


@pytest.fixture(params=["fast", "public"])
def prom(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrometheusMetrics]:
    """A PrometheusMetrics recording through the direct writers, or through the public methods."""
    if request.param == "public":
        hide_private_attributes(monkeypatch)
    metrics = PrometheusMetrics()
    yield metrics
    metrics.close()


def llm_span(duration_ms: float, status: str) -> SimpleNamespace:
    """A finished ``llm.generate`` span as record_span reads it: 5 + 2 tokens, $0.50."""
    attributes = {
        "gen_ai.request.model": MODEL,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.usage.cost": 0.5,
    }
    return SimpleNamespace(name="llm.generate", attributes=attributes, duration_ms=duration_ms, status=status)


def finished_call(
    model: str = MODEL,
    *,
    latency_s: float | None = 0.25,
    first_chunk_s: float | None = None,
    input_tokens: int | None = 3,
    output_tokens: int | None = 4,
    error: BaseException | None = None,
    **usage: int,
) -> LLMCall:
    """An ended call with exactly these figures (its measured latency is replaced)."""
    call = start_call(PROVIDER, "chat", model)
    if input_tokens is not None or output_tokens is not None:
        call.record_usage(input_tokens=input_tokens, output_tokens=output_tokens, **usage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        if error is None:
            call.finish()
        else:
            call.fail(error)
        call.cost  # noqa: B018 - priced (and warned about) here, once
    call.latency_s = latency_s
    call.time_to_first_chunk_s = first_chunk_s
    return call


def budget_event(kind: str, name: str | None, window: str, remaining: float | None) -> BudgetEvent:
    return BudgetEvent(
        kind=kind,
        budget_name=name,
        window=window,
        bucket="2025-01-01",
        spent_usd=0.0,
        reserved_usd=0.0,
        limit_usd=None if remaining is None else 10.0,
        remaining_usd=remaining,
        spent_tokens=0,
        limit_tokens=None,
        amount_usd=None,
        provider=PROVIDER,
        model=MODEL,
    )


def record_known_calls(prom: PrometheusMetrics) -> None:
    """Every recording path: ambient calls of each outcome, explicit calls, spans and budget events."""
    for latency in EDGE_LATENCIES:
        prom.on_call_end(finished_call(latency_s=latency, first_chunk_s=latency / 2))
    prom.on_call_end(finished_call("edge-model", latency_s=math.nan, input_tokens=0, output_tokens=0))
    prom.on_call_end(finished_call(error=TimeoutError("read timed out")))
    prom.on_call_end(finished_call(error=ConnectionError("reset"), input_tokens=None, output_tokens=None))
    rejected = finished_call()
    rejected.rejected = True
    prom.on_call_end(rejected)
    prom.on_call_end(finished_call(input_tokens=None, output_tokens=None))
    prom.on_call_end(
        finished_call("unpriced", cached_input_tokens=2, cache_creation_input_tokens=1, reasoning_tokens=3)
    )
    for index in range(4):  # past max_label_values=3 for "model" (with "fast-model" and "edge-model")
        prom.on_call_end(finished_call(f"model-{index}", latency_s=0.01 * index))
    prom.record_llm(model="gpt-4o", provider="openai", cost_usd=0.25, total_tokens=10, latency_ms=5.0)
    prom.record_llm(model="gpt-4o", provider="openai", cost_usd=None, total_tokens=None, latency_ms=None)
    prom.record_span(llm_span(7500.0, "ok"))
    prom.record_span(llm_span(1.0, "error"))
    for event in (
        budget_event("settled", "team-a", "day", 9.5),
        budget_event("settled", "team-a", "day", 7.25),
        budget_event("rejected", "team-a", "day", 7.25),
        budget_event("rejected", "tokens-only", "month", None),
        budget_event("exceeded", None, "hour", 0.0),
    ):
        prom.on_budget_event(event)


def exposition_without_created(prom: PrometheusMetrics) -> list[str]:
    return [line for line in prom.expose().decode().splitlines() if "_created" not in line]


def public_exposition_of_known_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What record_known_calls exposes when every write goes through prometheus-client's public methods."""
    with monkeypatch.context() as patch:
        hide_private_attributes(patch)
        public = PrometheusMetrics(max_label_values=3)
        record_known_calls(public)
    return exposition_without_created(public)


def value(prom: PrometheusMetrics, name: str, **labels: str) -> float | None:
    assert prom.registry is not None
    return prom.registry.get_sample_value(name, labels)


# The per-process values a (model, provider) bundle writes under the one lock, once resolved.
VALUE_SLOTS = (
    "requests_ok_value",
    "latency_sum",
    "latency_buckets",
    "latency_bounds",
    "first_chunk_sum",
    "first_chunk_buckets",
    "first_chunk_bounds",
    "tokens_input_value",
    "tokens_output_value",
    "tokens_value",
    "cost_value",
)


class CountingLock:
    """Stands in for ``PrometheusMetrics._write_lock``: counts its acquisitions and knows its holder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acquisitions = 0
        self.holder: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        acquired = self._lock.acquire(blocking, timeout)
        if acquired:
            self.acquisitions += 1  # under the lock: exact
            self.holder = threading.get_ident()
        return acquired

    def release(self) -> None:
        self.holder = None
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def held_here(self) -> bool:
        return self.holder == threading.get_ident()


class ForcedCostCall(LLMCall):
    """An LLM call whose cost is whatever the test says (prices cannot be negative or NaN)."""

    __slots__ = ("forced_cost",)

    @property
    def cost(self) -> Decimal | None:
        return self.forced_cost


def forced_cost_call(model: str, cost: Decimal) -> ForcedCostCall:
    """An ended, successful call of ``model`` with 3 input and 4 output tokens, costing ``cost``."""
    call = ForcedCostCall(PROVIDER, "chat", model)
    call.forced_cost = cost
    call.record_usage(input_tokens=3, output_tokens=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        call.finish()
    call.latency_s = 0.25
    return call


def refuse_value_inc(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, writing a per-process value through its own ``inc`` (its own lock) fails the test."""
    from prometheus_client.values import MutexValue

    def refused(self: Any, amount: float) -> None:
        raise AssertionError(f"MutexValue.inc({amount!r}) called")

    monkeypatch.setattr(MutexValue, "inc", refused)


# -- the same exposition either way --------------------------------------------------------------------------
def test_direct_writes_expose_exactly_what_the_public_methods_do(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = PrometheusMetrics(max_label_values=3)
    record_known_calls(fast)
    expected = public_exposition_of_known_calls(monkeypatch)
    assert exposition_without_created(fast) == expected
    # The comparison is not vacuous: every recording path left series behind, the edge values included.
    text = "\n".join(expected)
    for sample in (
        # 0.0, 0.005 (on the bound) and -1.0; 10 in all, NaN in none; the NaN-only histogram counts nothing.
        'synapsekit_latency_seconds_bucket{le="0.005",model="fast-model",provider="acme"} 3.0',
        'synapsekit_latency_seconds_bucket{le="+Inf",model="fast-model",provider="acme"} 10.0',
        'synapsekit_latency_seconds_count{model="edge-model",provider="acme"} 0.0',
        'synapsekit_latency_seconds_sum{model="edge-model",provider="acme"} NaN',
        'synapsekit_requests_total{model="fast-model",outcome="rejected",provider="acme"} 1.0',
        'synapsekit_errors_total{error_type="Error",model="fast-model",provider="acme"} 1.0',
        'synapsekit_tokens_by_type_total{model="unpriced",provider="acme",type="reasoning"} 3.0',
        'synapsekit_unknown_cost_calls_total{model="other",provider="acme"} 4.0',
        'synapsekit_tokens_total{model="other",provider="acme"} 28.0',
        'synapsekit_budget_remaining_usd{budget="team-a",window="day"} 7.25',
        'synapsekit_budget_remaining_usd{budget="unnamed",window="hour"} 0.0',
    ):
        assert sample in text


def test_direct_writes_bypass_the_public_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import Counter, Gauge, Histogram

    public_calls: list[str] = []
    for cls, name in ((Counter, "inc"), (Histogram, "observe"), (Gauge, "set")):
        original = getattr(cls, name)

        def counted(
            self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> None:
            public_calls.append(_name)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    prom = PrometheusMetrics()
    for _ in range(3):
        prom.on_call_end(finished_call(first_chunk_s=0.125))
        prom.on_budget_event(budget_event("settled", "team-a", "day", 1.5))
    prom.record_llm(model=MODEL, provider=PROVIDER, cost_usd=0.5, total_tokens=7, latency_ms=250.0)
    assert public_calls == []
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == 4.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == 4.0
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_count", **LABELS) == 3.0
    assert value(prom, "synapsekit_budget_remaining_usd", budget="team-a", window="day") == 1.5
    # The rare paths keep the public methods; the counting wrapper sees them.
    prom.on_call_end(finished_call(error=TimeoutError("slow")))
    assert public_calls == ["inc", "inc"]


# -- one lock per call -----------------------------------------------------------------------------------------
def test_a_call_is_recorded_under_one_lock_without_the_values_own_inc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prom = PrometheusMetrics()
    lock = prom._write_lock = CountingLock()
    refuse_value_inc(monkeypatch)
    call = finished_call(latency_s=0.25, first_chunk_s=0.125)
    prom.on_call_end(call)
    # The first call creates its seven series, each written under the lock by its own first write.
    assert lock.acquisitions == 7
    series = prom._call_series[(MODEL, PROVIDER)]
    instruments = prom._instruments
    assert instruments is not None
    latency_child = instruments.latency.labels(MODEL, PROVIDER)
    first_chunk_child = instruments.time_to_first_chunk.labels(MODEL, PROVIDER)
    assert series.requests_ok_value is instruments.requests.labels(MODEL, PROVIDER, "ok")._value
    assert series.tokens_input_value is instruments.tokens_by_type.labels(MODEL, PROVIDER, "input")._value
    assert series.tokens_output_value is instruments.tokens_by_type.labels(MODEL, PROVIDER, "output")._value
    assert series.tokens_value is instruments.tokens.labels(MODEL, PROVIDER)._value
    assert series.cost_value is instruments.cost.labels(MODEL, PROVIDER)._value
    assert series.latency_sum is latency_child._sum
    assert series.latency_buckets == tuple(latency_child._buckets)
    assert series.latency_bounds == (*LATENCY_BUCKETS, math.inf)
    assert series.first_chunk_sum is first_chunk_child._sum
    assert series.first_chunk_buckets == tuple(first_chunk_child._buckets)
    for slot in ("requests_ok", "tokens", "tokens_input", "tokens_output", "cost"):
        assert type(getattr(series, slot)) is LockedInc, slot
    for slot in ("latency", "time_to_first_chunk"):
        assert type(getattr(series, slot)) is LockedObserve, slot

    for _ in range(5):  # one acquisition per call from now on
        prom.on_call_end(call)
    assert lock.acquisitions == 7 + 5
    prom.record_llm(model=MODEL, provider=PROVIDER, cost_usd=0.5, total_tokens=7, latency_ms=250.0)
    assert lock.acquisitions == 7 + 5 + 1
    prom.record_span(llm_span(7500.0, "ok"))
    assert lock.acquisitions == 7 + 5 + 1 + 1
    assert lock.holder is None

    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == 8.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == 7.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="7.5", **LABELS) == 8.0
    assert value(prom, "synapsekit_latency_seconds_sum", **LABELS) == 0.25 * 7 + 7.5
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_bucket", le="0.1", **LABELS) == 0.0
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_bucket", le="0.25", **LABELS) == 6.0
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_sum", **LABELS) == 0.125 * 6
    assert value(prom, "synapsekit_tokens_by_type_total", type="input", **LABELS) == 3.0 * 6 + 5
    assert value(prom, "synapsekit_tokens_by_type_total", type="output", **LABELS) == 4.0 * 6 + 2
    assert value(prom, "synapsekit_tokens_total", **LABELS) == 7.0 * 6 + 7 + 7
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 2.5 * 6 + 0.5 + 0.5


def test_the_refused_cost_holds_the_lock_around_the_public_inc(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import Counter

    prom = PrometheusMetrics()
    lock = prom._write_lock = CountingLock()
    cost_incs: list[tuple[float, bool]] = []
    original_inc = Counter.inc

    def watched_inc(self: Any, amount: float = 1, exemplar: Any = None) -> None:
        if self._name == "synapsekit_cost_usd":
            cost_incs.append((amount, lock.held_here()))
        original_inc(self, amount, exemplar)

    monkeypatch.setattr(Counter, "inc", watched_inc)
    prom.on_call_end(forced_cost_call(MODEL, Decimal("2.5")))
    prom.on_call_end(forced_cost_call(MODEL, Decimal("2.5")))
    with pytest.raises(ValueError, match="Counters can only be incremented by non-negative amounts"):
        prom.on_call_end(forced_cost_call(MODEL, Decimal("-0.5")))
    assert lock.holder is None  # released despite the refusal
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 5.0
    prom.on_call_end(forced_cost_call(MODEL, Decimal("NaN")))
    assert [held for _, held in cost_incs] == [True, True]
    assert cost_incs[0][0] == -0.5
    assert math.isnan(cost_incs[1][0])
    cost = value(prom, "synapsekit_cost_usd_total", **LABELS)
    assert cost is not None and math.isnan(cost)
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == 4.0
    assert value(prom, "synapsekit_tokens_total", **LABELS) == 7.0 * 4


def test_a_bundle_with_a_child_not_shaped_for_the_lock_writes_each_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client.values import MutexValue

    value_incs: list[float] = []
    original_inc = MutexValue.inc

    def counted_inc(self: Any, amount: float) -> None:
        value_incs.append(amount)
        original_inc(self, amount)

    with monkeypatch.context() as patch:
        hide_private_attributes(patch, "latency_seconds")
        prom = PrometheusMetrics()
        lock = prom._write_lock = CountingLock()
        patch.setattr(MutexValue, "inc", counted_inc)
        for latency in (0.25, 16.0, 0.25):
            prom.on_call_end(finished_call(latency_s=latency, first_chunk_s=0.5))
    series = prom._call_series[(MODEL, PROVIDER)]
    assert (series.latency_sum, series.latency_buckets, series.latency_bounds) == (None, None, None)
    assert isinstance(getattr(series.latency, "__self__", None), PublicOnly)  # the public observe
    assert type(series.cost) is LockedInc
    # The latency through the public observe (the sum's and a bucket's own inc), the six others under the lock.
    assert value_incs == [0.25, 1, 16.0, 1, 0.25, 1]
    assert lock.acquisitions == 6 * 3
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == 2.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="+Inf", **LABELS) == 3.0
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_bucket", le="0.5", **LABELS) == 3.0
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 2.5 * 3

    with monkeypatch.context() as patch:
        hide_private_attributes(patch, "latency_seconds")
        mixed = PrometheusMetrics(max_label_values=3)
        record_known_calls(mixed)
    assert exposition_without_created(mixed) == public_exposition_of_known_calls(monkeypatch)


# -- exact bucket counts ---------------------------------------------------------------------------------------
def test_bucket_counts_on_a_bound_above_the_last_bound_and_at_zero(prom: PrometheusMetrics) -> None:
    latencies = (0.0, 0.005, 10.0, 10.5)
    for latency in latencies:
        prom.on_call_end(finished_call(latency_s=latency, first_chunk_s=latency))
    cumulative = {
        "0.005": 2.0,  # 0.0 and 0.005: a value on a bound is in that bound's bucket
        "0.01": 2.0,
        "7.5": 2.0,
        "10.0": 3.0,
        "+Inf": 4.0,  # 10.5 is only in +Inf
    }
    for histogram in ("synapsekit_latency_seconds", "synapsekit_time_to_first_chunk_seconds"):
        for le, count in cumulative.items():
            assert value(prom, f"{histogram}_bucket", le=le, **LABELS) == count, (histogram, le)
        assert value(prom, f"{histogram}_count", **LABELS) == 4.0
        assert value(prom, f"{histogram}_sum", **LABELS) == 0.0 + 0.005 + 10.0 + 10.5


def test_infinite_and_nan_observations(prom: PrometheusMetrics) -> None:
    prom.on_call_end(finished_call(latency_s=math.inf))
    prom.on_call_end(finished_call(latency_s=math.nan))
    # +Inf lands in the +Inf bucket; NaN goes into the sum but into no bucket, as prometheus-client has it.
    assert value(prom, "synapsekit_latency_seconds_bucket", le="10.0", **LABELS) == 0.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="+Inf", **LABELS) == 1.0
    assert value(prom, "synapsekit_latency_seconds_count", **LABELS) == 1.0
    latency_sum = value(prom, "synapsekit_latency_seconds_sum", **LABELS)
    assert latency_sum is not None and math.isnan(latency_sum)


def test_negative_cost_is_still_refused(prom: PrometheusMetrics, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prices cannot be negative (set_price refuses them): the cost is forced so that the counter's own refusal
    # of a negative amount, which the direct writer would not make, is still what happens.
    monkeypatch.setattr(LLMCall, "cost", property(lambda call: Decimal("-0.5")))
    with pytest.raises(ValueError, match="Counters can only be incremented by non-negative amounts"):
        prom.on_call_end(finished_call())
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 0.0  # created, never decremented


# -- series exist from their first write on ---------------------------------------------------------------------
def test_series_are_created_by_their_first_write_only(prom: PrometheusMetrics) -> None:
    prom.on_call_end(finished_call(error=TimeoutError("slow")))
    assert prom.registry is not None
    names = {sample.name for metric in prom.registry.collect() for sample in metric.samples}
    assert not any(name.startswith("synapsekit_latency_seconds") for name in names)
    assert not any(name.startswith("synapsekit_time_to_first_chunk") for name in names)
    prom.on_call_end(finished_call())
    assert value(prom, "synapsekit_latency_seconds_count", **LABELS) == 1.0
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_count", **LABELS) is None


def test_writers_past_the_cache_bound_record_the_same(
    prom: PrometheusMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_prometheus, "_MAX_CACHED_LABEL_KEYS", 2)
    snapshots = ("fast-model-2024-01-01", "fast-model-2024-02-01", "FAST-model", "fast-model")
    for _ in range(2):
        for model in snapshots:  # all normalised to the label "fast-model"
            prom.record_llm(model=model, provider=PROVIDER, cost_usd=0.5, total_tokens=7, latency_ms=250.0)
    assert len(prom._call_series) == 2
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == 8.0
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 4.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == 8.0


# -- thread safety ---------------------------------------------------------------------------------------------
@pytest.fixture
def _frequent_thread_switches() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("_frequent_thread_switches")
def test_concurrent_recording_into_one_key_is_exact(prom: PrometheusMetrics) -> None:
    threads_count, calls_per_thread = 8, 400
    call = finished_call(latency_s=0.25, first_chunk_s=0.5)  # exact in binary: the sums compare with ==
    start = threading.Barrier(threads_count)

    def record() -> None:
        start.wait()  # all threads race for the first writes (series creation) too
        for _ in range(calls_per_thread):
            prom.on_call_end(call)
            prom.on_budget_event(budget_event("settled", "team-a", "day", 2.0))

    threads = [threading.Thread(target=record) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = threads_count * calls_per_thread
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == total
    assert value(prom, "synapsekit_tokens_total", **LABELS) == 7.0 * total
    assert value(prom, "synapsekit_tokens_by_type_total", type="input", **LABELS) == 3.0 * total
    assert value(prom, "synapsekit_tokens_by_type_total", type="output", **LABELS) == 4.0 * total
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 2.5 * total
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.1", **LABELS) == 0.0
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == total
    assert value(prom, "synapsekit_latency_seconds_sum", **LABELS) == 0.25 * total
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_bucket", le="0.5", **LABELS) == total
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_sum", **LABELS) == 0.5 * total
    assert value(prom, "synapsekit_budget_remaining_usd", budget="team-a", window="day") == 2.0


def requests_ok_in(exposition: str) -> float:
    prefix = f'synapsekit_requests_total{{model="{MODEL}",outcome="ok",provider="{PROVIDER}"}} '
    for line in exposition.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0  # not created yet


@pytest.mark.usefixtures("_frequent_thread_switches")
def test_concurrent_recording_with_scrapes_running_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import generate_latest

    threads_count, calls_per_thread = 8, 400
    # Exact in binary, so every order of the additions gives the same sums; 16.0 is past the last bound.
    calls = [
        finished_call(latency_s=latency, first_chunk_s=latency / 2) for latency in (0.25, 0.5, 2.0, 16.0)
    ]
    explicit_every = 8  # and a record_llm every 8th call (0.25 s, $0.25, 10 tokens)

    def record(prom: PrometheusMetrics, index: int) -> None:
        call = calls[index % len(calls)]
        for number in range(calls_per_thread):
            prom.on_call_end(call)
            if number % explicit_every == 0:
                prom.record_llm(
                    model=MODEL, provider=PROVIDER, cost_usd=0.25, total_tokens=10, latency_ms=250.0
                )

    prom = PrometheusMetrics()
    assert prom.registry is not None
    registry = prom.registry
    start = threading.Barrier(threads_count + 1)
    writing = threading.Event()
    writing.set()
    scraped: list[float] = []

    def scrape() -> None:
        start.wait()
        while True:
            done = not writing.is_set()
            scraped.append(requests_ok_in(generate_latest(registry).decode()))
            if done:  # this last scrape started after every write
                return

    def write(index: int) -> None:
        start.wait()  # all threads race for the first writes (series creation) too
        record(prom, index)

    scraper = threading.Thread(target=scrape)
    writers = [threading.Thread(target=write, args=(index,)) for index in range(threads_count)]
    for thread in (scraper, *writers):
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    scraper.join()

    with monkeypatch.context() as patch:
        hide_private_attributes(patch)
        public = PrometheusMetrics()
        for index in range(threads_count):
            record(public, index)
    assert exposition_without_created(prom) == exposition_without_created(public)

    explicit = threads_count * (calls_per_thread // explicit_every)
    total = threads_count * calls_per_thread
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == total + explicit
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **LABELS) == total / 4 + explicit
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.5", **LABELS) == total / 2 + explicit
    assert value(prom, "synapsekit_latency_seconds_bucket", le="2.5", **LABELS) == total * 3 / 4 + explicit
    assert value(prom, "synapsekit_latency_seconds_bucket", le="10.0", **LABELS) == total * 3 / 4 + explicit
    assert value(prom, "synapsekit_latency_seconds_bucket", le="+Inf", **LABELS) == total + explicit
    assert value(prom, "synapsekit_latency_seconds_sum", **LABELS) == (
        (0.25 + 0.5 + 2.0 + 16.0) * total / 4 + 0.25 * explicit
    )
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_count", **LABELS) == total
    assert value(prom, "synapsekit_time_to_first_chunk_seconds_sum", **LABELS) == (
        (0.125 + 0.25 + 1.0 + 8.0) * total / 4
    )
    assert value(prom, "synapsekit_tokens_total", **LABELS) == 7.0 * total + 10.0 * explicit
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 2.5 * total + 0.25 * explicit
    # Every scrape saw a whole number of requests, never fewer than the scrape before; the last one, all.
    assert scraped[-1] == total + explicit
    assert scraped == sorted(scraped)
    assert all(0 <= count <= total + explicit and count == int(count) for count in scraped)


@pytest.mark.usefixtures("_frequent_thread_switches")
def test_refused_and_nan_costs_mixed_with_normal_ones_from_several_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import Counter

    prom = PrometheusMetrics()
    lock = prom._write_lock = CountingLock()
    refused_incs: list[bool] = []  # whether the thread held the one lock around the public inc
    original_inc = Counter.inc

    def watched_inc(self: Any, amount: float = 1, exemplar: Any = None) -> None:
        if self._name == "synapsekit_cost_usd":
            refused_incs.append(lock.held_here())
        original_inc(self, amount, exemplar)

    monkeypatch.setattr(Counter, "inc", watched_inc)
    threads_count, calls_per_thread, odd_every = 8, 200, 4
    normal = forced_cost_call(MODEL, Decimal("2.5"))
    negative = forced_cost_call(MODEL, Decimal("-0.5"))  # same series as normal: refused
    other_normal = forced_cost_call("nan-model", Decimal("1.25"))
    not_a_number = forced_cost_call("nan-model", Decimal("NaN"))  # same series as other_normal: added
    start = threading.Barrier(threads_count)
    refusals: list[int] = []

    def record() -> None:
        start.wait()
        refused = 0
        for number in range(calls_per_thread):
            prom.on_call_end(normal)
            prom.on_call_end(other_normal)
            if number % odd_every == 0:
                try:
                    prom.on_call_end(negative)
                except ValueError:
                    refused += 1
                prom.on_call_end(not_a_number)
        refusals.append(refused)

    threads = [threading.Thread(target=record) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = threads_count * calls_per_thread
    odd = threads_count * (calls_per_thread // odd_every)
    assert sum(refusals) == odd
    assert len(refused_incs) == 2 * odd and all(refused_incs)
    # The refused calls were recorded (their request and tokens) up to their cost.
    assert value(prom, "synapsekit_requests_total", outcome="ok", **LABELS) == total + odd
    assert value(prom, "synapsekit_tokens_total", **LABELS) == 7.0 * (total + odd)
    assert value(prom, "synapsekit_latency_seconds_sum", **LABELS) == 0.25 * (total + odd)
    assert value(prom, "synapsekit_cost_usd_total", **LABELS) == 2.5 * total
    nan_labels = {"model": "nan-model", "provider": PROVIDER}
    assert value(prom, "synapsekit_requests_total", outcome="ok", **nan_labels) == total + odd
    assert value(prom, "synapsekit_tokens_by_type_total", type="input", **nan_labels) == 3.0 * (total + odd)
    assert value(prom, "synapsekit_latency_seconds_bucket", le="0.25", **nan_labels) == total + odd
    nan_cost = value(prom, "synapsekit_cost_usd_total", **nan_labels)
    assert nan_cost is not None and math.isnan(nan_cost)
    assert lock.holder is None


# -- the writers' checks of prometheus-client's internals -----------------------------------------------------
def public_methods() -> SimpleNamespace:
    def public(amount: float, exemplar: Any = None) -> None:
        raise AssertionError("not called")

    return SimpleNamespace(inc=public, observe=public, set=public)


def test_writers_use_the_value_objects_of_real_children() -> None:
    prom = PrometheusMetrics()
    instruments = prom._instruments
    assert instruments is not None
    counter = instruments.cost.labels("m", "p")
    gauge = instruments.budget_remaining.labels("b", "day")
    histogram = instruments.latency.labels("m", "p")
    assert counter_writer(counter) == counter._value.inc
    # A "livemostrecent" gauge's per-process value ignores the timestamp the public set would pass.
    assert gauge_writer(gauge) == gauge._value.set
    assert histogram_writer(histogram) != histogram.observe


@pytest.mark.parametrize(
    "internals",
    [
        {},
        {"_value": object(), "_sum": object(), "_buckets": [], "_upper_bounds": []},
        {"_value": SimpleNamespace(inc=1.0, set=None)},
    ],
    ids=["missing", "no-methods", "not-callable"],
)
def test_writers_fall_back_to_the_public_methods(internals: dict[str, Any]) -> None:
    child = public_methods()
    vars(child).update(internals)
    assert counter_writer(child) == child.inc
    assert gauge_writer(child) == child.set
    assert histogram_writer(child) == child.observe


def value_stub() -> SimpleNamespace:
    return SimpleNamespace(inc=lambda amount: None, set=lambda amount: None)


@pytest.mark.parametrize(
    ("buckets", "bounds", "direct"),
    [
        ([value_stub(), value_stub()], [1.0, math.inf], True),  # the layout prometheus-client has
        ([value_stub(), value_stub()], [1.0, 5.0], False),  # no +Inf bound
        ([value_stub(), value_stub(), value_stub()], [5.0, 1.0, math.inf], False),  # not ascending
        ([value_stub(), value_stub(), value_stub()], [1, 2, math.inf], False),  # not floats
        ([value_stub(), value_stub()], [1.0, 2.0, math.inf], False),  # a bucket short
        ([value_stub(), value_stub()], (1.0, math.inf), False),  # bounds not a list
        ((value_stub(), value_stub()), [1.0, math.inf], False),  # buckets not a list
        ([value_stub(), object()], [1.0, math.inf], False),  # a bucket without inc
        ([], [], False),  # no buckets at all
    ],
)
def test_histogram_writer_checks_the_bucket_layout(buckets: Any, bounds: Any, direct: bool) -> None:
    child = public_methods()
    child._sum = value_stub()
    child._buckets = buckets
    child._upper_bounds = bounds
    assert (histogram_writer(child) != child.observe) is direct


def test_mutex_values_of_real_children() -> None:
    prom = PrometheusMetrics()
    instruments = prom._instruments
    assert instruments is not None
    counter = instruments.cost.labels("m", "p")
    histogram = instruments.latency.labels("m", "p")
    assert counter_mutex_value(counter) is counter._value
    values = histogram_mutex_values(histogram)
    assert values is not None
    total, buckets, bounds = values
    assert total is histogram._sum
    assert buckets == tuple(histogram._buckets)
    assert all(bucket is child for bucket, child in zip(buckets, histogram._buckets, strict=True))
    assert bounds == (*LATENCY_BUCKETS, math.inf)


def mutex_value(initial: object = 0.0) -> Any:
    from prometheus_client.values import MutexValue

    value = MutexValue("counter", "m", "m_total", (), (), "")
    value._value = initial
    return value


def mutex_value_subclass() -> Any:
    from prometheus_client.values import MutexValue

    class Subclass(MutexValue):
        pass

    return Subclass("counter", "m", "m_total", (), (), "")


@pytest.mark.parametrize(
    "make_value",
    [
        lambda: mutex_value(0),  # not a float
        lambda: mutex_value(Decimal(0)),
        mutex_value_subclass,  # may do anything in inc
        lambda: SimpleNamespace(_value=0.0, inc=lambda amount: None),  # looks alike, is not
        lambda: None,
    ],
    ids=["int", "decimal", "subclass", "lookalike", "none"],
)
def test_values_not_exactly_per_process_mutex_values_are_not_written_under_the_lock(
    make_value: Callable[[], Any],
) -> None:
    child = SimpleNamespace(_value=make_value())
    assert counter_mutex_value(child) is None
    histogram = SimpleNamespace(
        _sum=make_value(), _buckets=[mutex_value(), mutex_value()], _upper_bounds=[1.0, math.inf]
    )
    assert histogram_mutex_values(histogram) is None
    histogram = SimpleNamespace(
        _sum=mutex_value(), _buckets=[mutex_value(), make_value()], _upper_bounds=[1.0, math.inf]
    )
    assert histogram_mutex_values(histogram) is None


@pytest.mark.parametrize(
    ("buckets", "bounds", "direct"),
    [
        (2, [1.0, math.inf], True),  # the layout prometheus-client has
        (2, [1.0, 5.0], False),  # no +Inf bound
        (3, [5.0, 1.0, math.inf], False),  # not ascending
        (2, [1.0, 2.0, math.inf], False),  # a bucket short
        (2, (1.0, math.inf), False),  # bounds not a list
        (0, [], False),  # no buckets at all
    ],
)
def test_histogram_mutex_values_check_the_bucket_layout(buckets: int, bounds: Any, direct: bool) -> None:
    child = SimpleNamespace(_sum=mutex_value(), _buckets=[mutex_value() for _ in range(buckets)])
    child._upper_bounds = bounds
    assert (histogram_mutex_values(child) is not None) is direct
    child._buckets = tuple(child._buckets)  # buckets not a list
    assert histogram_mutex_values(child) is None


def test_locked_writers_write_the_values_under_the_lock() -> None:
    lock = CountingLock()
    counter = mutex_value()
    inc = LockedInc(lock, counter)
    inc(2.5)
    inc(0.5)
    assert counter.get() == 3.0
    total, buckets = mutex_value(), (mutex_value(), mutex_value(), mutex_value())
    observe = LockedObserve(lock, (total, buckets, (1.0, 5.0, math.inf)))
    for amount in (0.0, 1.0, 1.5, 5.0, 7.0, math.inf, math.nan):
        observe(amount)
    assert [bucket.get() for bucket in buckets] == [2.0, 2.0, 2.0]  # NaN in none, +Inf in the last
    assert math.isnan(total.get())
    assert lock.acquisitions == 2 + 7
    assert lock.holder is None


def test_most_recent_gauge_in_multiprocess_mode_keeps_the_public_set() -> None:
    child = public_methods()
    child._value = SimpleNamespace(set=lambda amount: None, _multiprocess=True)
    child._is_most_recent = True
    assert gauge_writer(child) == child.set  # the timestamp matters across workers
    child._is_most_recent = False
    assert gauge_writer(child) == child._value.set


# -- multiprocess mode -----------------------------------------------------------------------------------------
def multiprocess_exposition(directory: Path, mode: str) -> dict[str, list[str]]:
    """Each metric family's lines, by family: the order of the families follows the worker's file names."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "SYNAPSEKIT_STRICT": "1"}
    done = subprocess.run(
        [sys.executable, __file__, mode], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    families: dict[str, list[str]] = {}
    family: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith("# HELP "):
            family = families.setdefault(line.split()[2], [])
        family.append(line)
    return families


def test_multiprocess_mode_exposes_the_same_either_way(tmp_path: Path) -> None:
    (tmp_path / "fast").mkdir()
    (tmp_path / "public").mkdir()
    fast = multiprocess_exposition(tmp_path / "fast", "fast")
    public = multiprocess_exposition(tmp_path / "public", "public")
    assert fast == public
    latency = fast["synapsekit_latency_seconds"]
    assert 'synapsekit_latency_seconds_bucket{le="0.005",model="fast-model",provider="acme"} 3.0' in latency
    remaining = fast["synapsekit_budget_remaining_usd"]
    assert 'synapsekit_budget_remaining_usd{budget="team-a",window="day"} 7.25' in remaining


def test_multiprocess_mode_writes_each_mmap_value_through_its_own_inc(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "SYNAPSEKIT_STRICT": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "mmap-writes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    incs = [
        "NaN" if isinstance(amount, float) and math.isnan(amount) else amount for amount in counts["incs"]
    ]
    # Per call, in order: the ok request, the latency's sum and bucket, the first chunk's sum and bucket, the
    # input, output and total tokens, the cost; then NaN (its sum only) and record_llm's four series.
    assert counts["first"] == 2 * 9
    assert incs == [
        *(1, 0.25, 1, 0.5, 1, 3, 4, 7, 2.5),
        *(1, 10.5, 1, 0.5, 1, 3, 4, 7, 2.5),
        *(1, "NaN", 3, 4, 7, 2.5),
        *(1, 0.25, 1, 7.0, 0.5),
    ]
    assert counts["acquisitions"] == 0  # the one lock is for per-process values only


def _multiprocess_worker(mode: str) -> None:
    """Records the known calls in this process (multiprocess mode) and prints what a scrape sees."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise SystemExit("PROMETHEUS_MULTIPROC_DIR must be set")
    set_prices()
    with pytest.MonkeyPatch.context() as patch:
        if mode == "public":
            hide_private_attributes(patch)
        prom = PrometheusMetrics(max_label_values=3)
        record_known_calls(prom)
    if mode == "fast":  # the per-value writers are in use, on the multiprocess values; the one lock is not
        series = prom._call_series[(MODEL, PROVIDER)]
        assert_writes_each_mmap_value(series)
    sys.stdout.write(prom.expose().decode())


def assert_writes_each_mmap_value(series: Any) -> None:
    """The series writes each multiprocess value through its own inc, never through the one-lock record."""
    for slot in VALUE_SLOTS:
        assert getattr(series, slot) is None, slot
    for slot in ("requests_ok", "tokens", "tokens_input", "tokens_output", "cost"):
        assert type(getattr(getattr(series, slot), "__self__", None)).__name__ == "MmapedValue", slot
    for slot in ("latency", "time_to_first_chunk"):
        observe = getattr(series, slot)
        assert type(observe.__self__).__name__ == "_BucketedWrite", slot
        assert type(observe.__self__._sum_inc.__self__).__name__ == "MmapedValue", slot


def _count_mmap_writes() -> None:
    """Records calls in multiprocess mode, counting the writes into mmap values; prints the counts as JSON."""
    from prometheus_client import values

    set_prices()
    incs: list[float] = []
    original_inc = values.ValueClass.inc

    def counted_inc(self: Any, amount: float) -> None:
        incs.append(amount)
        original_inc(self, amount)

    prom = PrometheusMetrics()
    lock = prom._write_lock = CountingLock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(values.ValueClass, "inc", counted_inc)
        for latency in (0.25, 10.5):  # ok, latency (sum + bucket), ttfc (sum + bucket), 3 token series, cost
            prom.on_call_end(finished_call(latency_s=latency, first_chunk_s=0.5))
        first = len(incs)
        prom.on_call_end(finished_call(latency_s=math.nan, first_chunk_s=None))  # NaN: the sum only
        prom.record_llm(model=MODEL, provider=PROVIDER, cost_usd=0.5, total_tokens=7, latency_ms=250.0)
        series = prom._call_series[(MODEL, PROVIDER)]
        assert_writes_each_mmap_value(series)
    print(json.dumps({"first": first, "incs": incs, "acquisitions": lock.acquisitions}))


if __name__ == "__main__":
    if sys.argv[1] == "mmap-writes":
        _count_mmap_writes()
    else:
        _multiprocess_worker(sys.argv[1])


# -- budget events ---------------------------------------------------------------------------------------------
def settled_event(
    name: str | None,
    amount: float | None,
    remaining: float | None,
    window: str = "day",
    kind: str = "settled",
) -> BudgetEvent:
    return BudgetEvent(
        kind=kind,
        budget_name=name,  # type: ignore[arg-type]
        window=window,
        bucket="2025-01-01",
        spent_usd=0.0,
        reserved_usd=0.0,
        limit_usd=None if remaining is None else 5.0,
        remaining_usd=remaining,
        spent_tokens=0,
        limit_tokens=None,
        amount_usd=amount,
        provider=PROVIDER,
        model=MODEL,
    )


KNOWN_BUDGET_EVENTS = [
    settled_event("team-a", 0.25, 4.75),
    settled_event("team-a", 0.5, 4.25),
    settled_event("team-a", 0.0, 4.25),  # nothing spent: the counter is not written
    settled_event("team-a", None, None),
    settled_event("team-a", 1.0, None, kind="rejected"),
    settled_event("team-a", 0.125, 3.0, window="month"),  # same counter, another gauge
    settled_event("tokens-only", 0.75, None),  # spent, no cost limit: no gauge
    settled_event(" team-a ", 0.125, 2.5),  # the same label, another raw name
    settled_event("team-b", math.nan, 1.0),  # NaN: added by the public inc, as always
    settled_event("team-c", 0.25, math.inf),
    settled_event("team-d", 0.25, 0.0),  # past the label limit: "other"
    settled_event(None, 0.5, 0.5),
]


def record_known_budget_events(prom: PrometheusMetrics) -> None:
    for event in KNOWN_BUDGET_EVENTS:
        prom.on_budget_event(event)


def test_budget_events_expose_exactly_what_the_public_methods_do(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = PrometheusMetrics(max_label_values=4)
    record_known_budget_events(fast)
    with monkeypatch.context() as patch:
        hide_private_attributes(patch)
        public = PrometheusMetrics(max_label_values=4)
        record_known_budget_events(public)
    expected = exposition_without_created(public)
    assert exposition_without_created(fast) == expected
    text = "\n".join(expected)
    for sample in (
        'synapsekit_budget_spent_usd_total{budget="team-a"} 1.0',
        'synapsekit_budget_spent_usd_total{budget="tokens-only"} 0.75',
        'synapsekit_budget_spent_usd_total{budget="team-b"} NaN',
        'synapsekit_budget_spent_usd_total{budget="other"} 0.75',
        'synapsekit_budget_remaining_usd{budget="team-a",window="day"} 2.5',
        'synapsekit_budget_remaining_usd{budget="team-a",window="month"} 3.0',
        'synapsekit_budget_remaining_usd{budget="team-c",window="day"} +Inf',
        'synapsekit_budget_rejections_total{budget="team-a"} 1.0',
    ):
        assert sample in text
    assert 'budget_remaining_usd{budget="tokens-only"' not in text


def test_a_negative_spent_amount_is_refused_by_the_public_inc(prom: PrometheusMetrics) -> None:
    prom.on_budget_event(settled_event("team-a", 0.25, 4.75))
    with pytest.raises(ValueError, match="Counters can only be incremented by non-negative amounts"):
        prom.on_budget_event(settled_event("team-a", -0.5, 1.0))
    # Refused before the gauge was set, as always.
    assert value(prom, "synapsekit_budget_spent_usd_total", budget="team-a") == 0.25
    assert value(prom, "synapsekit_budget_remaining_usd", budget="team-a", window="day") == 4.75


def test_budget_events_write_under_the_one_lock_once_their_series_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client.values import MutexValue

    prom = PrometheusMetrics()
    lock = prom._write_lock = CountingLock()
    refuse_value_inc(monkeypatch)

    def refused_set(self: Any, value: float, timestamp: float | None = None) -> None:
        raise AssertionError(f"MutexValue.set({value!r}) called")

    monkeypatch.setattr(MutexValue, "set", refused_set)
    prom.on_budget_event(settled_event("team-a", 0.25, 4.75))
    assert lock.acquisitions == 2  # each series' first write
    prom.on_budget_event(settled_event("team-a", 0.5, 4.25))
    assert lock.acquisitions == 3  # both in one block
    prom.on_budget_event(settled_event("team-a", 0.0, 4.0))
    assert lock.acquisitions == 4
    assert value(prom, "synapsekit_budget_spent_usd_total", budget="team-a") == 0.75
    assert value(prom, "synapsekit_budget_remaining_usd", budget="team-a", window="day") == 4.0
