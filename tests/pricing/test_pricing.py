"""Pricing: exact costs, model-name normalisation, overrides, unknown models, agreement with genai-prices."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from synapsekit._core.call import MAX_PLAUSIBLE_TOKENS
from synapsekit._pricing import genai as _pricing_genai, prices as _pricing
from synapsekit._pricing.names import model_name_candidates, split_router_prefix
from synapsekit._pricing.prices import (
    Cost,
    UnitPrices,
    UnknownModelPriceWarning,
    clear_price_cache,
    clear_price_overrides,
    compute_cost,
    estimate_max_cost,
    estimate_max_cost_nano,
    load_prices,
    lookup_unit_prices,
    normalize_model_name,
    pricing_source,
    refresh_prices,
    set_price,
    unknown_models,
)
from synapsekit._pricing.tables import cost_to_nano, nano_cost

TOLERANCE = Decimal("1e-9")
AFTER_O3_PRICE_CUT = datetime(2025, 7, 1, 12, 0, tzinfo=timezone.utc)
BEFORE_O3_PRICE_CUT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_pricing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(_pricing.PRICES_FILE_ENV_VAR, raising=False)
    clear_price_overrides()
    yield
    _pricing_genai.use_bundled_snapshot()
    clear_price_overrides()


def usd(value: str) -> Decimal:
    return Decimal(value)


def assert_cost(cost: Cost | None, *, input: str, output: str, total: str) -> None:
    assert cost is not None
    assert abs(cost.input - usd(input)) <= TOLERANCE
    assert abs(cost.output - usd(output)) <= TOLERANCE
    assert abs(cost.total - usd(total)) <= TOLERANCE
    # The arithmetic is exact, so the tolerance is only a safeguard; the values are equal.
    assert (cost.input, cost.output, cost.total) == (usd(input), usd(output), usd(total))


# --- exact costs from the packaged data -----------------------------------------------------------


def test_openai_gpt_4o_mini_chat_call() -> None:
    # $0.15 / $0.60 per 1M: 1000 * 0.15e-6 = 0.00015, 500 * 0.6e-6 = 0.0003
    cost = compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=500)
    assert_cost(cost, input="0.00015", output="0.0003", total="0.00045")


def test_cached_input_tokens_use_the_cache_read_price() -> None:
    # 500 uncached * 0.15e-6 + 1500 cached * 0.075e-6 = 0.000075 + 0.0001125
    cost = compute_cost(
        "openai", "gpt-4o-mini", input_tokens=2000, output_tokens=100, cached_input_tokens=1500
    )
    assert_cost(cost, input="0.0001875", output="0.00006", total="0.0002475")


def test_reasoning_model_bills_reasoning_tokens_inside_output() -> None:
    # o4-mini $1.10 / $4.40: reasoning tokens are part of output_tokens and not billed twice
    cost = compute_cost("openai", "o4-mini", input_tokens=1200, output_tokens=3000, reasoning_tokens=2500)
    assert_cost(cost, input="0.00132", output="0.0132", total="0.01452")


def test_o3_price_depends_on_the_call_date() -> None:
    # o3 was $10 / $40 until 2025-06-10, then $2 / $8
    tokens = {"input_tokens": 1000, "output_tokens": 2000, "reasoning_tokens": 1500}
    before = compute_cost("openai", "o3", **tokens, at=BEFORE_O3_PRICE_CUT)
    after = compute_cost("openai", "o3", **tokens, at=AFTER_O3_PRICE_CUT)
    assert_cost(before, input="0.01", output="0.08", total="0.09")
    assert_cost(after, input="0.002", output="0.016", total="0.018")


def test_anthropic_cache_read_and_cache_write() -> None:
    # claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per 1M.
    # 10000 input = 2000 plain (0.006) + 6000 read (0.0018) + 2000 written (0.0075)
    cost = compute_cost(
        "anthropic",
        "claude-sonnet-4-5",
        input_tokens=10_000,
        output_tokens=800,
        cached_input_tokens=6000,
        cache_creation_input_tokens=2000,
    )
    assert_cost(cost, input="0.0153", output="0.012", total="0.0273")


def test_anthropic_long_prompt_tier_reprices_the_whole_call() -> None:
    # Above 200k input tokens: $6 input, $0.60 read, $7.50 write, $22.50 output for every token.
    cost = compute_cost(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        input_tokens=250_000,
        output_tokens=1000,
        cached_input_tokens=100_000,
        cache_creation_input_tokens=50_000,
    )
    # 100000 * 6e-6 + 100000 * 0.6e-6 + 50000 * 7.5e-6 = 0.6 + 0.06 + 0.375
    assert_cost(cost, input="1.035", output="0.0225", total="1.0575")
    at_threshold = compute_cost("anthropic", "claude-sonnet-4-5", input_tokens=200_000, output_tokens=0)
    assert_cost(at_threshold, input="0.6", output="0", total="0.6")


def test_openrouter_prefixed_name_uses_openrouter_prices() -> None:
    cost = compute_cost("openrouter", "openai/gpt-4o-mini", input_tokens=1000, output_tokens=500)
    assert_cost(cost, input="0.00015", output="0.0003", total="0.00045")
    prices = lookup_unit_prices("openrouter", "openai/gpt-4o-mini")
    assert prices is not None
    assert prices.source == f"genai-prices {version('genai-prices')}: openrouter/openai/gpt-4o-mini"


def test_openrouter_falls_back_to_the_upstream_provider() -> None:
    # genai-prices' openrouter list has no davinci-002; OpenAI prices it at $2 / $2.
    prices = lookup_unit_prices("openrouter", "openai/davinci-002")
    assert prices is not None
    assert prices.source.endswith(": openai/davinci-002")
    cost = compute_cost("openrouter", "openai/davinci-002", input_tokens=1000, output_tokens=1000)
    assert_cost(cost, input="0.002", output="0.002", total="0.004")


def test_router_variant_suffix_is_stripped() -> None:
    cost = compute_cost("openrouter", "openai/gpt-4o-mini:free", input_tokens=1000, output_tokens=500)
    assert_cost(cost, input="0.00015", output="0.0003", total="0.00045")


def test_free_model_in_the_data_costs_zero() -> None:
    cost = compute_cost(
        "openrouter", "meta-llama/llama-3.3-70b-instruct:free", input_tokens=1000, output_tokens=500
    )
    assert_cost(cost, input="0", output="0", total="0")


@pytest.mark.parametrize(
    ("provider", "dated", "plain"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "o4-mini-2025-04-16", "o4-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
    ],
)
def test_dated_response_model_names_price_like_the_plain_name(provider: str, dated: str, plain: str) -> None:
    dated_cost = compute_cost(
        provider, dated, input_tokens=12_345, output_tokens=678, cached_input_tokens=1000
    )
    plain_cost = compute_cost(
        provider, plain, input_tokens=12_345, output_tokens=678, cached_input_tokens=1000
    )
    assert dated_cost is not None
    assert dated_cost == plain_cost


def test_a_dated_snapshot_with_its_own_price_keeps_it() -> None:
    # gpt-4o-2024-05-13 costs $5 / $15, twice gpt-4o: the exact name must win over the normalised one.
    cost = compute_cost("openai", "gpt-4o-2024-05-13", input_tokens=1000, output_tokens=1000)
    assert_cost(cost, input="0.005", output="0.015", total="0.02")
    plain = compute_cost("openai", "gpt-4o", input_tokens=1000, output_tokens=1000)
    assert_cost(plain, input="0.0025", output="0.01", total="0.0125")


def test_provider_aliases_and_fallbacks() -> None:
    # "xai" is genai-prices' "x-ai"; grok-4 resolves to grok-4-0709 at $3 / $15.
    assert_cost(
        compute_cost("xai", "grok-4", input_tokens=1000, output_tokens=100),
        input="0.003",
        output="0.0015",
        total="0.0045",
    )
    # Provider names are case-insensitive.
    assert compute_cost("OpenAI", "GPT-4o-mini", input_tokens=10, output_tokens=10) == compute_cost(
        "openai", "gpt-4o-mini", input_tokens=10, output_tokens=10
    )


def test_deepseek_off_peak_price_follows_the_time_of_day() -> None:
    # deepseek-chat: $0.27 / $1.10 between 00:30 and 16:30 UTC, $0.135 / $0.55 otherwise.
    peak = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    off_peak = datetime(2026, 3, 2, 20, 0, tzinfo=timezone.utc)
    tokens = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    assert_cost(
        compute_cost("deepseek", "deepseek-chat", **tokens, at=peak), input="0.27", output="1.1", total="1.37"
    )
    assert_cost(
        compute_cost("deepseek", "deepseek-chat", **tokens, at=off_peak),
        input="0.135",
        output="0.55",
        total="0.685",
    )


def test_per_request_fee_is_part_of_the_total() -> None:
    # perplexity sonar: $1 / $1 per 1M tokens plus $12 per 1000 requests.
    cost = compute_cost("perplexity", "sonar", input_tokens=1000, output_tokens=1000)
    assert_cost(cost, input="0.001", output="0.001", total="0.014")


def test_separately_priced_reasoning_tokens() -> None:
    # sonar-deep-research: $8 output, $3 reasoning per 1M.
    cost = compute_cost(
        "perplexity", "sonar-deep-research", input_tokens=0, output_tokens=3000, reasoning_tokens=2000
    )
    assert_cost(cost, input="0", output="0.014", total="0.014")


def test_synapsekit_offline_demo_price() -> None:
    cost = compute_cost(
        "synapsekit",
        "synapsekit-offline",
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cached_input_tokens=400_000,
    )
    # 600000 * 0.15e-6 + 400000 * 0.075e-6 = 0.09 + 0.03
    assert_cost(cost, input="0.12", output="0.6", total="0.72")
    prices = lookup_unit_prices("synapsekit", "synapsekit-offline")
    assert prices == UnitPrices(
        input=usd("0.00000015"),
        output=usd("0.0000006"),
        cached_input=usd("0.000000075"),
        cache_write=usd("0.00000015"),
        reasoning=usd("0.0000006"),
        request=usd("0"),
        source="synapsekit built-in demo price (made up)",
    )


def test_lookup_unit_prices_per_token_and_tier() -> None:
    base = lookup_unit_prices("anthropic", "claude-sonnet-4-5")
    long_prompt = lookup_unit_prices("anthropic", "claude-sonnet-4-5", input_tokens=200_001)
    assert base is not None
    assert long_prompt is not None
    assert (base.input, base.output, base.cached_input, base.cache_write) == (
        usd("0.000003"),
        usd("0.000015"),
        usd("0.0000003"),
        usd("0.00000375"),
    )
    assert (long_prompt.input, long_prompt.output, long_prompt.cached_input, long_prompt.cache_write) == (
        usd("0.000006"),
        usd("0.0000225"),
        usd("0.0000006"),
        usd("0.0000075"),
    )


def test_estimate_max_cost_assumes_no_cache_discount() -> None:
    # gpt-4o-mini: 1000 * 0.15e-6 + 4096 * 0.6e-6
    assert estimate_max_cost("openai", "gpt-4o-mini", input_tokens=1000, max_output_tokens=4096) == usd(
        "0.0026076"
    )
    # Anthropic cache writes ($3.75) cost more than plain input ($3): the bound uses the dearer rate.
    bound = estimate_max_cost("anthropic", "claude-sonnet-4-5", input_tokens=1000, max_output_tokens=1000)
    assert bound == usd("0.01875")
    actual = compute_cost(
        "anthropic",
        "claude-sonnet-4-5",
        input_tokens=1000,
        output_tokens=1000,
        cache_creation_input_tokens=1000,
    )
    assert actual is not None
    assert actual.total <= bound
    assert estimate_max_cost("perplexity", "sonar", input_tokens=0, max_output_tokens=0) == usd("0.012")


# --- agreement with genai-prices' own calculation -------------------------------------------------


def genai_calc(
    provider: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached: int = 0,
    written: int = 0,
    reasoning: int = 0,
    at: datetime,
) -> tuple[Decimal, Decimal, Decimal]:
    from genai_prices import Usage, calc_price

    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_reasoning_tokens=reasoning,
    )
    result = calc_price(usage, model, provider_id=provider, genai_request_timestamp=at)
    return result.input_price, result.output_price, result.total_price


@pytest.mark.parametrize(
    ("provider", "model", "cached", "written", "reasoning"),
    [
        ("openai", "gpt-4o-mini", 700, 0, 0),
        ("openai", "o3", 300, 0, 900),
        ("anthropic", "claude-sonnet-4-5", 400, 250, 0),
        ("google", "gemini-2.5-pro", 1000, 0, 500),
        ("groq", "llama-3.3-70b-versatile", 0, 0, 0),
        ("deepseek", "deepseek-reasoner", 100, 0, 1200),
        ("perplexity", "sonar-deep-research", 0, 0, 1500),
        ("perplexity", "sonar", 0, 0, 0),
        ("openrouter", "anthropic/claude-sonnet-4.5", 500, 100, 0),
    ],
)
def test_fast_path_matches_genai_prices_calc_price(
    provider: str, model: str, cached: int, written: int, reasoning: int
) -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    for input_tokens in (5000, 250_000):
        cost = compute_cost(
            provider,
            model,
            input_tokens=input_tokens,
            output_tokens=2000,
            cached_input_tokens=cached,
            cache_creation_input_tokens=written,
            reasoning_tokens=reasoning,
            at=at,
        )
        expected = genai_calc(
            provider,
            model,
            input_tokens=input_tokens,
            output_tokens=2000,
            cached=cached,
            written=written,
            reasoning=reasoning,
            at=at,
        )
        assert cost is not None
        assert abs(cost.input - expected[0]) <= TOLERANCE
        assert abs(cost.output - expected[1]) <= TOLERANCE
        assert abs(cost.total - expected[2]) <= TOLERANCE


@settings(max_examples=60, deadline=None)
@given(
    input_tokens=st.integers(0, 600_000),
    output_tokens=st.integers(0, 64_000),
    cached_share=st.floats(0, 1),
    written_share=st.floats(0, 1),
    reasoning_share=st.floats(0, 1),
    hour=st.integers(0, 23),
)
def test_any_token_split_matches_genai_prices(
    input_tokens: int,
    output_tokens: int,
    cached_share: float,
    written_share: float,
    reasoning_share: float,
    hour: int,
) -> None:
    cached = int(input_tokens * cached_share)
    written = int((input_tokens - cached) * written_share)
    reasoning = int(output_tokens * reasoning_share)
    at = datetime(2026, 3, 2, hour, 0, tzinfo=timezone.utc)
    for provider, model in (("anthropic", "claude-sonnet-4-5"), ("deepseek", "deepseek-chat")):
        cost = compute_cost(
            provider,
            model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            cache_creation_input_tokens=written,
            reasoning_tokens=reasoning,
            at=at,
        )
        expected = genai_calc(
            provider,
            model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached=cached,
            written=written,
            reasoning=reasoning,
            at=at,
        )
        assert cost is not None
        assert abs(cost.total - expected[2]) <= TOLERANCE
        assert abs(cost.input - expected[0]) <= TOLERANCE


# --- model names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("gpt-4-0613", "gpt-4"),
        ("openai/gpt-4o", "gpt-4o"),
        ("meta-llama/llama-3.3-70b-instruct:free", "llama-3.3-70b-instruct"),
        ("  OpenAI/GPT-4o-Mini-2024-07-18:free ", "gpt-4o-mini"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("llama3:70b", "llama3:70b"),
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_normalize_model_name(raw: str, normalised: str) -> None:
    assert normalize_model_name(raw) == normalised


def test_model_name_candidates_try_the_exact_name_first() -> None:
    assert model_name_candidates("openai/gpt-4o-2024-05-13:free") == (
        "openai/gpt-4o-2024-05-13:free",
        "openai/gpt-4o-2024-05-13",
        "openai/gpt-4o",
        "gpt-4o-2024-05-13",
        "gpt-4o",
    )
    assert model_name_candidates("gpt-4o") == ("gpt-4o",)
    assert split_router_prefix("openai/gpt-4o:free") == ("openai", "gpt-4o")
    assert split_router_prefix("gpt-4o") is None
    assert split_router_prefix("/gpt-4o") is None


# --- user prices ----------------------------------------------------------------------------------


def test_set_price_wins_over_package_data() -> None:
    set_price("gpt-4o-mini", input_per_mtok=1, output_per_mtok=2, cached_input_per_mtok="0.5")
    cost = compute_cost(
        "openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000, cached_input_tokens=400
    )
    # 600 * 1e-6 + 400 * 0.5e-6 = 0.0008
    assert_cost(cost, input="0.0008", output="0.002", total="0.0028")
    # The override applies to dated names and any provider, since provider=None.
    assert compute_cost("azure", "gpt-4o-mini-2024-07-18", input_tokens=1000, output_tokens=0) == Cost(
        input=usd("0.001"), output=usd("0"), total=usd("0.001")
    )
    prices = lookup_unit_prices("openai", "gpt-4o-mini")
    assert prices is not None
    assert prices.source == "user price (set_price)"


def test_set_price_for_one_provider_only() -> None:
    set_price("gpt-4o-mini", input_per_mtok=10, output_per_mtok=10, provider="azure")
    azure = compute_cost("azure", "gpt-4o-mini", input_tokens=1000, output_tokens=0)
    openai = compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=0)
    assert_cost(azure, input="0.01", output="0", total="0.01")
    assert_cost(openai, input="0.00015", output="0", total="0.00015")


def test_set_price_after_a_lookup_replaces_the_cached_price() -> None:
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=0),
        input="0.00015",
        output="0",
        total="0.00015",
    )
    set_price("gpt-4o-mini", input_per_mtok=0.1, output_per_mtok=0.2, provider="openai")
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=0),
        input="0.0001",
        output="0",
        total="0.0001",
    )


def test_wildcard_price_for_a_local_provider() -> None:
    set_price("*", input_per_mtok=0, output_per_mtok=0, provider="ollama")
    assert compute_cost("ollama", "llama3:70b", input_tokens=100, output_tokens=100) == Cost(
        input=usd("0"), output=usd("0"), total=usd("0")
    )
    assert unknown_models() == set()


def test_unknown_model_becomes_known_after_set_price() -> None:
    with pytest.warns(UnknownModelPriceWarning):
        assert compute_cost("vllm", "my-model", input_tokens=1, output_tokens=1) is None
    assert unknown_models() == {("vllm", "my-model")}
    set_price("my-model", input_per_mtok=1, output_per_mtok=1, provider="vllm")
    assert compute_cost("vllm", "my-model", input_tokens=1, output_tokens=1) is not None
    assert unknown_models() == set()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "", "input_per_mtok": 1, "output_per_mtok": 1}, "model must be a non-empty string"),
        (
            {"model": "m", "input_per_mtok": -1, "output_per_mtok": 1},
            "input_per_mtok must be a finite number",
        ),
        ({"model": "m", "input_per_mtok": 1, "output_per_mtok": "abc"}, "output_per_mtok must be a number"),
        ({"model": "m", "input_per_mtok": True, "output_per_mtok": 1}, "input_per_mtok must be a number"),
        (
            {"model": "m", "input_per_mtok": float("nan"), "output_per_mtok": 1},
            "input_per_mtok must be a finite",
        ),
        (
            {"model": "m", "input_per_mtok": 1, "output_per_mtok": 1, "cached_input_per_mtok": -0.1},
            "cached_input_per_mtok must be a finite",
        ),
        ({"model": "m", "input_per_mtok": 1, "output_per_mtok": 1, "provider": " "}, "provider must be"),
        ({"model": "*", "input_per_mtok": 1, "output_per_mtok": 1}, 'model "\\*" needs a provider'),
    ],
)
def test_set_price_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        set_price(**kwargs)  # type: ignore[arg-type]  # deliberately wrong values


def test_float_prices_are_taken_as_written() -> None:
    set_price("m", input_per_mtok=0.1, output_per_mtok=0.3, provider="p")
    prices = lookup_unit_prices("p", "m")
    assert prices is not None
    assert (prices.input, prices.output) == (usd("0.0000001"), usd("0.0000003"))


def test_load_prices_from_json(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            [
                {"model": "my-finetune", "provider": "openai", "input_per_mtok": 0.3, "output_per_mtok": 1.2},
                {
                    "model": "claude-sonnet-4-5",
                    "input_per_mtok": "2",
                    "output_per_mtok": 10,
                    "cached_input_per_mtok": 0.2,
                    "cache_write_per_mtok": 2.5,
                },
            ]
        )
    )
    assert load_prices(path) == 2
    assert_cost(
        compute_cost("openai", "my-finetune", input_tokens=1000, output_tokens=1000),
        input="0.0003",
        output="0.0012",
        total="0.0015",
    )
    # 1000 plain * 2e-6 + 1000 read * 0.2e-6 + 1000 written * 2.5e-6
    assert_cost(
        compute_cost(
            "anthropic",
            "claude-sonnet-4-5-20250929",
            input_tokens=3000,
            output_tokens=100,
            cached_input_tokens=1000,
            cache_creation_input_tokens=1000,
        ),
        input="0.0047",
        output="0.001",
        total="0.0057",
    )
    prices = lookup_unit_prices("openai", "my-finetune")
    assert prices is not None
    assert prices.source == f"user price file {path}"
    assert pricing_source().endswith(" + 2 user prices")


def test_load_prices_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        "[[prices]]\n"
        'model = "gpt-4o-mini"\n'
        'provider = "openai"\n'
        "input_per_mtok = 0.125\n"
        "output_per_mtok = 0.5\n"
        "cached_input_per_mtok = 0.0625\n"
    )
    assert load_prices(str(path)) == 1
    # 500 * 0.125e-6 + 500 * 0.0625e-6
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000, cached_input_tokens=500),
        input="0.00009375",
        output="0.0005",
        total="0.00059375",
    )


def test_json_object_with_prices_key(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"prices": [{"model": "x", "input_per_mtok": 1, "output_per_mtok": 1}]}')
    assert load_prices(path) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.json", "{not json", "not valid JSON"),
        ("p.toml", "prices = [", "not valid TOML"),
        ("p.yaml", "[]", "must end in .json or .toml"),
        ("p.json", '{"model": "x"}', "expected a list of price entries"),
        ("p.json", "[1]", "entry 0: expected a table/object"),
        ("p.json", '[{"model": "x", "input_per_mtok": 1}]', "entry 0: missing field\\(s\\) output_per_mtok"),
        (
            "p.json",
            '[{"model": "x", "input_per_mtok": 1, "output_per_mtok": 1, "input_price": 3}]',
            "entry 0: unknown field\\(s\\) input_price",
        ),
        (
            "p.json",
            '[{"model": 3, "input_per_mtok": 1, "output_per_mtok": 1}]',
            "entry 0: model must be a string",
        ),
        (
            "p.toml",
            '[[prices]]\nmodel = "a"\ninput_per_mtok = 1\noutput_per_mtok = 1\n'
            '[[prices]]\nmodel = "b"\ninput_per_mtok = -1\noutput_per_mtok = 1\n',
            "entry 1: input_per_mtok must be a finite number >= 0",
        ),
    ],
)
def test_load_prices_rejects_bad_files_and_applies_nothing(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_prices(path)
    # Entry 0 of the TOML case was valid, yet nothing of the bad file was applied.
    with pytest.warns(UnknownModelPriceWarning):
        assert lookup_unit_prices("vllm", "a") is None
    assert pricing_source().endswith(")")


def test_load_prices_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_prices(tmp_path / "absent.json")


def test_prices_file_from_environment_is_read_on_first_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text('[{"model": "gpt-4o-mini", "input_per_mtok": 3, "output_per_mtok": 4}]')
    monkeypatch.setenv(_pricing.PRICES_FILE_ENV_VAR, str(path))
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000),
        input="0.003",
        output="0.004",
        total="0.007",
    )
    # Prices set in code win over the environment's file.
    set_price("gpt-4o-mini", input_per_mtok=5, output_per_mtok=6)
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000),
        input="0.005",
        output="0.006",
        total="0.011",
    )


def test_bad_prices_file_from_environment_warns_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text("[{]")
    monkeypatch.setenv(_pricing.PRICES_FILE_ENV_VAR, str(path))
    with pytest.warns(UserWarning, match="SYNAPSEKIT_PRICES_FILE ignored: .*not valid JSON"):
        cost = compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=0)
    assert_cost(cost, input="0.00015", output="0", total="0.00015")


# --- unknown models -------------------------------------------------------------------------------


def test_unknown_model_costs_none_with_exactly_one_warning_across_threads() -> None:
    barrier = threading.Barrier(16)
    results: list[Cost | None] = []
    results_lock = threading.Lock()

    def price_many() -> None:
        barrier.wait()
        for _ in range(50):
            cost = compute_cost("vllm", "llama3.1:8b", input_tokens=10, output_tokens=10)
            with results_lock:
                results.append(cost)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=price_many) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert estimate_max_cost("vllm", "llama3.1:8b", input_tokens=1, max_output_tokens=1) is None
        assert lookup_unit_prices("vllm", "llama3.1:8b") is None

    assert results == [None] * 800
    unknown = [w for w in caught if issubclass(w.category, UnknownModelPriceWarning)]
    assert len(unknown) == 1
    assert str(unknown[0].message) == (
        "no price known for model 'llama3.1:8b' of provider 'vllm': "
        "its cost is reported as unknown (None); set one with set_price() or SYNAPSEKIT_PRICES_FILE"
    )
    assert unknown[0].filename == __file__
    assert unknown_models() == {("vllm", "llama3.1:8b")}


def test_each_unknown_pair_warns_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert compute_cost("openai", "gpt-nonexistent", input_tokens=1, output_tokens=1) is None
            assert compute_cost("vllm", "gpt-4o-mini", input_tokens=1, output_tokens=1) is None
            assert compute_cost("openrouter", "qwen/not-a-model", input_tokens=1, output_tokens=1) is None
        clear_price_cache()
        assert compute_cost("openai", "gpt-nonexistent", input_tokens=1, output_tokens=1) is None
    assert [w.category for w in caught] == [UnknownModelPriceWarning] * 3
    assert unknown_models() == {
        ("openai", "gpt-nonexistent"),
        ("vllm", "gpt-4o-mini"),
        ("openrouter", "qwen/not-a-model"),
    }
    assert issubclass(UnknownModelPriceWarning, UserWarning)


def test_models_priced_only_by_non_token_units_are_unknown() -> None:
    # whisper is priced per audio hour; pricing it by tokens would be wrong.
    with pytest.warns(UnknownModelPriceWarning):
        assert compute_cost("groq", "whisper-large-v3", input_tokens=10, output_tokens=10) is None


# --- bad token counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ((-1, 0, 0, 0, 0), "token counts must be >= 0"),
        ((0, -5, 0, 0, 0), "token counts must be >= 0"),
        ((10, 0, -1, 0, 0), "token counts must be >= 0"),
        ((10, 0, 0, -1, 0), "token counts must be >= 0"),
        ((10, 0, 0, 0, -1), "token counts must be >= 0"),
        ((10, 0, 8, 3, 0), "input_tokens must include them"),
        ((10, 5, 0, 0, 6), "output_tokens must include them"),
    ],
)
def test_compute_cost_rejects_inconsistent_counts(
    counts: tuple[int, int, int, int, int], message: str
) -> None:
    input_tokens, output_tokens, cached, written, reasoning = counts
    with pytest.raises(ValueError, match=message):
        compute_cost(
            "openai",
            "gpt-4o-mini",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            cache_creation_input_tokens=written,
            reasoning_tokens=reasoning,
        )


def test_estimate_max_cost_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="token counts must be >= 0"):
        estimate_max_cost("openai", "gpt-4o-mini", input_tokens=-1, max_output_tokens=1)
    with pytest.raises(ValueError, match="token counts must be >= 0"):
        estimate_max_cost_nano("openai", "gpt-4o-mini", input_tokens=1, max_output_tokens=-1)


def test_the_reservation_in_nano_dollars_for_fixed_and_tiered_prices() -> None:
    # gpt-4o-mini: 1000 * 150 + 4096 * 600 nano-dollars per token.
    assert (
        estimate_max_cost_nano("openai", "gpt-4o-mini", input_tokens=1000, max_output_tokens=4096)
        == 2_607_600
    )
    # Cache writes at $3.75 are the dearest input rate; the per-request fee of perplexity's sonar is included.
    assert estimate_max_cost_nano(
        "anthropic", "claude-sonnet-4-5", input_tokens=1000, max_output_tokens=1000
    ) == (18_750_000)
    assert estimate_max_cost_nano("perplexity", "sonar", input_tokens=0, max_output_tokens=0) == 12_000_000
    # A long-prompt tier reprices the whole call (no integer rates: the Decimal path answers).
    assert _pricing._schedule("anthropic", "claude-sonnet-4-5").worst_case_nano_rates is None  # type: ignore[union-attr]
    long_prompt = estimate_max_cost(
        "anthropic", "claude-sonnet-4-5", input_tokens=250_000, max_output_tokens=10
    )
    assert long_prompt is not None
    assert estimate_max_cost_nano(
        "anthropic", "claude-sonnet-4-5", input_tokens=250_000, max_output_tokens=10
    ) == (cost_to_nano(long_prompt))
    with pytest.warns(UnknownModelPriceWarning):
        assert estimate_max_cost_nano("nobody", "no-such-model", input_tokens=1, max_output_tokens=1) is None


@settings(max_examples=80, deadline=None)
@given(
    input_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    output_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    write_mtok=st.none() | st.decimals(min_value=0, max_value=200, places=4),
    input_tokens=st.integers(0, 2_000_000),
    output_tokens=st.integers(0, 200_000),
)
def test_integer_reservations_round_up_exactly_as_the_decimal_bound(
    input_mtok: Decimal,
    output_mtok: Decimal,
    write_mtok: Decimal | None,
    input_tokens: int,
    output_tokens: int,
) -> None:
    # Prices with up to seven decimals per million tokens: fractions of a nano-dollar per token.
    set_price(
        "odd-model", input_per_mtok=input_mtok, output_per_mtok=output_mtok, cache_write_per_mtok=write_mtok
    )
    rates = _pricing._schedule("openai", "odd-model").worst_case_nano_rates  # type: ignore[union-attr]
    assert rates is not None
    bound = estimate_max_cost(
        "openai", "odd-model", input_tokens=input_tokens, max_output_tokens=output_tokens
    )
    assert bound is not None
    nano = estimate_max_cost_nano(
        "openai", "odd-model", input_tokens=input_tokens, max_output_tokens=output_tokens
    )
    assert nano == cost_to_nano(bound)
    assert nano - 1 < bound * 10**9 <= nano


def _settled_in_integers(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached: int = 0,
    written: int = 0,
    reasoning: int = 0,
) -> tuple[int, int]:
    """A budget's integer settlement of a call and the Decimal one it stands for: (integers, Decimal)."""
    schedule = _pricing._schedule(provider, model)
    assert schedule is not None and schedule.cost_nano_rates is not None
    integers = nano_cost(schedule.cost_nano_rates, input_tokens, output_tokens, cached, written, reasoning)
    cost = compute_cost(
        provider,
        model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        cache_creation_input_tokens=written,
        reasoning_tokens=reasoning,
    )
    assert cost is not None
    return integers, cost_to_nano(cost.total)


