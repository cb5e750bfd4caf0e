"""``BudgetGuard``: the spec's facade, an LLM whose every call is admitted against one budget."""

from __future__ import annotations

from typing import Any

from synapsekit._budget.circuit import CircuitState
from synapsekit._budget.ledger import Ledger
from synapsekit._budget.limit import ON_EXCEEDED, BudgetLimit, validate_choice
from synapsekit._budget.scope import (
    DEFAULT_CIRCUIT_COOLDOWN_S,
    DEFAULT_MAX_OUTPUT_TOKENS,
    DEFAULT_RESERVATION_TTL_S,
    BudgetScope,
)
from synapsekit._budget.windows import Clock
from synapsekit._core.scope import Scope
from synapsekit.observability._facade import ScopedLLM


class BudgetGuard(ScopedLLM):
    """Enforces a cost budget, raising ``BudgetExceeded`` when the limit is hit.

    ``BudgetGuard(llm, BudgetLimit(max_cost_usd=1.00, window="day"))``; ``await guard.generate(prompt)``.
    One :class:`~synapsekit._budget.scope.BudgetScope` persists across the guard's calls (a ``"session"``
    window lasts as long as the guard), and every LLM call made underneath — by the wrapped component, an
    instrumented SDK, several calls of a pipeline — is admitted against it. ``on_exceeded="warn"`` lets
    calls through with a ``BudgetWarning`` instead. The keyword-only options are those of
    :func:`synapsekit.budget` (a shared ``ledger`` and ``key``, ``on_ledger_error``, ``circuit_cooldown_s``,
    ``on_unknown_price``, ...).
    """

    def __init__(
        self,
        llm: Any,
        limit: BudgetLimit,
        on_exceeded: str = "raise",
        *,
        name: str | None = None,
        ledger: Ledger | str | None = None,
        key: str | None = None,
        on_ledger_error: str = "fail_closed",
        default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
        circuit_cooldown_s: float = DEFAULT_CIRCUIT_COOLDOWN_S,
        on_unknown_price: str = "admit",
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(limit, BudgetLimit):
            raise TypeError(f"limit must be a BudgetLimit, got {limit!r}")
        validate_choice("on_exceeded", on_exceeded, ON_EXCEEDED)
        super().__init__(llm)
        self._limit = limit
        self._budget = BudgetScope(
            limit.max_cost_usd,
            window=limit.window,
            max_tokens=limit.max_tokens,
            on_exceeded=on_exceeded,
            name=name,
            ledger=ledger,
            key=key,
            on_ledger_error=on_ledger_error,
            default_max_output_tokens=default_max_output_tokens,
            reservation_ttl_s=reservation_ttl_s,
            circuit_cooldown_s=circuit_cooldown_s,
            on_unknown_price=on_unknown_price,
            clock=clock,
        )

    def _scope_for(self, prompt: str) -> Scope:
        return self._budget

    @property
    def limit(self) -> BudgetLimit:
        return self._limit

    @property
    def on_exceeded(self) -> str:
        return self._budget.on_exceeded

    @property
    def budget(self) -> BudgetScope:
        """The guard's budget scope (ledger totals, rejections, events)."""
        return self._budget

    @property
    def circuit_state(self) -> CircuitState:
        return self._budget.circuit_state

    @property
    def spent_usd(self) -> float:
        return self._budget.spent_usd

    @property
    def remaining_usd(self) -> float | None:
        return self._budget.remaining_usd

    @property
    def rejections(self) -> int:
        return self._budget.rejections
