"""The one place that talks to the ``genai-prices`` package.

Imported lazily by :mod:`synapsekit._pricing.prices` on the first price lookup: genai-prices pulls in pydantic and
its price data, which costs more than half a second, so it must never load at ``import synapsekit``.
Its prices are converted into :mod:`synapsekit._pricing.tables` objects once per model.

Nor should that half second land on the application's first request: :func:`preload`, called once something
that prices calls is configured (``instrument()``, a budget, a tally, ``PrometheusMetrics``), loads the data in
a background thread. A lookup that comes while that load is still in flight waits for it rather than loading
a second time; without a preload, the first lookup loads the data itself, as before. Nothing here touches the
network except :func:`fetch_snapshot` (``refresh_prices()``).
"""

from __future__ import annotations

import functools
import gc
import logging
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime, time, timezone
from decimal import Decimal
from importlib.metadata import version
from time import monotonic, sleep
from typing import TYPE_CHECKING

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

# The third-party packages genai-prices imports, which the instrumented SDKs import too (openai: both). A
# background thread must not import them while the application may be importing them: when two threads import
# overlapping module graphs, CPython breaks the import-lock cycle by handing one of them a partially initialised
# module, and that one may be the application's own ``import openai`` ("partially initialized module 'httpx2'
# has no attribute 'Timeout'"). So the preload starts importing only once the application has imported these
# completely, which it does when it imports its SDK.
_SHARED_DEPENDENCIES = ("pydantic", "httpx2")
_POLL_S = 0.05
_PATIENCE_S = 30.0  # then give up: the first lookup loads on its own thread, as without a preload

_preload_lock = threading.Lock()
_preload_started = False
# "waiting" for the dependencies, "loading", or "off" (never started, given up, or left to a lookup).
_preload_state = "off"
_preloaded = threading.Event()


def preload() -> None:
    """Load genai-prices and its data in a background thread, once per process (cheap after the first)."""
    global _preload_started, _preload_state
    if _preload_started:
        return
    with _preload_lock:
        if _preload_started:
            return
        _preload_started = True
        _preload_state = "waiting"
    threading.Thread(target=_load, name="synapsekit-prices-preload", daemon=True).start()


def dependencies_imported(names: Sequence[str] = _SHARED_DEPENDENCIES) -> bool:
    """Whether every module of ``names`` has been imported completely (none is still executing)."""
    for name in names:
        module = sys.modules.get(name)
        if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
            return False
    return True


def _claim_load(deadline: float) -> bool:
    """Wait until the dependencies are imported; True when this thread may load, False to give up."""
    global _preload_state
    while True:
        with _preload_lock:
            if _preload_state != "waiting":
                return False  # a lookup came first and loads on its own thread
            if dependencies_imported():
                _preload_state = "loading"
                return True
            if monotonic() >= deadline:
                _preload_state = "off"
                return False
        sleep(_POLL_S)


def _load() -> None:
    global _preload_state
    try:
        if not _claim_load(monotonic() + _PATIENCE_S):
            return
        from genai_prices import data_snapshot

        data_snapshot.get_snapshot()
        package_version()  # reads installed metadata: tens of milliseconds, once
        # The price data is a few hundred thousand objects. The first full collection after they appear
        # walks them all (tens of milliseconds); run it here, off the request path, rather than inside
        # whichever request happens to trigger it. Afterwards they are old and rarely walked again.
        gc.collect()
    except Exception as exc:
        # The lookups load (and fail) on their own and report it where a user sees it; this is a head start.
        logger.debug("preloading genai-prices failed: %s: %s", type(exc).__name__, exc)
    finally:
        with _preload_lock:
            _preload_state = "off"
        _preloaded.set()


def _wait_for_preload() -> None:
    """A lookup during the preload's load waits for it: the data is loaded once, by whoever started first.

    A lookup while the preload still waits for the application's imports takes the load over instead (on its
    own thread, the safe one) rather than waiting for it.
    """
    global _preload_state
    if not _preload_started or _preloaded.is_set():
        return
    with _preload_lock:
        loading = _preload_state == "loading"
        if _preload_state == "waiting":
            _preload_state = "off"
    if loading:
        _preloaded.wait()


@functools.cache
def package_version() -> str:
    return version("genai-prices")


def find_schedule(provider: str, names: Sequence[str]) -> PriceSchedule | None:
    """Prices for the first of ``names`` genai-prices knows under ``provider``.

    An empty ``provider`` lets genai-prices guess the provider from the model name.
    """
    _wait_for_preload()
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