def test_integer_settlement_of_known_models() -> None:
    # gpt-4o-mini: 150 nano-dollars per input token, 75 per cached one, 600 per output token.
    assert _settled_in_integers("openai", "gpt-4o-mini", 5, 12) == (7_950, 7_950)
    assert _settled_in_integers("openai", "gpt-4o-mini", 1000, 10, cached=400) == (126_000, 126_000)
    # claude-haiku-4-5: $1 per million input tokens, $0.10 cache reads, $1.25 cache writes, $5 output.
    assert _settled_in_integers("anthropic", "claude-haiku-4-5", 1000, 100, cached=300, written=200) == (
        1_280_000,
        1_280_000,
    )
    # sonar's per-request fee is charged on a call without tokens.
    assert _settled_in_integers("perplexity", "sonar", 0, 0) == (12_000_000, 12_000_000)
    # Counts at the plausibility bound: still exact.
    big = MAX_PLAUSIBLE_TOKENS
    integers, decimal = _settled_in_integers(
        "openai", "gpt-4o", big, big, cached=big // 2, reasoning=big // 3
    )
    assert integers == decimal
    # Tiered prices have no integer rates: budgets settle those in Decimal.
    tiered = _pricing._schedule("google", "gemini-2.5-pro")
    assert tiered is not None and tiered.cost_nano_rates is None


