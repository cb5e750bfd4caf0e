"""Resolved price tables and the per-call cost arithmetic.

Everything here is plain data built once per (provider, model); pricing a call only indexes into it, so
the hot path never touches the pricing package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

__all__ = (
    "Cost",
    "PriceSchedule",
    "StartDate",
    "TierTable",
    "TimeOfDay",
    "UnitPrices",
    "cost_for",
    "cost_to_nano",
    "fixed_schedule",
    "nano_cost",
    "unit_prices_from_mtok",
    "worst_case_cost",
)

_ZERO = Decimal(0)
_PER_MTOK = Decimal(1_000_000)
_PER_K = Decimal(1_000)
_NANO = Decimal(1_000_000_000)


class Cost(NamedTuple):
    """USD cost of one call. ``input`` includes the cache-read and cache-write parts.

    ``total`` is ``input + output`` plus a per-request fee for the few models that charge one. An immutable
    record built for every priced call: a NamedTuple is built in a fraction of a frozen dataclass's time.
    """

    input: Decimal
    output: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """USD per single token (``request``: per call), with fallbacks already applied.

    A model without a cache-read or cache-write price has ``cached_input``/``cache_write`` equal to
    ``input``; a model without a separate reasoning price has ``reasoning`` equal to ``output``.
    """

    input: Decimal
    output: Decimal
    cached_input: Decimal
    cache_write: Decimal
    reasoning: Decimal
    request: Decimal
    source: str


def unit_prices_from_mtok(
    *,
    input_mtok: Decimal,
    output_mtok: Decimal,
    cached_input_mtok: Decimal | None = None,
    cache_write_mtok: Decimal | None = None,
    reasoning_mtok: Decimal | None = None,
    requests_kcount: Decimal | None = None,
    source: str,
) -> UnitPrices:
    input_price = input_mtok / _PER_MTOK
    output_price = output_mtok / _PER_MTOK
    return UnitPrices(
        input=input_price,
        output=output_price,
        cached_input=input_price if cached_input_mtok is None else cached_input_mtok / _PER_MTOK,
        cache_write=input_price if cache_write_mtok is None else cache_write_mtok / _PER_MTOK,
        reasoning=output_price if reasoning_mtok is None else reasoning_mtok / _PER_MTOK,
        request=_ZERO if requests_kcount is None else requests_kcount / _PER_K,
        source=source,
    )


@dataclass(frozen=True, slots=True)
class TierTable:
    """Prices by prompt size. Crossing a threshold reprices the whole call (the providers' cliff model)."""

    base: UnitPrices
    # (start, prices), highest start first; a tier applies when input tokens exceed its start.
    tiers_desc: tuple[tuple[int, UnitPrices], ...] = ()

    def for_input(self, input_tokens: int) -> UnitPrices:
        for start, prices in self.tiers_desc:
            if input_tokens > start:
                return prices
        return self.base


@dataclass(frozen=True, slots=True)
class StartDate:
    """Active from ``start`` (a UTC calendar date) on."""

    start: date

    def active(self, when: datetime) -> bool:
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
        return when.date() >= self.start


@dataclass(frozen=True, slots=True)
class TimeOfDay:
    """Active daily between two UTC times (off-peak discounts); the window may wrap past midnight."""

    start: time
    end: time

    def active(self, when: datetime) -> bool:
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
        now = when.time()
        if self.end < self.start:
            return now >= self.start or now < self.end
        return self.start <= now < self.end


Constraint = StartDate | TimeOfDay


@dataclass(frozen=True, slots=True)
class PriceSchedule:
    """All prices a model can have: periods in data order, the last active one wins, else the first."""

    periods: tuple[tuple[Constraint | None, TierTable], ...]
    # The prices when they never vary (one period, no tiers), as for most models: read without a call.
    fixed: UnitPrices | None = field(init=False, repr=False, compare=False)

    # Fixed prices' worst-case rates in integers (input, output, request, divisor): a reservation's
    # ceil((input_rate * input_tokens + output_rate * max_output_tokens + request) / divisor) nano-dollars
    # is exactly cost_to_nano(worst_case_cost(...)), without Decimal arithmetic on every reservation.
    worst_case_nano_rates: tuple[int, int, int, int] | None = field(init=False, repr=False, compare=False)
    # Fixed prices' own rates in integers (input, cached input, cache write, output, reasoning, request,
    # divisor): a call's cost_to_nano(cost_for(...).total) is the ceiling of the rates times the token counts
    # (uncached input, cached, written, output less reasoning, reasoning, 1) over the divisor. A budget
    # settles every call with it, without Decimal arithmetic (see nano_cost).
    cost_nano_rates: tuple[int, int, int, int, int, int, int] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        table = self.periods[0][1] if len(self.periods) == 1 else None
        fixed = table.base if table is not None and not table.tiers_desc else None
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "worst_case_nano_rates", None if fixed is None else _integer_rates(fixed))
        object.__setattr__(self, "cost_nano_rates", None if fixed is None else _integer_cost_rates(fixed))

    def prices_for(self, input_tokens: int, when: datetime | None) -> UnitPrices:
        if len(self.periods) == 1:
            return self.periods[0][1].for_input(input_tokens)
        moment = datetime.now(timezone.utc) if when is None else when
        for constraint, table in reversed(self.periods):
            if constraint is None or constraint.active(moment):
                return table.for_input(input_tokens)
        return self.periods[0][1].for_input(input_tokens)


