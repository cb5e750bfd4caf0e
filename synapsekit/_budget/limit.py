"""``BudgetLimit`` (the spec's dataclass) and the validation every budget door shares.

Limits are validated when they are built, so a typo in a window or a negative amount fails at the line that
wrote it, never inside an LLM call. Money is handled in integer nano-dollars (1e-9 USD) from here on: every
ledger (in memory, SQLite, a Redis Lua script) can add and compare such integers exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Final

WINDOWS: Final = ("session", "hour", "day", "month")
ON_EXCEEDED: Final = ("raise", "warn")
ON_LEDGER_ERROR: Final = ("fail_closed", "fail_open")
ON_UNKNOWN_PRICE: Final = ("admit", "refuse")

NANO_PER_USD: Final = 1_000_000_000
_NANO = Decimal(NANO_PER_USD)


@dataclass
class BudgetLimit:
    """A budget: at most ``max_cost_usd`` (and optionally ``max_tokens``) per ``window``.

    ``window`` is ``"session"`` (as long as the guard or scope object lives), or ``"hour"``, ``"day"``,
    ``"month"``: calendar buckets in UTC that reset at the boundary.
    """

    max_cost_usd: float
    window: str = "session"  # "session", "hour", "day", "month"
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        validate_cost(self.max_cost_usd, required=True)
        validate_window(self.window)
        validate_max_tokens(self.max_tokens)


def validate_cost(value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"max_cost_usd must be a number of US dollars, got {value!r}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"max_cost_usd must be a finite number, got {value!r}")
    elif not math.isfinite(value):
        raise ValueError(f"max_cost_usd must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"max_cost_usd must be >= 0, got {value!r}")


def validate_window(window: object) -> None:
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(map(repr, WINDOWS))}; got {window!r}")


def validate_max_tokens(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_tokens must be an int or None, got {value!r}")
    if value < 0:
        raise ValueError(f"max_tokens must be >= 0, got {value!r}")


def validate_seconds(name: str, value: object) -> float:
    """A positive, finite duration in seconds (``inf`` would mean "never", which no caller wants here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def validate_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def usd_to_decimal(value: float | int | Decimal) -> Decimal:
    """The amount the user wrote: ``0.1`` is exactly one tenth, not the nearest binary float."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def limit_to_nano(value: float | int | Decimal) -> int:
    """A limit in nano-dollars, rounded down: a budget never allows more than it says."""
    return int((usd_to_decimal(value) * _NANO).to_integral_value(ROUND_FLOOR))


def nano_to_usd(nano: int) -> float:
    return nano / NANO_PER_USD