def test_integer_settlement_of_every_bundled_fixed_price() -> None:
    from genai_prices import data_snapshot

    counts = [
        (0, 0, 0, 0, 0),
        (1, 1, 0, 0, 0),
        (7_919, 313, 1_000, 2_000, 100),
        (10**9, 10**9, 10**8, 10**7, 10**9),
    ]
    checked = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            schedule = _pricing_genai.find_schedule(provider.id, [model.id])
            if schedule is None or schedule.cost_nano_rates is None:
                continue
            _pricing._resolved[(provider.id, model.id)] = schedule
            for input_tokens, output_tokens, cached, written, reasoning in counts:
                integers, decimal = _settled_in_integers(
                    provider.id, model.id, input_tokens, output_tokens, cached, written, reasoning
                )
                assert integers == decimal, (provider.id, model.id)
            checked += 1
    assert checked > 100


@settings(max_examples=80, deadline=None)
@given(
    input_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    output_mtok=st.decimals(min_value=0, max_value=200, places=7, allow_nan=False, allow_infinity=False),
    cached_mtok=st.none() | st.decimals(min_value=0, max_value=200, places=5),
    write_mtok=st.none() | st.decimals(min_value=0, max_value=200, places=4),
    input_tokens=st.integers(0, MAX_PLAUSIBLE_TOKENS),
    output_tokens=st.integers(0, MAX_PLAUSIBLE_TOKENS),
    shares=st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0, 1)),
)
def test_integer_settlement_equals_the_decimal_cost(
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
    integers, decimal = _settled_in_integers(
        "openai", "odd-model", input_tokens, output_tokens, cached, written, reasoning
    )
    assert integers == decimal


# --- source, refresh, import cost -----------------------------------------------------------------


def test_pricing_source_names_the_package_and_data() -> None:
    source = pricing_source()
    prefix = f"genai-prices {version('genai-prices')} (bundled data, latest price change "
    assert source.startswith(prefix)
    stamp = source.removeprefix(prefix).removesuffix(")")
    assert datetime.strptime(stamp, "%Y-%m-%d").date() <= datetime.now(timezone.utc).date()
    set_price("m", input_per_mtok=1, output_per_mtok=1)
    assert pricing_source() == source + " + 1 user price"


class _PriceDataHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def price_server() -> Iterator[tuple[str, type[_PriceDataHandler]]]:
    handler = type("Handler", (_PriceDataHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/data.json", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_refresh_prices_replaces_the_data(price_server: tuple[str, type[_PriceDataHandler]]) -> None:
    url, handler = price_server
    handler.payload = json.dumps(
        [
            {
                "id": "openai",
                "name": "OpenAI",
                "api_pattern": "https://api\\.openai\\.com",
                "models": [
                    {
                        "id": "gpt-4o-mini",
                        "match": {"equals": "gpt-4o-mini"},
                        "prices": {"input_mtok": "1", "output_mtok": "2"},
                    }
                ],
            }
        ]
    ).encode()
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000),
        input="0.00015",
        output="0.0006",
        total="0.00075",
    )
    assert refresh_prices(url=url, timeout=5) is True
    assert_cost(
        compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000),
        input="0.001",
        output="0.002",
        total="0.003",
    )
    assert pricing_source().startswith(f"genai-prices {version('genai-prices')} (data fetched ")


