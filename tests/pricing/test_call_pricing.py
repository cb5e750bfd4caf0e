"""A finished call's cost at a fixed price: the float total worked out in integers is exactly the float of the
Decimal cost, and the Decimal parts read from it are exactly :func:`compute_cost`'s.

Anything the integers could not reproduce exactly (counts compute_cost refuses, a numerator past the Decimal
precision, a narrower Decimal context, prices by tier or period) is compute_cost's own ``Cost``.
"""

from __future__ import annotations

import decimal
import warnings
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from synapsekit._core.call import MAX_PLAUSIBLE_TOKENS, start_call
from synapsekit._pricing import genai as _pricing_genai, prices as _pricing
from synapsekit._pricing.prices import (
    Cost,
    UnknownModelPriceWarning,
    clear_price_overrides,
    compute_cost,
    price_call,
    set_price,
)
from synapsekit._pricing.tables import FixedPriceCost


@pytest.fixture(autouse=True)
def _fresh_pricing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(_pricing.PRICES_FILE_ENV_VAR, raising=False)
    clear_price_overrides()
    yield
    _pricing_genai.use_bundled_snapshot()
    clear_price_overrides()


def priced(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached: int = 0,
    written: int = 0,
    reasoning: int = 0,
) -> tuple[FixedPriceCost | Cost | None, Cost | None]:
    """(price_call's cost, compute_cost's), the model's price resolved first as a call's would be."""
    expected = compute_cost(
        provider,
        model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        cache_creation_input_tokens=written,
        reasoning_tokens=reasoning,
    )
    return price_call(provider, model, input_tokens, output_tokens, cached, written, reasoning), expected


def assert_same(got: FixedPriceCost | Cost | None, expected: Cost | None) -> None:
    assert expected is not None and got is not None
    if type(got) is FixedPriceCost:
        assert got.usd == float(expected.total)
        assert type(got.usd) is float
    assert (got.input, got.output, got.total) == expected
    for ours, theirs in zip((got.input, got.output, got.total), expected, strict=True):
        # The same Decimals, exponent included (str shows it).
        assert str(ours) == str(theirs)


def test_known_models_to_the_nano_dollar() -> None:
    got, expected = priced("openai", "gpt-4o-mini", 5, 12)
    assert type(got) is FixedPriceCost
    assert got.usd == 0.00000795
    assert expected == Cost(Decimal("7.50E-7"), Decimal("0.00000720"), Decimal("0.00000795"))
    assert_same(got, expected)
    # Cached input at half price; reasoning within output.
    got, expected = priced("openai", "gpt-4o-mini", 1000, 10, cached=400, reasoning=4)
    assert type(got) is FixedPriceCost
    assert got.usd == 0.000126
    assert_same(got, expected)
    # Cache reads and writes at their own prices.
    got, expected = priced("anthropic", "claude-haiku-4-5", 1000, 100, cached=300, written=200)
    assert type(got) is FixedPriceCost
    assert got.usd == 0.00128
    assert_same(got, expected)
    # A per-request fee on a call without tokens.
    got, expected = priced("perplexity", "sonar", 0, 0)
    assert type(got) is FixedPriceCost
    assert got.usd == 0.012
    assert_same(got, expected)


def test_the_decimal_parts_are_computed_once_when_read() -> None:
    got, expected = priced("openai", "gpt-4o-mini", 5, 12)
    assert type(got) is FixedPriceCost
    assert got._cost is None
    assert got.total == expected.total  # type: ignore[union-attr]
    first = got._cost
    assert first == expected
    assert got.input == expected.input  # type: ignore[union-attr]
    assert got._cost is first
    assert repr(got) == f"FixedPriceCost({expected!r})"


def test_every_bundled_fixed_price_gives_the_decimal_costs_float() -> None:
    from genai_prices import data_snapshot

    counts = [
        (0, 0, 0, 0, 0),
        (1, 1, 0, 0, 0),
        (7_919, 313, 1_000, 2_000, 100),
        (10**9, 10**9, 10**8, 10**7, 10**9),
    ]
    checked = in_decimal = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            schedule = _pricing_genai.find_schedule(provider.id, [model.id])
            if schedule is None or schedule.cost_usd_rates is None:
                continue
            _pricing._resolved[(provider.id, model.id)] = schedule
            for input_tokens, output_tokens, cached, written, reasoning in counts:
                got, expected = priced(
                    provider.id, model.id, input_tokens, output_tokens, cached, written, reasoning
                )
                assert_same(got, expected)
                if type(got) is Cost:
                    # Only a price with more digits than the Decimal arithmetic keeps exact at these counts
                    # (data such as 0.18000000000000002 per million).
                    assert input_tokens >= 7_919, (provider.id, model.id)
                    in_decimal += 1
            checked += 1
    assert checked > 100
    assert in_decimal < checked // 10


