"""PrometheusMetrics' direct writes into prometheus-client's value objects, against its public methods.

The same known calls are recorded twice: once through the direct writers, once with every labelled child
hidden behind a proxy that has only the public ``inc``/``observe``/``set`` (as a prometheus-client with a
different internal layout would look), which makes every writer fall back to them. The two expositions must
be identical, ``_created`` timestamps aside; bucket counts, thread safety and multiprocess mode are checked
exactly.

Run as a script (``python test_prometheus_fast_path.py fast|public``) with ``PROMETHEUS_MULTIPROC_DIR`` set,
it records the known calls in that mode and prints the multiprocess exposition.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from synapsekit._budget._events import BudgetEvent
from synapsekit._call import LLMCall, start_call
from synapsekit._pricing import UnknownModelPriceWarning, clear_price_overrides, set_price
from synapsekit.observability import _prometheus
from synapsekit.observability._prometheus import PrometheusMetrics
from synapsekit.observability._prometheus_instruments import (
    counter_writer,
    gauge_writer,
    histogram_writer,
)

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


def hide_private_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every child PrometheusMetrics resolves from now on is a :class:`PublicOnly` proxy."""
    resolve = _prometheus._Children.get

    def public_only(self: Any, *values: str) -> PublicOnly:
        return PublicOnly(resolve(self, *values))

    monkeypatch.setattr(_prometheus._Children, "get", public_only)


@pytest.fixture(params=["fast", "public"])
def prom(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrometheusMetrics]:
    """A PrometheusMetrics recording through the direct writers, or through the public methods."""
    if request.param == "public":
        hide_private_attributes(monkeypatch)
    metrics = PrometheusMetrics()
    yield metrics
    metrics.close()


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
    span_attributes = {
        "gen_ai.request.model": MODEL,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.usage.cost": 0.5,
    }
    prom.record_span(
        SimpleNamespace(name="llm.generate", attributes=span_attributes, duration_ms=7500.0, status="ok")
    )
    prom.record_span(
        SimpleNamespace(name="llm.generate", attributes=span_attributes, duration_ms=1.0, status="error")
    )
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


def value(prom: PrometheusMetrics, name: str, **labels: str) -> float | None:
    assert prom.registry is not None
    return prom.registry.get_sample_value(name, labels)


# -- the same exposition either way --------------------------------------------------------------------------
def test_direct_writes_expose_exactly_what_the_public_methods_do(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = PrometheusMetrics(max_label_values=3)
    record_known_calls(fast)
    with monkeypatch.context() as patch:
        hide_private_attributes(patch)
        public = PrometheusMetrics(max_label_values=3)
        record_known_calls(public)
    expected = exposition_without_created(public)
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
    if mode == "fast":  # the direct writers are in use, on the multiprocess values
        series = prom._call_series[(MODEL, PROVIDER)]
        assert type(getattr(series.requests_ok, "__self__", None)).__name__ == "MmapedValue"
    sys.stdout.write(prom.expose().decode())


if __name__ == "__main__":
    _multiprocess_worker(sys.argv[1])