def test_refresh_prices_failure_keeps_the_data(
    price_server: tuple[str, type[_PriceDataHandler]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = price_server
    handler.status = 500
    handler.payload = b"oops"
    before = compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000)
    assert refresh_prices(url=url, timeout=5) is False
    assert "refreshing prices failed, keeping the current ones: HTTPStatusError" in caplog.text
    handler.status = 200
    handler.payload = b'{"not": "a provider list"}'
    assert refresh_prices(url=url, timeout=5) is False
    assert compute_cost("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=1000) == before


def test_importing_pricing_loads_neither_genai_prices_nor_pydantic() -> None:
    code = (
        "import sys\n"
        "import synapsekit._pricing.prices as pricing\n"
        "assert pricing.normalize_model_name('openai/gpt-4o-2024-08-06') == 'gpt-4o'\n"
        "heavy = {'genai_prices', 'pydantic', 'httpx2'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "pricing.compute_cost('openai', 'gpt-4o-mini', input_tokens=1, output_tokens=1)\n"
        "print('genai_prices' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "True"]


# --- providers named as the GenAI semantic conventions name them --------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "input_usd", "output_usd"),
    [
        ("gcp.gemini", "gemini-2.5-flash", "0.03", "0.25"),
        ("gcp.vertex_ai", "gemini-2.5-flash", "0.03", "0.25"),
        # Cross-region inference profiles (us./eu./apac.) cost what the model costs.
        ("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "0.3", "1.5"),
        ("aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "0.3", "1.5"),
        ("aws.bedrock", "amazon.nova-lite-v1:0", "0.006", "0.024"),
        ("aws.bedrock", "meta.llama3-1-8b-instruct-v1:0", "0.022", "0.022"),
        ("mistral_ai", "mistral-large-latest", "0.2", "0.6"),
        ("cohere", "command-r-plus", "0.25", "1"),
        ("groq", "llama-3.3-70b-versatile", "0.059", "0.079"),
        ("cerebras", "llama-3.3-70b", "0.085", "0.12"),
        ("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "0.088", "0.088"),
        # Together resells models under "vendor/model": a model it does not price is priced by the vendor.
        ("together_ai", "openai/gpt-4o-mini", "0.015", "0.06"),
        # Fireworks names its models by account path: the last segment is what genai-prices knows.
        ("fireworks_ai", "accounts/fireworks/models/deepseek-v3p2", "0.056", "0.168"),
    ],
)
def test_semantic_convention_provider_names_find_genai_prices(
    provider: str, model: str, input_usd: str, output_usd: str
) -> None:
    cost = compute_cost(provider, model, input_tokens=100_000, output_tokens=100_000)
    assert_cost(cost, input=input_usd, output=output_usd, total=str(usd(input_usd) + usd(output_usd)))


def test_a_local_ollama_model_costs_zero_not_unknown() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownModelPriceWarning)
        cost = compute_cost("ollama", "llama3.2:3b", input_tokens=1_000, output_tokens=500)
    assert_cost(cost, input="0", output="0", total="0")
    assert ("ollama", "llama3.2:3b") not in unknown_models()


def test_a_price_set_for_an_ollama_model_wins_over_zero() -> None:
    set_price("my-local", provider="ollama", input_per_mtok=1, output_per_mtok=2)
    assert_cost(
        compute_cost("ollama", "my-local", input_tokens=1_000_000, output_tokens=1_000_000),
        input="1",
        output="2",
        total="3",
    )


# --- the documented price-file format -------------------------------------------------------------

COST_DOC = Path(__file__).resolve().parents[2] / "docs" / "cost.md"


def _documented_price_files() -> dict[str, str]:
    """The fenced ``toml`` and ``json`` examples of docs/cost.md's "Price files" section, by language."""
    section = COST_DOC.read_text(encoding="utf-8").split("### Price files", 1)[1].split("\n## ", 1)[0]
    return {
        language: body for language, body in re.findall(r"```(toml|json)\n(.*?)```", section, flags=re.DOTALL)
    }


@pytest.mark.parametrize("language", ["toml", "json"])
def test_the_documented_price_file_example_loads(tmp_path: Path, language: str) -> None:
    examples = _documented_price_files()
    assert sorted(examples) == ["json", "toml"]
    path = tmp_path / f"prices.{language}"
    path.write_text(examples[language], encoding="utf-8")
    assert load_prices(path) == 2
    # 1000 cached at $0.15/M + 1000 plain at $0.30/M, and 1000 output at $1.20/M.
    assert_cost(
        compute_cost(
            "openai", "my-finetune", input_tokens=2000, output_tokens=1000, cached_input_tokens=1000
        ),
        input="0.00045",
        output="0.0012",
        total="0.00165",
    )
    assert_cost(
        compute_cost("ollama", "llama3.2:3b", input_tokens=5000, output_tokens=500),
        input="0",
        output="0",
        total="0",
    )
    prices = lookup_unit_prices("openai", "My-Finetune")
    assert prices is not None and prices.source == f"user price file {path}"