@settings(max_examples=120, deadline=None)
@given(
    input_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    output_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    cached_mtok=st.none() | st.decimals(min_value=0, max_value=200, places=5),
    write_mtok=st.none() | st.decimals(min_value=0, max_value=200, places=4),
    input_tokens=st.integers(0, MAX_PLAUSIBLE_TOKENS),
    output_tokens=st.integers(0, MAX_PLAUSIBLE_TOKENS),
    shares=st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0, 1)),
)
def test_the_float_total_is_the_decimal_totals_float(
    input_mtok: Decimal,
    output_mtok: Decimal,
    cached_mtok: Decimal | None,
    write_mtok: Decimal | None,
    input_tokens: int,
    output_tokens: int,
    shares: tuple[float, float, float],
) -> None:
    set_price(
        "odd-model",
        input_per_mtok=input_mtok,
        output_per_mtok=output_mtok,
        cached_input_per_mtok=cached_mtok,
        cache_write_per_mtok=write_mtok,
    )
    cached, written = int(input_tokens * shares[0]), int(input_tokens * shares[1])
    reasoning = int(output_tokens * shares[2])
    got, expected = priced("openai", "odd-model", input_tokens, output_tokens, cached, written, reasoning)
    assert type(got) is FixedPriceCost
    assert_same(got, expected)


def test_a_numerator_past_the_decimal_precision_is_priced_in_decimal() -> None:
    # A price with 24 significant digits: times a billion tokens, the Decimal arithmetic rounds.
    set_price("long-price", input_per_mtok=Decimal("1.23456789012345678901234"), output_per_mtok=1)
    got, expected = priced("openai", "long-price", 10**9, 0)
    assert type(got) is Cost
    assert got == expected
    # Few tokens: exact in integers.
    got, expected = priced("openai", "long-price", 3, 0)
    assert type(got) is FixedPriceCost
    assert_same(got, expected)


def test_a_narrower_decimal_context_is_priced_in_decimal() -> None:
    set_price("m", input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.6"))
    with decimal.localcontext(prec=4):
        got, expected = priced("openai", "m", 123_457, 98_765)
        assert type(got) is Cost
        assert got == expected
        assert expected is not None and expected.total == Decimal("0.07778")  # rounded to 4 digits


def test_counts_compute_cost_refuses_are_refused_the_same_way() -> None:
    priced("openai", "gpt-4o-mini", 1, 1)
    with pytest.raises(ValueError, match="exceed input_tokens"):
        price_call("openai", "gpt-4o-mini", 10, 5, 8, 4, 0)
    with pytest.raises(ValueError, match="reasoning_tokens"):
        price_call("openai", "gpt-4o-mini", 10, 5, 0, 0, 6)
    with pytest.raises(ValueError, match="must be >= 0"):
        price_call("openai", "gpt-4o-mini", 10, 5, -1, 0, 0)
    with pytest.raises(ValueError, match="must be >= 0"):
        price_call("openai", "gpt-4o-mini", -3, 5, 0, 0, 0)


def test_non_integer_counts_are_compute_costs_business() -> None:
    priced("openai", "gpt-4o-mini", 1, 1)
    # A float count: compute_cost's Decimal arithmetic refuses it (TypeError), as before.
    with pytest.raises(TypeError):
        price_call("openai", "gpt-4o-mini", 5.0, 12, 0, 0, 0)  # type: ignore[arg-type]


def test_tiered_prices_and_unknown_models() -> None:
    got, expected = priced("google", "gemini-2.5-pro", 300_000, 1_000)
    assert type(got) is Cost
    assert got == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelPriceWarning)
        assert price_call("openai", "no-such-model-xyz", 1, 1, 0, 0, 0) is None


def test_a_calls_cost_reads_the_same_either_way() -> None:
    # Priced once first: the model's first pricing resolves its price through compute_cost.
    expected = compute_cost(
        "openai", "gpt-4o-mini", input_tokens=1000, output_tokens=10, cached_input_tokens=400
    )
    assert expected is not None
    call = start_call("openai", "chat", "gpt-4o-mini")
    call.record_usage(input_tokens=1000, output_tokens=10, cached_input_tokens=400)
    call.finish()
    assert call.cost == expected.total
    assert str(call.cost) == str(expected.total)
    assert (call.input_cost, call.output_cost) == (expected.input, expected.output)
    assert type(call._cost) is FixedPriceCost
    assert call._cost.usd == float(expected.total)
