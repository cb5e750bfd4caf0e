"""The one exception synapsekit raises on purpose."""

from __future__ import annotations


class BudgetExceeded(Exception):
    """A budget stopped an LLM call before (or while) it spent money.

    ``spent`` and ``limit`` are in the limit's unit: USD for a cost limit, tokens for a token limit.
    ``limit_kind`` names the limit that refused (``"cost"`` or ``"tokens"``) and :attr:`unit` its unit
    (``"USD"`` or ``"tokens"``); the message says it too. ``window`` is the budget window (``"session"``,
    ``"hour"``, ``"day"``, ``"month"``).
    """

    def __init__(
        self,
        message: str,
        *,
        spent: float,
        limit: float,
        limit_kind: str = "cost",
        window: str = "session",
        budget_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.spent = spent
        self.limit = limit
        self.limit_kind = limit_kind
        self.window = window
        self.budget_name = budget_name

    @property
    def unit(self) -> str:
        """The unit of :attr:`spent` and :attr:`limit`: ``"USD"`` or ``"tokens"``."""
        return "tokens" if self.limit_kind == "tokens" else "USD"
