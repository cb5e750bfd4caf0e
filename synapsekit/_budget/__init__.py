"""Budgets that stop spending before it happens: admission by reservation against a pluggable ledger.

Public doors: :func:`synapsekit.budget` (an ambient scope) and
:class:`synapsekit.observability.BudgetGuard` (a facade over one persistent scope), configured by
:class:`BudgetLimit`. See ``docs/budgets.md``.
"""

from __future__ import annotations

from synapsekit._budget.api import budget
from synapsekit._budget.circuit import CircuitState
from synapsekit._budget.events import BudgetEvent, add_budget_listener, remove_budget_listener
from synapsekit._budget.ledger import (
    LEDGER_ENV_VAR,
    Ledger,
    LedgerError,
    MemoryLedger,
    Totals,
    ledger_from_url,
)
from synapsekit._budget.limit import BudgetLimit
from synapsekit._budget.scope import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    BudgetLedgerUnavailable,
    BudgetScope,
    BudgetWarning,
)

__all__ = [
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "LEDGER_ENV_VAR",
    "BudgetEvent",
    "BudgetLedgerUnavailable",
    "BudgetLimit",
    "BudgetScope",
    "BudgetWarning",
    "CircuitState",
    "Ledger",
    "LedgerError",
    "MemoryLedger",
    "Totals",
    "add_budget_listener",
    "budget",
    "ledger_from_url",
    "remove_budget_listener",
]
