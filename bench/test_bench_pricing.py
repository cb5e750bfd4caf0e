"""Pricing overhead: the per-call path against inline arithmetic, the first lookup against genai-prices.

Run: ``uv run --frozen pytest bench/test_bench_pricing.py --benchmark-enable``. Each group pairs a
baseline with synapsekit's code so the two sit side by side in the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from synapsekit._pricing.prices import Cost, clear_price_cache, clear_price_overrides, compute_cost

GPT_4O_MINI = ("openai", "gpt-4o-mini")
SONNET = ("anthropic", "claude-sonnet-4-5-20250929")
AT = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

# Literal per-token prices, as code that hard-codes its price table would have them.
_MINI_INPUT = Decimal("0.00000015")
_MINI_CACHED = Decimal("0.000000075")
_MINI_OUTPUT = Decimal("0.0000006")
_SONNET_INPUT = Decimal("0.000003")
_SONNET_CACHED = Decimal("0.0000003")
_SONNET_WRITE = Decimal("0.00000375")
_SONNET_OUTPUT = Decimal("0.000015")


@pytest.fixture(autouse=True)
def _warm_pricing() -> Iterator[None]:
    clear_price_overrides()
    # Import genai-prices and load its data outside the measurement.
    compute_cost(*GPT_4O_MINI, input_tokens=1, output_tokens=1)
    yield
    clear_price_overrides()


def _inline_mini(input_tokens: int, output_tokens: int, cached: int) -> Cost:
    input_cost = _MINI_INPUT * (input_tokens - cached) + _MINI_CACHED * cached
    output_cost = _MINI_OUTPUT * output_tokens
    return Cost(input=input_cost, output=output_cost, total=input_cost + output_cost)


def _inline_sonnet(input_tokens: int, output_tokens: int, cached: int, written: int) -> Cost:
    input_cost = _SONNET_INPUT * (input_tokens - cached - written) + _SONNET_CACHED * cached
    input_cost += _SONNET_WRITE * written
    output_cost = _SONNET_OUTPUT * output_tokens
    return Cost(input=input_cost, output=output_cost, total=input_cost + output_cost)


@pytest.mark.benchmark(group="pricing per call: gpt-4o-mini with cache read")
def test_per_call_baseline_inline_decimal(benchmark: BenchmarkFixture) -> None:
    cost = benchmark(_inline_mini, 1200, 350, 400)
    assert cost.total == Decimal("0.00036")


@pytest.mark.benchmark(group="pricing per call: gpt-4o-mini with cache read")
def test_per_call_compute_cost_cached_prices(benchmark: BenchmarkFixture) -> None:
    def run() -> Cost | None:
        return compute_cost(*GPT_4O_MINI, input_tokens=1200, output_tokens=350, cached_input_tokens=400)

    assert benchmark(run) == _inline_mini(1200, 350, 400)


@pytest.mark.benchmark(group="pricing per call: claude-sonnet-4-5 tiered, cache read+write")
def test_per_call_tiered_baseline_inline_decimal(benchmark: BenchmarkFixture) -> None:
    cost = benchmark(_inline_sonnet, 10_000, 800, 6000, 2000)
    assert cost.total == Decimal("0.0273")


@pytest.mark.benchmark(group="pricing per call: claude-sonnet-4-5 tiered, cache read+write")
def test_per_call_tiered_compute_cost_cached_prices(benchmark: BenchmarkFixture) -> None:
    def run() -> Cost | None:
        return compute_cost(
            *SONNET,
            input_tokens=10_000,
            output_tokens=800,
            cached_input_tokens=6000,
            cache_creation_input_tokens=2000,
        )

    assert benchmark(run) == _inline_sonnet(10_000, 800, 6000, 2000)


@pytest.mark.benchmark(group="pricing first lookup: claude-sonnet-4-5 dated name")
def test_first_lookup_baseline_genai_prices_calc_price(benchmark: BenchmarkFixture) -> None:
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=10_000, output_tokens=800, cache_read_tokens=6000, cache_write_tokens=2000)

    def run() -> Decimal:
        return calc_price(usage, SONNET[1], provider_id=SONNET[0], genai_request_timestamp=AT).total_price

    assert benchmark(run) == Decimal("0.0273")


@pytest.mark.benchmark(group="pricing first lookup: claude-sonnet-4-5 dated name")
def test_first_lookup_compute_cost_cache_cleared(benchmark: BenchmarkFixture) -> None:
    def run() -> Cost | None:
        return compute_cost(
            *SONNET,
            input_tokens=10_000,
            output_tokens=800,
            cached_input_tokens=6000,
            cache_creation_input_tokens=2000,
            at=AT,
        )

    # pytest-benchmark leaves pedantic() unannotated.
    cost = benchmark.pedantic(  # type: ignore[no-untyped-call]
        run, setup=clear_price_cache, rounds=2000, iterations=1, warmup_rounds=10
    )
    assert cost is not None
    assert cost.total == Decimal("0.0273")
