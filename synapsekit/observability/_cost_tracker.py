"""``CostTracker`` and ``CostRecord``: the cost of every LLM call made through a component."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from synapsekit._core.scope import Scope
from synapsekit.observability._facade import ScopedLLM, shown

if TYPE_CHECKING:
    from synapsekit._core.call import LLMCall

PROMPT_PREVIEW_LENGTH = 100


@dataclass
class CostRecord:
    """One priced LLM call. Costs are USD; they are ``None`` when the model's price is unknown."""

    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    input_cost_usd: float | None
    output_cost_usd: float | None
    total_cost_usd: float | None
    timestamp: datetime
    prompt_preview: str  # first 100 chars


def _as_float(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str):
        raise TypeError(f"currency must be a str such as 'USD', got {shown(currency)}")
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise ValueError(f"currency must be an ISO 4217 code such as 'USD', got {currency!r}")
    return currency.upper()


def _check_rate(currency: str, rate: object) -> float:
    if rate is None:
        if currency == "USD":
            return 1.0
        # Prices are USD; without a rate the only honest display would be dollars, which is not what was
        # asked for. No rate is fetched: synapsekit makes no network access on its own.
        raise ValueError(
            f"currency={currency!r} needs usd_exchange_rate= (how many {currency} one USD buys):"
            " synapsekit prices in USD and converts only for display"
        )
    if isinstance(rate, bool) or not isinstance(rate, int | float | Decimal):
        raise TypeError(f"usd_exchange_rate must be a number, got {shown(rate)}")
    value = float(rate)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"usd_exchange_rate must be a finite number > 0, got {rate!r}")
    if currency == "USD" and value != 1.0:
        raise ValueError(f"usd_exchange_rate must be 1 (or None) for currency='USD', got {rate!r}")
    return value


class _RecordingScope(Scope):
    """Entered for one call through the tracker: knows that call's prompt for the records' preview."""

    __slots__ = ("_prompt", "_tracker")

    def __init__(self, tracker: CostTracker, prompt: str) -> None:
        self._tracker = tracker
        self._prompt = prompt

    def on_end(self, call: LLMCall) -> None:
        if not call.rejected:
            self._tracker._record(call, self._prompt)


class CostTracker(ScopedLLM):
    """Tracks the cost of LLM calls, priced from the bundled genai-prices data and your overrides.

    ``cost_so_far`` is the USD total of the calls whose price is known. A call to a model with no known
    price is still recorded (its costs are ``None``) and counted in :attr:`unknown_cost_calls` — a total is
    never silently low: check that counter, or register the price with ``synapsekit.set_price``.
    ``currency`` only affects :meth:`format_cost`; amounts are always USD. A currency other than USD needs
    ``usd_exchange_rate`` (how many units of it one USD buys): without one it could not be displayed, so
    the tracker refuses to be built rather than show dollars labelled as something else.
    """

    def __init__(self, llm: Any, currency: str = "USD", *, usd_exchange_rate: float | None = None) -> None:
        super().__init__(llm)
        self.currency = _check_currency(currency)
        self._rate = _check_rate(self.currency, usd_exchange_rate)
        self._lock = threading.Lock()
        self._records: list[CostRecord] = []
        self._total = Decimal(0)
        self._unknown = 0

    def _scope_for(self, prompt: str) -> Scope:
        return _RecordingScope(self, prompt)

    def _record(self, call: LLMCall, prompt: str) -> None:
        record = CostRecord(
            model=call.model or "",
            provider=call.provider,
            input_tokens=call.input_tokens or 0,
            output_tokens=call.output_tokens or 0,
            input_cost_usd=_as_float(call.input_cost),
            output_cost_usd=_as_float(call.output_cost),
            total_cost_usd=_as_float(call.cost),
            timestamp=datetime.fromtimestamp(call.start_time, tz=timezone.utc),
            prompt_preview=prompt[:PROMPT_PREVIEW_LENGTH],
        )
        with self._lock:
            self._records.append(record)
            if call.cost is None:
                self._unknown += 1
            else:
                self._total += call.cost

    @property
    def cost_so_far(self) -> float:
        """Estimated cost in USD of the calls with a known price."""
        return float(self._total)

    @property
    def cost_so_far_decimal(self) -> Decimal:
        return self._total

    @property
    def unknown_cost_calls(self) -> int:
        return self._unknown

    @property
    def records(self) -> list[CostRecord]:
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._total = Decimal(0)
            self._unknown = 0

    def format_cost(self, amount_usd: float | None = None) -> str:
        """``amount_usd`` (default: :attr:`cost_so_far`) for display in the tracker's currency."""
        amount = self.cost_so_far if amount_usd is None else amount_usd
        converted = amount * self._rate
        return f"${converted:.6f}" if self.currency == "USD" else f"{converted:.6f} {self.currency}"
