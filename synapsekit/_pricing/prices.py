"""Prices of LLM calls in USD.

Prices come from user overrides first (:func:`set_price`, :func:`load_prices`, then the file named by
``SYNAPSEKIT_PRICES_FILE``), then synapsekit's built-in demo price for its offline model, then the
``genai-prices`` package. They are resolved once per (provider, model) and cached; pricing a call after
that is a dictionary lookup and a few ``Decimal`` multiplications. genai-prices is imported on the first
lookup, never at import time, and nothing here touches the network except :func:`refresh_prices`.

Token counts follow the OpenTelemetry GenAI convention: ``input_tokens`` includes the cache-read and
cache-write tokens, ``output_tokens`` includes the reasoning tokens.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from decimal import Decimal
from typing import cast

from synapsekit._pricing.callsite import warn_at_user
from synapsekit._pricing.names import model_name_candidates, normalize_model_name, split_router_prefix
from synapsekit._pricing.overrides import (
    WILDCARD_MODEL,
    OverrideKey,
    PriceValue,
    make_override,
    read_price_file,
)
from synapsekit._pricing.tables import (
    Cost,
    PriceSchedule,
    UnitPrices,
    cost_for,
    cost_to_nano,
    fixed_schedule,
    unit_prices_from_mtok,
    worst_case_cost,
)

__all__ = (
    "PRICES_FILE_ENV_VAR",
    "Cost",
    "UnitPrices",
    "UnknownModelPriceWarning",
    "clear_price_cache",
    "clear_price_overrides",
    "compute_cost",
    "estimate_max_cost",
    "load_prices",
    "lookup_unit_prices",
    "normalize_model_name",
    "pricing_source",
    "refresh_prices",
    "set_price",
    "unknown_models",
)

logger = logging.getLogger("synapsekit.pricing")

PRICES_FILE_ENV_VAR = "SYNAPSEKIT_PRICES_FILE"

# Providers that resell other vendors' models under "vendor/model" names: when their own price list
# lacks a model, the vendor named in the prefix prices it (genai-prices ids).
_ROUTER_PROVIDERS = frozenset({"openrouter", "together", "litellm"})

# Calls report the OpenTelemetry GenAI provider names (``gen_ai.provider.name``); genai-prices files the same
# vendors under its own ids. Names that are the same in both are not listed.
_GENAI_PRICES_PROVIDER_IDS = {
    "aws.bedrock": "aws",
    "azure.ai.inference": "azure",
    "azure.ai.openai": "azure",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    # No well-known conventions value: named as the conventions name such vendors (lower case, words joined by
    # "_", like mistral_ai and x_ai). Groq and Cerebras are filed under their plain names in both.
    "fireworks_ai": "fireworks",
    "together_ai": "together",
}

# A made-up demo price so that examples and tests with the offline model show realistic numbers; local models
# served by Ollama cost nothing (priced at zero, not unknown), unless the user sets a price for them.
_BUILTIN_PRICES: dict[OverrideKey, UnitPrices] = {
    ("synapsekit", "synapsekit-offline"): unit_prices_from_mtok(
        input_mtok=Decimal("0.15"),
        output_mtok=Decimal("0.60"),
        cached_input_mtok=Decimal("0.075"),
        source="synapsekit built-in demo price (made up)",
    ),
    ("ollama", WILDCARD_MODEL): unit_prices_from_mtok(
        input_mtok=Decimal(0), output_mtok=Decimal(0), source="synapsekit: a local Ollama model costs nothing"
    ),
}


class UnknownModelPriceWarning(UserWarning):
    """No price is known for a model: its cost is reported as unknown (None), never as $0."""


_MISSING = object()
_new_tuple = tuple.__new__
_lock = threading.Lock()
# Read without the lock on the hot path (dict.get is atomic); written only under it.
_resolved: dict[tuple[str, str], PriceSchedule | None] = {}
_user_overrides: dict[OverrideKey, UnitPrices] = {}
_env_file_overrides: dict[OverrideKey, UnitPrices] = {}
_env_file_loaded = False
_unknown: set[tuple[str, str]] = set()
_warned: set[tuple[str, str]] = set()


def compute_cost(
    provider: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    at: datetime | None = None,
) -> Cost | None:
    """USD cost of one call, or None when no price is known for the model.

    ``at`` is when the call was made (default: now); it matters only for models whose price depends
    on the date or the time of day (e.g. off-peak discounts).
    """
    if (
        input_tokens < 0
        or output_tokens < 0
        or cached_input_tokens < 0
        or cache_creation_input_tokens < 0
        or reasoning_tokens < 0
    ):
        raise ValueError("token counts must be >= 0")
    if cached_input_tokens + cache_creation_input_tokens > input_tokens:
        raise ValueError(
            f"cached ({cached_input_tokens}) + cache-creation ({cache_creation_input_tokens}) input tokens "
            f"exceed input_tokens ({input_tokens}); input_tokens must include them"
        )
    if reasoning_tokens > output_tokens:
        raise ValueError(
            f"reasoning_tokens ({reasoning_tokens}) exceed output_tokens ({output_tokens}); "
            "output_tokens must include them"
        )
    found = _resolved.get((provider, model), _MISSING)
    # Not typing.cast: a function call, on every priced call.
    schedule: PriceSchedule | None = _schedule(provider, model) if found is _MISSING else found  # type: ignore[assignment]
    if schedule is None:
        return None
    prices = schedule.fixed
    if prices is None:
        prices = schedule.prices_for(input_tokens, at)
        return cost_for(
            prices,
            input_tokens,
            output_tokens,
            cached_input_tokens,
            cache_creation_input_tokens,
            reasoning_tokens,
        )
    # cost_for's body in place for a fixed price (every priced call of most models): a frame fewer.
    input_cost = prices.input * (input_tokens - cached_input_tokens - cache_creation_input_tokens)
    if cached_input_tokens:
        input_cost += prices.cached_input * cached_input_tokens
    if cache_creation_input_tokens:
        input_cost += prices.cache_write * cache_creation_input_tokens
    if reasoning_tokens and prices.reasoning != prices.output:
        output_cost = prices.output * (output_tokens - reasoning_tokens) + prices.reasoning * reasoning_tokens
    else:
        output_cost = prices.output * output_tokens
    total = input_cost + output_cost
    if prices.request:
        total += prices.request
    return _new_tuple(Cost, (input_cost, output_cost, total))


def lookup_unit_prices(
    provider: str, model: str, *, input_tokens: int = 0, at: datetime | None = None
) -> UnitPrices | None:
    """Per-token prices that apply to a call of ``input_tokens`` made ``at`` (default: now), or None."""
    schedule = _schedule(provider, model)
    return None if schedule is None else schedule.prices_for(input_tokens, at)


def estimate_max_cost(
    provider: str, model: str, *, input_tokens: int, max_output_tokens: int
) -> Decimal | None:
    """Upper bound of a call's cost, for budget reservations; None when no price is known.

    Every input token is priced at the dearest input rate (so a cache write, dearer than plain input
    at Anthropic, cannot push the real cost above the reservation) and every possible output token at
    the dearer of the output and reasoning rates.
    """
    if input_tokens < 0 or max_output_tokens < 0:
        raise ValueError("token counts must be >= 0")
    schedule = _schedule(provider, model)
    if schedule is None:
        return None
    prices = schedule.fixed
    if prices is None:
        prices = schedule.prices_for(input_tokens, None)
    return worst_case_cost(prices, input_tokens, max_output_tokens)


def estimate_max_cost_nano(
    provider: str, model: str, *, input_tokens: int, max_output_tokens: int
) -> int | None:
    """:func:`estimate_max_cost` in nano-dollars, rounded up: what a budget reserves; None without a price."""
    if input_tokens < 0 or max_output_tokens < 0:
        raise ValueError("token counts must be >= 0")
    # _schedule() inlined: every budgeted call reserves.
    found = _resolved.get((provider, model), _MISSING)
    schedule: PriceSchedule | None = _resolve(provider, model) if found is _MISSING else found  # type: ignore[assignment]
    if schedule is None:
        return None
    rates = schedule.worst_case_nano_rates
    if rates is None:  # prices by tier or period
        prices = schedule.prices_for(input_tokens, None)
        return cost_to_nano(worst_case_cost(prices, input_tokens, max_output_tokens))
    input_rate, output_rate, request, divisor = rates
    return -(-(input_rate * input_tokens + output_rate * max_output_tokens + request) // divisor)


def unknown_models() -> set[tuple[str, str]]:
    """The (provider, model) pairs looked up so far for which no price is known."""
    with _lock:
        return set(_unknown)


def set_price(
    model: str,
    *,
    input_per_mtok: PriceValue,
    output_per_mtok: PriceValue,
    cached_input_per_mtok: PriceValue | None = None,
    cache_write_per_mtok: PriceValue | None = None,
    provider: str | None = None,
) -> None:
    """Price ``model`` (USD per million tokens) ahead of any packaged data.

    ``provider=None`` applies to the model under every provider; ``model="*"`` with a provider prices
    all of that provider's models. Cache prices default to the input price. Floats are taken as written
    (``0.1`` is exactly 0.1); pass ``Decimal`` or ``str`` to be explicit.
    """
    key, prices = make_override(
        model,
        input_per_mtok=input_per_mtok,
        output_per_mtok=output_per_mtok,
        cached_input_per_mtok=cached_input_per_mtok,
        cache_write_per_mtok=cache_write_per_mtok,
        provider=provider,
        source="user price (set_price)",
    )
    with _lock:
        _user_overrides[key] = prices
        _resolved.clear()


def load_prices(path: str | os.PathLike[str]) -> int:
    """Load user prices from a JSON or TOML file; returns how many entries it held.

    The format is described in :mod:`synapsekit._pricing.overrides`. The file is validated completely
    before any price is applied, so a bad file changes nothing (ValueError, or OSError if unreadable).
    """
    overrides = read_price_file(path)
    with _lock:
        _user_overrides.update(overrides)
        _resolved.clear()
    return len(overrides)


def clear_price_overrides() -> None:
    """Forget user prices, cached lookups and unknown-model bookkeeping (warnings may fire again).

    ``SYNAPSEKIT_PRICES_FILE`` is read again on the next lookup. Meant for tests.
    """
    global _env_file_loaded
    with _lock:
        _user_overrides.clear()
        _env_file_overrides.clear()
        _env_file_loaded = False
        _resolved.clear()
        _unknown.clear()
        _warned.clear()


def clear_price_cache() -> None:
    """Drop resolved prices so the next lookup resolves again (user prices are kept)."""
    with _lock:
        _resolved.clear()


def refresh_prices(*, url: str | None = None, timeout: float = 10.0) -> bool:
    """Download current prices with genai-prices' updater; True on success.

    This is the only network access synapsekit's pricing ever makes, and only when called. On failure
    (no network, bad data) the prices in use stay as they were, the reason is logged, and False is
    returned. ``url`` defaults to genai-prices' published data file.
    """
    from synapsekit._pricing import genai

    try:
        genai.fetch_snapshot(url, timeout)
    except Exception as exc:  # any failure (HTTP, JSON, validation) means: keep the data we have
        logger.warning("refreshing prices failed, keeping the current ones: %s: %s", type(exc).__name__, exc)
        return False
    clear_price_cache()
    return True


def pricing_source() -> str:
    """Where prices come from, e.g. ``genai-prices 0.2.3 (bundled data, latest price change 2026-10-14)``."""
    from synapsekit._pricing import genai

    description = f"genai-prices {genai.package_version()} ({genai.data_description()})"
    with _lock:
        count = len(_user_overrides) + len(_env_file_overrides)
    if count:
        description += f" + {count} user price{'s' if count != 1 else ''}"
    return description


def _schedule(provider: str, model: str) -> PriceSchedule | None:
    schedule = _resolved.get((provider, model), _MISSING)
    if schedule is _MISSING:
        return _resolve(provider, model)
    return schedule  # type: ignore[return-value]  # not typing.cast: a call on every lookup


def _resolve(provider: str, model: str) -> PriceSchedule | None:
    key = (provider, model)
    notices: list[tuple[str, type[Warning]]] = []
    with _lock:
        cached = _resolved.get(key, _MISSING)
        if cached is not _MISSING:
            return cast("PriceSchedule | None", cached)
        if not _env_file_loaded:
            notices.extend(_load_env_file())
        schedule = _find(provider.strip().lower(), model)
        _resolved[key] = schedule
        if schedule is not None:
            _unknown.discard(key)
        else:
            _unknown.add(key)
            if key not in _warned:
                _warned.add(key)
                notices.append(
                    (
                        f"no price known for model {model!r} of provider {provider!r}: its cost is "
                        f"reported as unknown (None); set one with set_price() or {PRICES_FILE_ENV_VAR}",
                        UnknownModelPriceWarning,
                    )
                )
    # Outside the lock: a warnings hook may itself price a call.
    for message, category in notices:
        warn_at_user(message, category)
    return schedule


def _load_env_file() -> list[tuple[str, type[Warning]]]:
    """Read SYNAPSEKIT_PRICES_FILE once (caller holds the lock); a bad file is a warning, not a crash."""
    global _env_file_loaded
    _env_file_loaded = True
    path = os.environ.get(PRICES_FILE_ENV_VAR, "").strip()
    if not path:
        return []
    try:
        overrides = read_price_file(path)
    except (OSError, ValueError) as exc:
        return [(f"{PRICES_FILE_ENV_VAR} ignored: {exc}", UserWarning)]
    _env_file_overrides.update(overrides)
    return []


def _find(provider: str, model: str) -> PriceSchedule | None:
    names = model_name_candidates(model)
    for table in (_user_overrides, _env_file_overrides, _BUILTIN_PRICES):
        for name in names:
            prices = table.get((provider, name)) or table.get((None, name))
            if prices is not None:
                return fixed_schedule(prices)
        if (prices := table.get((provider, WILDCARD_MODEL))) is not None:
            return fixed_schedule(prices)

    from synapsekit._pricing import genai

    prices_provider = _GENAI_PRICES_PROVIDER_IDS.get(provider, provider)
    schedule = genai.find_schedule(prices_provider, names)
    if schedule is None and prices_provider in _ROUTER_PROVIDERS and (split := split_router_prefix(model)):
        upstream, upstream_model = split
        schedule = genai.find_schedule(upstream, model_name_candidates(upstream_model))
    return schedule