def _integer_rates(prices: UnitPrices) -> tuple[int, int, int, int] | None:
    """Worst-case nano-dollar rates scaled to integers by one power of ten; None for non-finite prices."""
    input_rate, output_rate = _worst_rates(prices)
    return _scaled((input_rate * _NANO, output_rate * _NANO, prices.request * _NANO))  # type: ignore[return-value]


def _scaled(rates: tuple[Decimal, ...]) -> tuple[int, ...] | None:
    """``rates`` times one power of ten that makes them all integers, then that power; None if not finite."""
    if not all(rate.is_finite() for rate in rates):
        return None
    # A finite Decimal times 10**-(its exponent) is an integer: scaling all by the smallest exponent makes
    # each one exact.
    exponent = min(0, *(int(rate.as_tuple().exponent) for rate in rates))
    scaled = [int(rate.scaleb(-exponent)) for rate in rates]
    divisor = 10**-exponent
    # Reduced by their common divisor: the same ceiling of the same fraction, in small integers. A Decimal's
    # exponent is not its least (gpt-4o-mini's input, 0.15 per million, scales to 15e9 over 1e8 rather than 150
    # over 1), and multi-digit integers cost ~2,500 instructions more per budgeted call in the arithmetic.
    common = math.gcd(*scaled, divisor)
    return (*(rate // common for rate in scaled), divisor // common)


def _integer_cost_rates(prices: UnitPrices) -> tuple[int, int, int, int, int, int, int] | None:
    """The nano-dollar rates of :func:`cost_for` in integers (see ``PriceSchedule.cost_nano_rates``)."""
    rates = (
        prices.input,
        prices.cached_input,
        prices.cache_write,
        prices.output,
        prices.reasoning,
        prices.request,
    )
    return _scaled(tuple(rate * _NANO for rate in rates))  # type: ignore[return-value]


def nano_cost(
    rates: tuple[int, int, int, int, int, int, int],
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int,
    cache_creation_input_tokens: int,
    reasoning_tokens: int,
) -> int:
    """``cost_to_nano(cost_for(...).total)`` from a schedule's ``cost_nano_rates``: one integer sum and one
    ceiling division (exact, where Decimal arithmetic is exact: counts within MAX_PLAUSIBLE_TOKENS)."""
    return -(
        -(
            rates[0] * (input_tokens - cached_input_tokens - cache_creation_input_tokens)
            + rates[1] * cached_input_tokens
            + rates[2] * cache_creation_input_tokens
            + rates[3] * (output_tokens - reasoning_tokens)
            + rates[4] * reasoning_tokens
            + rates[5]
        )
        // rates[6]
    )


def _worst_rates(prices: UnitPrices) -> tuple[Decimal, Decimal]:
    """The dearest input rate (a cache write is dearer than plain input at Anthropic) and the dearer of the
    output and reasoning rates."""
    return max(prices.input, prices.cached_input, prices.cache_write), max(prices.output, prices.reasoning)


def worst_case_cost(prices: UnitPrices, input_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a call can cost: every input token and every possible output token at the worst rates."""
    input_rate, output_rate = _worst_rates(prices)
    return input_rate * input_tokens + output_rate * max_output_tokens + prices.request


def cost_to_nano(value: Decimal) -> int:
    """A cost in nano-dollars, rounded up: spend is never under-counted."""
    return int((value * _NANO).to_integral_value(ROUND_CEILING))


_new_tuple = tuple.__new__


def fixed_schedule(prices: UnitPrices) -> PriceSchedule:
    return PriceSchedule(periods=((None, TierTable(base=prices)),))


def cost_for(
    prices: UnitPrices,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int,
    cache_creation_input_tokens: int,
    reasoning_tokens: int,
) -> Cost:
    """Price one call; token counts follow the OpenTelemetry GenAI convention (totals include parts)."""
    uncached = input_tokens - cached_input_tokens - cache_creation_input_tokens
    input_cost = prices.input * uncached
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
    return _new_tuple(Cost, (input_cost, output_cost, total))  # Cost(...), built in C: every priced call
