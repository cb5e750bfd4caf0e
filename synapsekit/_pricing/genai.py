"""The one place that talks to the ``genai-prices`` package.

Imported lazily by :mod:`synapsekit._pricing.prices` on the first price lookup: genai-prices pulls in pydantic and
its price data, which costs more than half a second, so it must never load at ``import synapsekit``.
Its prices are converted into :mod:`synapsekit._pricing.tables` objects once per model.

Nor should that half second land on the application's first request: :func:`synapsekit._pricing.preload.preload_prices`, called once something
that prices calls is configured (``instrument()``, a budget, a tally, ``PrometheusMetrics``), loads the data in
a background thread. A lookup that comes while that load is still in flight waits for it rather than loading
a second time; without a preload, the first lookup loads the data itself, as before. Nothing here touches the
network except :func:`fetch_snapshot` (``refresh_prices()``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timezone
from decimal import Decimal
from importlib.metadata import version
from typing import TYPE_CHECKING

from synapsekit._pricing.preload import wait_for_preload
from synapsekit._pricing.tables import (
    Constraint,
    PriceSchedule,
    StartDate,
    TierTable,
    TimeOfDay,
    UnitPrices,
    unit_prices_from_mtok,
)

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, Provider, TieredPrices

__all__ = ("data_description", "fetch_snapshot", "find_schedule", "package_version", "use_bundled_snapshot")

# The token prices synapsekit can apply from the usage it records; other price keys (audio hours, web
# searches, pages, ...) need usage that LLM call records do not carry.
_PRICED_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "output_reasoning_mtok",
    "requests_kcount",
)
_ZERO = Decimal(0)

logger = logging.getLogger("synapsekit.pricing")


@functools.cache
def package_version() -> str:
    return version("genai-prices")


def find_schedule(provider: str, names: Sequence[str]) -> PriceSchedule | None:
    """Prices for the first of ``names`` genai-prices knows under ``provider``.

    An empty ``provider`` lets genai-prices guess the provider from the model name.
    """
    wait_for_preload()
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    if provider and data_snapshot.find_provider_by_id(snapshot.providers, provider) is None:
        return None
    for name in names:
        try:
            found_provider, model = snapshot.find_provider_model(name, None, provider or None, None)
        except LookupError:
            continue
        return _schedule_for(found_provider, model)
    return None


def _schedule_for(provider: Provider, model: ModelInfo) -> PriceSchedule | None:
    from genai_prices.types import ModelPrice

    source = f"genai-prices {package_version()}: {provider.id}/{model.id}"
    raw_periods: list[tuple[object, ModelPrice]]
    if isinstance(model.prices, ModelPrice):
        raw_periods = [(None, model.prices)]
    else:
        raw_periods = [(conditional.constraint, conditional.prices) for conditional in model.prices]
    periods: list[tuple[Constraint | None, TierTable]] = []
    for raw_constraint, model_price in raw_periods:
        table = _tier_table(model_price, source)
        if table is None:
            return None
        try:
            constraint = _constraint(raw_constraint)
        except ValueError:
            return None
        periods.append((constraint, table))
    return PriceSchedule(periods=tuple(periods)) if periods else None


def _constraint(raw: object) -> Constraint | None:
    """Our form of a genai-prices constraint; ValueError for a kind newer data might add."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    if raw is None:
        return None
    if isinstance(raw, StartDateConstraint):
        return StartDate(start=raw.start_date)
    if isinstance(raw, TimeOfDateConstraint):
        return TimeOfDay(start=_naive_utc(raw.start_time), end=_naive_utc(raw.end_time))
    raise ValueError(f"unsupported price constraint {raw!r}")


def _naive_utc(value: time) -> time:
    if value.tzinfo is None:
        return value
    return datetime.combine(date(1970, 1, 1), value).astimezone(timezone.utc).time()


def _tier_table(model_price: ModelPrice, source: str) -> TierTable | None:
    from genai_prices.types import TieredPrices

    stored = {key: value for key, value in vars(model_price).items() if value is not None}
    raw = {key: stored.get(key) for key in _PRICED_KEYS}
    if stored and all(value is None for value in raw.values()):
        # Priced only by units we do not record (audio hours, OCR pages): pricing it by tokens would lie.
        return None
    starts = sorted(
        {tier.start for value in raw.values() if isinstance(value, TieredPrices) for tier in value.tiers}
    )

    def prices_at(input_tokens: int) -> UnitPrices:
        def price(key: str) -> Decimal | None:
            return _price_at(raw[key], input_tokens)

        return unit_prices_from_mtok(
            input_mtok=price("input_mtok") or _ZERO,
            output_mtok=price("output_mtok") or _ZERO,
            cached_input_mtok=price("cache_read_mtok"),
            cache_write_mtok=price("cache_write_mtok"),
            reasoning_mtok=price("output_reasoning_mtok"),
            requests_kcount=price("requests_kcount"),
            source=source,
        )

    # Between two consecutive thresholds every price is constant, so one table row per threshold suffices.
    tiers = tuple((start, prices_at(start + 1)) for start in reversed(starts))
    return TierTable(base=prices_at(0), tiers_desc=tiers)


def _price_at(value: Decimal | TieredPrices | None, input_tokens: int) -> Decimal | None:
    from genai_prices.types import TieredPrices

    if not isinstance(value, TieredPrices):
        return value
    price = value.base
    for tier in sorted(value.tiers, key=lambda tier: tier.start):
        if input_tokens > tier.start:
            price = tier.price
    return price


def data_description() -> str:
    """Where the prices in use come from, e.g. ``bundled data, latest price change 2026-10-14``."""
    from genai_prices import data_snapshot
    from genai_prices.types import ModelPrice, StartDateConstraint

    snapshot = data_snapshot.get_snapshot()
    if snapshot.from_auto_update:
        return f"data fetched {snapshot.timestamp:%Y-%m-%d %H:%M}"
    dates = [
        conditional.constraint.start_date
        for provider in snapshot.providers
        for model in provider.models
        if not isinstance(model.prices, ModelPrice)
        for conditional in model.prices
        if isinstance(conditional.constraint, StartDateConstraint)
    ]
    # The data also schedules announced future prices; the latest change already in effect dates it.
    today = datetime.now(timezone.utc).date()
    past = [start for start in dates if start <= today]
    if not past:
        return "bundled data"
    return f"bundled data, latest price change {max(past).isoformat()}"


def fetch_snapshot(url: str | None, timeout: float) -> None:
    """Download current prices with genai-prices' own updater and make them the data in use."""
    import httpx2
    from genai_prices import data_snapshot
    from genai_prices.update_prices import DEFAULT_UPDATE_URL, UpdatePrices

    updater = UpdatePrices(url=url or DEFAULT_UPDATE_URL, request_timeout=httpx2.Timeout(timeout))
    snapshot = updater.fetch()
    if snapshot is None:
        raise ValueError("the price update returned no data")
    data_snapshot.set_custom_snapshot(snapshot)


def use_bundled_snapshot() -> None:
    """Go back to the prices shipped with the installed genai-prices (undoes a refresh)."""
    from genai_prices import data_snapshot

    data_snapshot.set_custom_snapshot(None)
